"""Crash and hang reports (docs/debugging.md): a deliberately faulting firmware is
reported with the faulting function and file:line; a hung one with its registers
and gdb's backtrace; both with the last AT and console lines."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pysim import cli, postmortem
from pysim.contract import FirmwareContract
from pysim.session import Session, SessionOptions
from pysim.uart import UartRecord

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"
CRASH_LINE = 21  # firmware/app/crash/main.c: `return sum / count;`


def test_fault_line_and_uart_lines_are_parsed():
    line = ("FAULT HardFault exception=0x00000003 pc=0x08000138 lr=0x0800017d sp=0x20001ff0 xpsr=0x21000000 "
            "r0=0x00000000 cfsr=0x02000000")
    exception, registers = postmortem.parse_fault_line(["BOOT x", line])
    assert exception == "HardFault" and registers["pc"] == 0x08000138 and "exception" not in registers
    assert postmortem.fault_causes(registers["cfsr"]) == ["DIVBYZERO"]
    assert postmortem.parse_fault_line(["FAULT nothing here"]) is None
    records = [UartRecord(0, "TE->TA", b"AT\r"), UartRecord(0, "TA->TE", b"\r\nO"), UartRecord(0, "TA->TE", b"K\r\n"),
               UartRecord(0, "TE->TA", b"AT+IMQ")]
    assert postmortem.at_lines(records) == ["TE->TA AT", "TA->TE OK", "TE->TA AT+IMQ"]


@pytest.mark.parametrize("board", ["netduinoplus2", "stm32vldiscovery"])
async def test_crash_report_names_the_faulting_function_and_line(firmware_elf, tmp_path, board):
    session = Session(SessionOptions(firmware=firmware_elf("crash", board), board=board, workdir=tmp_path))
    try:
        await session.start()
        code = await session.wait_exit(20)
        assert code == 99
        assert postmortem.wanted(code, session.console_lines, session.emulator.output)
        report = await session.postmortem(f"firmware exited with {code}")
    finally:
        await session.stop()
    assert report.kind == "fault" and report.exception == "HardFault"
    pc, lr = report.frames
    assert (pc.function, pc.location) == ("average", f"app/crash/main.c:{CRASH_LINE}")
    assert lr.function == "main" and lr.location.startswith("app/crash/main.c:")
    text = report.text()
    assert f"in average at app/crash/main.c:{CRASH_LINE}" in text and "DIVBYZERO" in text
    assert "BOOT crash" in report.console_lines


@pytest.mark.skipif(shutil.which("gdb-multiarch") is None, reason="needs gdb-multiarch")
async def test_hang_report_has_registers_backtrace_and_at_lines(firmware_elf, tmp_path):
    """uart_echo waits for input forever: a hang once the run's time is up."""
    session = Session(SessionOptions(firmware=firmware_elf("uart_echo"), workdir=tmp_path,
                                     contract=FirmwareContract.of(ready="console:^BOOT uart-echo")))
    try:
        await session.start()
        session.emulator.uart.writer.write(b"HELLO\r")  # echoed back, straight to the module
        await session.link.wait_for("TE->TA", b"HELLO\r", 10)
        assert await session.wait_exit(0.2) is None  # still running: a hang by this test's timeout
        report = await session.postmortem("timed out after 0.2 s")
    finally:
        await session.stop()
    assert report.kind == "hang" and {"pc", "lr", "sp"} <= set(report.registers), report.text()
    # where it was: idle, reading, or still finishing the echo (timing), a function of the ELF by name
    assert report.frames[0].function in {"bsp_idle", "main", "bsp_link_read", "bsp_link_write", "uart_write",
                                         "bsp_console_write"}, report.text()
    assert any(re.search(r"\bmain \(\) at app/uart_echo/main\.c:\d+", line) for line in report.backtrace), \
        report.text()
    assert "TE->TA HELLO" in report.at_lines


def test_pysim_run_prints_the_crash_report(firmware_elf, capsys):
    code = cli.main(["run", "--quiet", "--firmware", str(firmware_elf("crash")), "--timeout", "20"])
    captured = capsys.readouterr()
    assert code == cli.EXIT_SCENARIO_FAILED
    assert "firmware exit code: 99" in captured.out
    assert "pc 0x" in captured.out and f"in average at app/crash/main.c:{CRASH_LINE}" in captured.out
    assert captured.err.strip() == "pysim run: FAIL: the firmware exited with 99"


async def test_crash_report_without_a_console(tmp_path):
    """No console: the FAULT line goes out through semihosting into QEMU's output."""
    build = tmp_path / "build"
    result = subprocess.run(["make", "-s", "-C", str(FIRMWARE), "APP=crash", "CONSOLE_UART=0", f"BUILD={build}"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    session = Session(SessionOptions(firmware=build / "netduinoplus2" / "crash.elf", workdir=tmp_path,
                                     contract=FirmwareContract.of(console_uart="none", ready="now")))
    try:
        await session.start()
        assert session.emulator.console is None
        assert await session.wait_exit(20) == 99
        report = await session.postmortem("firmware exited with 99")
    finally:
        await session.stop()
    assert report.kind == "fault" and report.console_lines == []
    assert (report.frames[0].function, report.frames[0].location) == ("average", f"app/crash/main.c:{CRASH_LINE}")
