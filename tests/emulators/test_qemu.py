"""The emulator backends and the UART link against the real uart_echo firmware.

The backend-generic tests take ``echo_emulator``/``fresh_emulator`` and run on QEMU and
on Renode; the rest are about QEMU's process and command line."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from pysim.emulators import EmulatorError, QemuEmulator, get_emulator
from pysim.trace import TraceWriter
from pysim.uart import TA_TO_TE, TE_TO_TA, UartLink

pytestmark = [pytest.mark.qemu, pytest.mark.asyncio(loop_scope="module")]


class FakeModule:
    """The module side as the link sees it: ``feed`` and ``on_output``."""

    def __init__(self) -> None:
        self.fed = bytearray()
        self.on_output = None

    def feed(self, data: bytes) -> None:
        self.fed += data

    def send(self, data: bytes) -> None:
        self.on_output(data)


def process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def test_boot_line_on_console(echo_emulator, boot_line):
    assert echo_emulator.console.lines[0] == boot_line
    assert echo_emulator.pid and not process_gone(echo_emulator.pid)


async def test_bytes_round_trip_through_link_with_trace(echo_emulator):
    lines: list[str] = []
    trace = TraceWriter(lines.append)
    module = FakeModule()
    link = UartLink()
    link.listeners.append(trace.uart)
    await link.start(echo_emulator.uart, module)
    try:
        module.send(b'AT+IMQTTPUB="/a/b",1,"hi"\r')
        await link.wait_for(TE_TO_TA, b'AT+IMQTTPUB="/a/b",1,"hi"\r', timeout=10)
        module.send(bytes(range(256)))  # binary bytes pass unchanged
        await link.wait_for(TE_TO_TA, bytes(range(256)), timeout=10)
    finally:
        await link.stop()
        trace.flush()
    assert bytes(module.fed) == b'AT+IMQTTPUB="/a/b",1,"hi"\r' + bytes(range(256))
    assert {r.direction for r in link.records} == {TE_TO_TA, TA_TO_TE}
    assert link.delivered(TA_TO_TE) == link.delivered(TE_TO_TA)
    assert any(line.endswith('TA->TE AT+IMQTTPUB="/a/b",1,"hi"\\r') for line in lines), lines
    assert any(line.endswith('TE->TA AT+IMQTTPUB="/a/b",1,"hi"\\r') for line in lines), lines
    assert any("\\x00\\x01" in line for line in lines), lines


async def test_pacing_at_115200_baud_takes_the_wire_time(echo_emulator, backend):
    baud, count = 115200, 11520
    wire_time = count * 10 / baud  # 1.0 s
    module = FakeModule()
    link = UartLink(baud)
    await link.start(echo_emulator.uart, module)
    try:
        t0 = time.monotonic()
        module.send(b"U" * count)
        await link.wait_for(TA_TO_TE, b"U" * count, timeout=10)
        sent = time.monotonic() - t0
        await link.wait_for(TE_TO_TA, b"U" * count, timeout=30)
        echoed = time.monotonic() - t0
    finally:
        await link.stop()
    # no byte may leave before the wire could have carried it: at every delivery, the bytes
    # delivered so far fit in the time since the start (one 1 ms slice of slack)
    assert wire_time <= sent and wire_time <= echoed, (sent, echoed)
    ta_records = [r for r in link.records if r.direction == TA_TO_TE]
    delivered = 0
    for record in ta_records:
        delivered += len(record.data)
        assert delivered <= (record.t - t0) * baud / 10 + baud / 10 / 1000 + 1, (delivered, record.t - t0)
    # only against a pacer that drifts far behind the wire (e.g. a sleep per byte: > 10 s);
    # a tighter bound would measure the host's load, not the pacer
    assert sent < 10 * wire_time, sent
    assert len(ta_records) > 10, "paced bytes should leave in many small pieces"


async def test_exit_code_is_the_verdict(fresh_emulator, backend):
    emu = fresh_emulator
    emu.uart.writer.write(b"EXIT 7\r")
    assert await emu.wait_exit(timeout=30) == 7   # semihosting SYS_EXIT_EXTENDED
    if backend == "qemu":
        assert emu.returncode == 7   # QEMU ends with it; Renode's hook reports it and runs on
    pid = emu.pid
    await emu.stop()
    assert emu.returncode is not None and process_gone(pid)


async def test_wait_exit_times_out_with_none(echo_emulator):
    assert await echo_emulator.wait_exit(timeout=0.2) is None


async def test_stop_leaves_no_process(uart_echo_elf, boot_line):
    emu = QemuEmulator()
    await emu.start(uart_echo_elf)
    await emu.console.wait_for_line(boot_line, timeout=20)
    pid = emu.pid
    await emu.stop()
    await emu.stop()  # idempotent
    assert emu.returncode is not None
    assert process_gone(pid)


async def test_stop_kills_when_sigterm_is_ignored(uart_echo_elf, boot_line):
    emu = QemuEmulator(stop_grace=0.5)
    await emu.start(uart_echo_elf)
    await emu.console.wait_for_line(boot_line, timeout=20)
    os.kill(emu.pid, signal.SIGSTOP)  # a stopped process does not act on SIGTERM
    await emu.stop()
    assert emu.returncode == -signal.SIGKILL
    assert process_gone(emu.pid)


async def test_killing_one_qemu_does_not_affect_another(uart_echo_elf, boot_line):
    async with QemuEmulator() as first, QemuEmulator() as second:
        await asyncio.gather(first.start(uart_echo_elf), second.start(uart_echo_elf))
        await first.console.wait_for_line(boot_line, timeout=20)
        await second.console.wait_for_line(boot_line, timeout=20)
        os.kill(first.pid, signal.SIGKILL)
        assert await first.wait_exit(timeout=10) == -signal.SIGKILL
        second.uart.writer.write(b"still here\r")
        assert await asyncio.wait_for(second.uart.reader.readexactly(11), 10) == b"still here\r"
        second.uart.writer.write(b"EXIT 3\r")
        assert await second.wait_exit(timeout=10) == 3


async def test_start_failure_reports_qemu_stderr(uart_echo_elf):
    emu = get_emulator("qemu", extra_args=("-no-such-option",))
    with pytest.raises(EmulatorError, match="(?s)qemu exited with code 1.*no-such-option"):
        await emu.start(uart_echo_elf)
    assert emu.returncode == 1 and process_gone(emu.pid)
