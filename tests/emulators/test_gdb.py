"""A debugger on the firmware in the co-simulation (docs/debugging.md): gdb-multiarch
in batch mode against the emulator's GDB server (QEMU's and Renode's), through the
pytest plugin's marker."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from pysim.contract import FirmwareContract

ROOT = Path(__file__).resolve().parents[2]
GDB = shutil.which("gdb-multiarch")
SWAPPED = FirmwareContract.of(at_uart="USART2", console_uart="USART1", ready="at-byte",
                              verdict=r"console:^RESULT (?P<result>\w+)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PORT = free_port()
pytestmark = pytest.mark.skipif(GDB is None or shutil.which("qemu-system-arm") is None,
                                reason="needs gdb-multiarch and qemu-system-arm (`make deps` installs them)")


@pytest.fixture(scope="module")
def at_swap_elf() -> Path:
    subprocess.run(["make", "-s", "-C", str(ROOT / "firmware"), "APP=at_swap"], check=True, capture_output=True)
    return ROOT / "firmware" / "build" / "netduinoplus2" / "at_swap.elf"


def gdb_batch(elf: Path, port: int, *commands: str, connect_timeout: int = 30) -> list[str]:
    argv = [GDB, "-q", "-nx", "-batch", str(elf), "-ex", f"set tcp connect-timeout {connect_timeout}",
            "-ex", f"target remote 127.0.0.1:{port}"]
    for command in commands:
        argv += ["-ex", command]
    return argv


@pytest.mark.pysim_gdb(PORT, wait=True)
async def test_breakpoint_variable_continue_and_the_run_passes(mcu_session, at_swap_elf, backend):
    # Renode under mono may take many seconds to open its GDB server on a loaded machine
    patience = 30 if backend == "qemu" else 150
    gdb = await asyncio.create_subprocess_exec(
        *gdb_batch(at_swap_elf, PORT, "break got_ok", "continue", "print tries", "bt", "delete", "detach",
                   connect_timeout=patience),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        # held at reset until gdb continues: the session is ready at the firmware's first AT byte
        session = await mcu_session(firmware=at_swap_elf, contract=SWAPPED, emulator=backend)
        output = (await asyncio.wait_for(gdb.communicate(), patience))[0].decode()
    finally:
        if gdb.returncode is None:
            gdb.kill()
            await gdb.wait()
    assert gdb.returncode == 0, output
    assert "Breakpoint 1, got_ok" in output, output
    assert "$1 = 1" in output, output  # the first "AT" went out
    assert "main ()" in output, output  # backtrace: got_ok called from main
    assert await session.wait_exit(20) == 0
    assert "RESULT PASS" in session.console_lines


async def test_gdb_server_without_waiting(mcu_session, at_swap_elf):
    """--gdb without --gdb-wait: the firmware runs at once; gdb can attach later."""
    port = free_port()
    session = await mcu_session(firmware=at_swap_elf, contract=SWAPPED, gdb_port=port)
    assert await session.wait_exit(20) == 0
    result = await asyncio.create_subprocess_exec(*gdb_batch(at_swap_elf, port, "print tries", "detach"),
                                                  stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output = (await asyncio.wait_for(result.communicate(), 60))[0].decode()
    assert "$1 = 1" in output, output
