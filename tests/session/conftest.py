"""Firmware-in-QEMU tests: need qemu-system-arm and the firmware toolchain."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

MISSING = [tool for tool in ("qemu-system-arm", "arm-none-eabi-gcc") if shutil.which(tool) is None]


def pytest_collection_modifyitems(items):
    if MISSING:
        skip = pytest.mark.skip(reason=f"needs {', '.join(MISSING)}: `make deps` installs them (Debian)")
        for item in items:
            if str(item.fspath).startswith(str(Path(__file__).parent)):
                item.add_marker(skip)


@pytest.fixture(scope="session")
def demo_elf() -> Path:
    subprocess.run(["make", "-s", "-C", str(ROOT / "firmware"), "build/demo.elf"], check=True)
    return ROOT / "firmware" / "build" / "demo.elf"


@pytest.fixture(scope="session")
def firmware_variant(tmp_path_factory):
    """Build the demo with other make variables into its own directory: ``variant(SECRET="x")``."""
    made: dict[tuple, Path] = {}

    def build(**variables: str) -> Path:
        key = tuple(sorted(variables.items()))
        if key not in made:
            out = tmp_path_factory.mktemp("fw")
            args = [f"{k}={v}" for k, v in key]
            subprocess.run(["make", "-s", "-C", str(ROOT / "firmware"), f"BUILD={out}", *args,
                            f"{out}/demo.elf"], check=True)
            made[key] = out / "demo.elf"
        return made[key]

    return build
