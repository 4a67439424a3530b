"""What the Renode backend adds to the generic emulator interface (virtual time, pausing,
stepping, registers, monitor commands), against the real uart_echo firmware. Skipped
without Renode. The generic tests run on Renode too: test_qemu.py (boot, UART, pacing,
exit code), test_gdb.py (gdb-multiarch in batch mode)."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest

from pysim.emulators import RenodeEmulator
from pysim.emulators.renode_control import RenodeCommandError

pytestmark = [
    pytest.mark.renode,
    pytest.mark.skipif(not RenodeEmulator.available(), reason=str(RenodeEmulator.why_unavailable())),
]
AT_SCRIPT = ["AT", "AT+GMR", 'AT+IMQTTAUTH="pk","dn","secret"', "AT+IMQTTCONN"]
QUANTUM = 0.005  # s of virtual time the firmware gets for each line


def elf_entry(elf: Path) -> int:
    return struct.unpack_from("<I", elf.read_bytes(), 24)[0] & ~1  # e_entry without the Thumb bit


async def at_trace(elf: Path) -> list[tuple[float, str, float]]:
    """Feed AT_SCRIPT to a machine that runs only in QUANTUM steps of virtual time:
    (virtual time written, line echoed, virtual time of the echo) for each line."""
    async with RenodeEmulator(start_paused=True) as emu:
        await emu.start(elf)
        await emu.watch_uart("uart")
        await emu.run_for(0.01)  # boot
        trace = []
        for line in AT_SCRIPT:
            written = await emu.virtual_time()
            await emu.write_uart(line + "\n")
            await emu.run_for(QUANTUM)
            echo = await emu.wait_uart_line(re.escape(line))
            trace.append((written, echo.text, echo.virtual_time))
        return trace


async def test_virtual_time_of_an_at_exchange_is_the_same_on_every_run(uart_echo_elf):
    first = await at_trace(uart_echo_elf)
    second = await at_trace(uart_echo_elf)
    assert first == second
    assert [text for _, text, _ in first] == AT_SCRIPT
    for written, _, echoed in first:
        assert written < echoed <= written + QUANTUM  # echoed after it was written, within the quantum
    assert [written for written, _, _ in first] == pytest.approx([0.01 + i * QUANTUM for i in range(len(AT_SCRIPT))])


async def test_pause_step_run_for_and_resume(uart_echo_elf, boot_line):
    async with RenodeEmulator(start_paused=True) as emu:
        await emu.start(uart_echo_elf)
        entry = elf_entry(uart_echo_elf)
        after_one = await emu.step()  # the first instruction of the reset handler
        assert entry < after_one <= entry + 4 and await emu.pc() == after_one
        registers = await emu.registers()   # what crash and hang reports read
        assert registers["pc"] == after_one and set(registers) >= {"r0", "r12", "sp", "lr", "xpsr"}
        assert after_one < await emu.step(3) <= after_one + 12
        assert await emu.virtual_time() == 0
        assert emu.console.lines == []  # nothing ran but those four instructions

        await emu.watch_uart("console")
        await emu.resume()
        boot = await emu.wait_uart_line(boot_line, timeout=10, which="console")
        await emu.pause()
        paused_at = await emu.virtual_time()
        assert boot.text == boot_line and boot.virtual_time <= paused_at
        await emu.write_uart("PAUSED\n")
        await emu.console.wait_for_line(boot_line, timeout=10)  # a host round trip while paused
        assert await emu.virtual_time() == paused_at
        await emu.run_for(0.02)
        echo = await emu.wait_uart_line("PAUSED")
        assert paused_at < echo.virtual_time <= paused_at + 0.02
        assert await emu.virtual_time() == pytest.approx(paused_at + 0.02, abs=1e-6)
        # a bad monitor command fails with Renode's own message
        with pytest.raises(RenodeCommandError, match="No such command or device: nosuchcommand"):
            await emu.execute("nosuchcommand")


