"""Crash and hang reports: where the firmware was when it faulted or a run timed out.

* A fault: the BSP's fault handler prints one line (docs/debugging.md)
  ``FAULT <exception> pc=0x... lr=0x... sp=0x... ...`` on the console, or on the
  emulator's output through semihosting when there is no console. Its registers
  are the interrupted code's (the exception frame).
* A hang (the run timed out, the firmware still runs): the emulator's registers
  now (QEMU: the HMP monitor's ``info registers``), and a full backtrace from
  ``gdb-multiarch`` attached to a GDB server opened for it.

PC and LR are symbolized with ``arm-none-eabi-addr2line`` (function, file:line);
the report ends with the last AT lines (both ways) and console lines.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

if TYPE_CHECKING:
    from pysim.emulators.base import Emulator
    from pysim.uart import UartRecord

ADDR2LINE = "arm-none-eabi-addr2line"
GDB = "gdb-multiarch"
TAIL = 10  # AT and console lines in a report
TOOL_TIMEOUT = 20.0
FAULT_LINE = re.compile(r"^FAULT (?P<exception>\S+)(?P<fields>(?: \w+=0x[0-9a-fA-F]+)+)\s*$")
_FIELD = re.compile(r"(\w+)=0x([0-9a-fA-F]+)")
_ORDER = ("pc", "lr", "sp", "xpsr", "r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12",
          "cfsr", "hfsr", "mmfar", "bfar")


# CFSR bits (ARMv7-M ARM B3.2.15): MemManage, BusFault and UsageFault causes
CFSR_BITS = {0: "IACCVIOL", 1: "DACCVIOL", 3: "MUNSTKERR", 4: "MSTKERR", 5: "MLSPERR", 7: "MMARVALID",
             8: "IBUSERR", 9: "PRECISERR", 10: "IMPRECISERR", 11: "UNSTKERR", 12: "STKERR", 13: "LSPERR",
             15: "BFARVALID", 16: "UNDEFINSTR", 17: "INVSTATE", 18: "INVPC", 19: "NOCP", 24: "UNALIGNED",
             25: "DIVBYZERO"}


def fault_causes(cfsr: int) -> list[str]:
    """The names of the bits set in a CFSR value, e.g. ``["DIVBYZERO"]``."""
    return [name for bit, name in CFSR_BITS.items() if cfsr >> bit & 1]


@dataclass(frozen=True)
class Frame:
    role: str  # "pc" or "lr"
    address: int  # the register's value (Thumb bit cleared)
    function: str  # "??" when unknown
    location: str  # "file.c:12" or "??:0"

    def __str__(self) -> str:
        return f"{self.role} 0x{self.address:08x} in {self.function} at {self.location}"


@dataclass
class Report:
    kind: str  # "fault" | "hang"
    reason: str
    exception: str | None = None
    registers: dict[str, int] = field(default_factory=dict)
    frames: list[Frame] = field(default_factory=list)  # PC then LR, symbolized
    backtrace: list[str] = field(default_factory=list)  # gdb's `bt` lines, when available
    at_lines: list[str] = field(default_factory=list)
    console_lines: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what could not be collected, and why

    def text(self) -> str:
        head = f"firmware {'FAULT' if self.kind == 'fault' else 'HANG'}: {self.reason}"
        if self.exception:
            causes = fault_causes(self.registers.get("cfsr", 0))
            head += f" ({self.exception}{': ' + ', '.join(causes) if causes else ''})"
        out = [head]
        if self.frames:
            out.append("where:")
            out += [f"  {frame}" for frame in self.frames]
        if self.backtrace:
            out.append("backtrace (gdb):")
            out += [f"  {line}" for line in self.backtrace]
        if self.registers:
            names = [n for n in _ORDER if n in self.registers] + sorted(set(self.registers) - set(_ORDER))
            regs = [f"{n}=0x{self.registers[n]:08x}" for n in names]
            out.append("registers:")
            out += ["  " + " ".join(regs[i:i + 6]) for i in range(0, len(regs), 6)]
        out.append(f"last AT lines ({len(self.at_lines)}):")
        out += [f"  {line}" for line in self.at_lines] or ["  (none)"]
        out.append(f"last console lines ({len(self.console_lines)}):")
        out += [f"  {line}" for line in self.console_lines] or ["  (none)"]
        out += [f"note: {note}" for note in self.notes]
        return "\n".join(out)


def wanted(exit_code: int | None, console_lines: Sequence[str], output: str) -> bool:
    """Whether a run's end calls for a report: it timed out, or the firmware faulted."""
    from pysim.emulators.base import FAULT_EXIT_CODE
    return (exit_code is None or exit_code == FAULT_EXIT_CODE
            or parse_fault_line(list(console_lines) + output.splitlines()) is not None)


def parse_fault_line(lines: Iterable[str]) -> tuple[str, dict[str, int]] | None:
    """The exception name and registers of the last ``FAULT`` line, if any."""
    found = None
    for line in lines:
        m = FAULT_LINE.match(line.strip())
        if m:
            fields = {k: int(v, 16) for k, v in _FIELD.findall(m.group("fields"))}
            fields.pop("exception", None)
            found = (m.group("exception"), fields)
    return found


async def symbolize(elf: Path, registers: dict[str, int]) -> tuple[list[Frame], list[str]]:
    """PC and LR as frames (function, file:line) through addr2line; and notes."""
    wanted = []  # (role, value, address to look up)
    if "pc" in registers:
        wanted.append(("pc", registers["pc"] & ~1, registers["pc"] & ~1))
    lr = registers.get("lr")
    if lr is not None and lr < 0xF0000000:  # not an EXC_RETURN value
        wanted.append(("lr", lr & ~1, (lr & ~1) - 1))  # inside the call instruction: the caller's line
    if not wanted:
        return [], []
    tool = shutil.which(ADDR2LINE)
    if tool is None:
        return [Frame(role, value, "??", "??:0") for role, value, _ in wanted], \
            [f"{ADDR2LINE} is not installed (apt-get install binutils-arm-none-eabi): addresses not symbolized"]
    proc = await asyncio.create_subprocess_exec(tool, "-a", "-f", "-e", str(elf), *(hex(a) for _, _, a in wanted),
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), TOOL_TIMEOUT)
    lines = out.decode().splitlines()
    frames = []
    for i, (role, value, _) in enumerate(wanted):
        function, location = (lines[3 * i + 1:3 * i + 3] + ["??", "??:0"])[:2]
        frames.append(Frame(role, value, function, _short(location)))
    return frames, ([f"addr2line: {err.decode().strip()}"] if proc.returncode else [])


def _short(location: str) -> str:
    """``/abs/path/firmware/app/crash/main.c:19 (discriminator 1)`` -> ``app/crash/main.c:19``."""
    location = location.split(" (")[0]
    path, _, line = location.rpartition(":")
    parts = Path(path).parts
    if "firmware" in parts:
        path = "/".join(parts[len(parts) - parts[::-1].index("firmware"):])
    return f"{path}:{line}"


async def gdb_backtrace(elf: Path, port: int) -> tuple[list[str], list[str]]:
    """``bt`` of the running firmware through a GDB server on ``port``; and notes."""
    tool = shutil.which(GDB)
    if tool is None:
        return [], [f"{GDB} is not installed (apt-get install gdb-multiarch): no full backtrace"]
    proc = await asyncio.create_subprocess_exec(
        tool, "-q", "-nx", "-batch", str(elf), "-ex", "set tcp connect-timeout 10",
        "-ex", f"target remote 127.0.0.1:{port}", "-ex", "bt", "-ex", "detach",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        out = (await asyncio.wait_for(proc.communicate(), TOOL_TIMEOUT))[0].decode("utf-8", "replace")
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        return [], [f"{GDB} did not answer within {TOOL_TIMEOUT:g} s"]
    frames = [line.strip() for line in out.splitlines() if re.match(r"^#\d+\s", line)]
    return frames, ([] if frames else [f"{GDB} gave no backtrace: {out.strip()[-200:]}"])


def at_lines(records: Sequence["UartRecord"], count: int = TAIL) -> list[str]:
    """The last ``count`` AT lines, each with its direction (TE->TA: firmware to module)."""
    lines: list[str] = []
    partial: dict[str, str] = {}
    for record in records:
        text = partial.get(record.direction, "") + record.data.decode("latin-1")
        *complete, partial[record.direction] = re.split(r"\r\n|\r|\n", text)
        lines += [f"{record.direction} {line}" for line in complete if line]
    lines += [f"{direction} {rest}" for direction, rest in partial.items() if rest]
    return lines[-count:]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def collect(emulator: "Emulator", elf: Path, reason: str, records: Sequence["UartRecord"],
                  console_lines: Sequence[str]) -> Report:
    """A report of where the firmware is (or was, if it faulted). Call before stopping
    the emulator."""
    fault = parse_fault_line(list(console_lines) + emulator.output.splitlines())
    report = Report("fault" if fault else "hang", reason, at_lines=at_lines(records),
                    console_lines=list(console_lines)[-TAIL:])
    if fault:
        report.exception, report.registers = fault
    elif emulator.returncode is None:
        try:
            report.registers = await emulator.registers()
        except Exception as error:  # a backend without it, or a dying process
            report.notes.append(f"no registers: {error}")
        if emulator.gdb_port is None:  # a user's debugger may be on the configured one
            try:
                port = _free_port()
                await emulator.open_gdb_server(port)
                report.backtrace, notes = await gdb_backtrace(elf, port)
                report.notes += notes
            except Exception as error:
                report.notes.append(f"no backtrace: {error}")
    else:
        report.notes.append(f"the emulator ended (code {emulator.returncode}) without a FAULT line: "
                            "no registers")
    report.frames, notes = await symbolize(elf, report.registers)
    report.notes += notes
    return report
