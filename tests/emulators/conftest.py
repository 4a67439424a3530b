"""Fixtures for the emulator tests: the uart_echo firmware and a started QEMU."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from pysim.emulators import QemuEmulator

FIRMWARE_DIR = Path(__file__).resolve().parents[2] / "firmware"
BOOT_LINE = "BOOT uart-echo"


@pytest.fixture(scope="session")
def uart_echo_elf() -> Path:
    """firmware/build/uart_echo.elf, built once per session."""
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("arm-none-eabi-gcc is not installed: apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi")
    result = subprocess.run(["make", "-C", str(FIRMWARE_DIR), "build/uart_echo.elf"], capture_output=True, text=True)
    assert result.returncode == 0, f"firmware build failed:\n{result.stdout}\n{result.stderr}"
    return FIRMWARE_DIR / "build" / "uart_echo.elf"


@pytest.fixture
def boot_line() -> str:
    """The console line uart_echo prints first."""
    return BOOT_LINE


@pytest.fixture
async def qemu(uart_echo_elf: Path):
    """A QEMU running uart_echo that has printed its boot line."""
    async with QemuEmulator() as emu:
        await emu.start(uart_echo_elf)
        await emu.console.wait_for_line(BOOT_LINE, timeout=20)
        yield emu
