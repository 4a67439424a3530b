"""Fixtures for the emulator tests: the uart_echo firmware and a started emulator of
each backend (the backend-generic tests run on QEMU and on Renode)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import pytest_asyncio

from pysim.emulators import QemuEmulator, get_emulator

FIRMWARE_DIR = Path(__file__).resolve().parents[2] / "firmware"
BOOT_LINE = "BOOT uart-echo"


def new_emulator(backend: str):
    """A not yet started emulator of ``backend`` (each has start-up timeouts fit for it)."""
    return get_emulator(backend)


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


@pytest_asyncio.fixture(loop_scope="module")
async def qemu(uart_echo_elf: Path):
    """A QEMU running uart_echo that has printed its boot line."""
    async with QemuEmulator() as emu:
        await emu.start(uart_echo_elf)
        await emu.console.wait_for_line(BOOT_LINE, timeout=20)
        yield emu


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def _shared():
    """Emulators shared by a module's tests, started on first use, stopped at its end."""
    shared: dict[str, object] = {}
    yield shared
    for emu in shared.values():
        await emu.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def echo_emulator(backend: str, uart_echo_elf: Path, _shared: dict):
    """uart_echo running in ``backend``, boot line printed: a fresh QEMU for each test, one
    Renode shared by the module's tests, as it starts slowly and uart_echo keeps no state
    (use ``fresh_emulator`` to end the firmware)."""
    if backend == "renode":
        if backend not in _shared:
            emu = _shared[backend] = new_emulator(backend)
            await emu.start(uart_echo_elf)
            await emu.console.wait_for_line(BOOT_LINE, timeout=60)
        yield _shared[backend]
        return
    async with new_emulator(backend) as emu:
        await emu.start(uart_echo_elf)
        await emu.console.wait_for_line(BOOT_LINE, timeout=20)
        yield emu


@pytest_asyncio.fixture(loop_scope="module")
async def fresh_emulator(backend: str, uart_echo_elf: Path):
    """uart_echo in a new emulator of ``backend`` that this test alone uses (boot line printed)."""
    async with new_emulator(backend) as emu:
        await emu.start(uart_echo_elf)
        await emu.console.wait_for_line(BOOT_LINE, timeout=60)
        yield emu
