"""Fixtures for the firmware tests: ELFs built by firmware/Makefile for any board."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"
TOOLS_MISSING = [tool for tool in ("qemu-system-arm", "arm-none-eabi-gcc") if shutil.which(tool) is None]


@pytest.fixture(scope="session")
def firmware_elf():
    """``firmware_elf(app, board)``: ``make -C firmware APP=app BOARD=board``, once per session."""
    if TOOLS_MISSING:
        pytest.skip(f"needs {', '.join(TOOLS_MISSING)}: `make deps` installs them (Debian)")
    built: dict[tuple[str, str], Path] = {}

    def build(app: str, board: str = "netduinoplus2") -> Path:
        if (app, board) not in built:
            result = subprocess.run(["make", "-s", "-C", str(FIRMWARE), f"APP={app}", f"BOARD={board}"],
                                    capture_output=True, text=True)
            assert result.returncode == 0, f"firmware build failed:\n{result.stdout}\n{result.stderr}"
            built[app, board] = FIRMWARE / "build" / board / f"{app}.elf"
        return built[app, board]

    return build
