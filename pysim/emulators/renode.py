"""Renode backend: runs the board's ``.resc`` headless, driven through Renode's robot server.

Renode is started with ``--robot-server-port`` (see ``renode_control``): the harness
runs the generated start-up script through it and, while the firmware runs, any
monitor command (``execute``). Renode's ``CreateServerSocketTerminal`` makes Renode
the server of the two serial ports, so this backend picks free ports, hands them
to the script and connects once Renode listens.

What Renode has and QEMU has not, exposed here: virtual time that only the emulated
instructions advance (``virtual_time``, ``run_for``; a run from a paused start is the
same on every run), pausing the machine (``pause``/``resume``), stepping the CPU
(``step``, ``pc``), and UART lines stamped with the virtual time they were sent at
(``watch_uart``/``wait_uart_line``).

Renode does not implement ARM semihosting: a ``bkpt 0xAB`` is a no-op there. So the
backend finds the firmware's semihosting calls in the ELF and hooks each one; the
hook logs the SYS_EXIT code, which becomes ``wait_exit``'s result as under QEMU.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .base import OUTPUT_TAIL, Emulator, EmulatorError
from .board import Board
from .renode_control import RenodeControl

LOCALHOST = "127.0.0.1"
CONNECT_RETRY = 0.05  # s between connection attempts while Renode boots
STARTUP_TIMEOUT = 90.0  # s: Renode under mono starts in 3-5 s alone, in 30 s and more on a loaded machine
ROOT = Path(__file__).resolve().parents[2]
LOCAL_INSTALL = ROOT / ".renode" / "renode"  # where `make renode` installs it
EXIT_MARK = "pysim-semihosting-exit"
EXIT_LOG = re.compile(EXIT_MARK + r" (-?\d+)")
VIRTUAL_TIME = re.compile(r"Elapsed Virtual Time: (?:(\d+)\.)?(\d+):(\d+):(\d+(?:\.\d+)?)")
SYS_EXIT, SYS_EXIT_EXTENDED, APPLICATION_EXIT = 0x18, 0x20, 0x20026
# Renode's Cortex-M register numbers (its GDB numbering): r0..r12, sp, lr, pc, then xPSR at 25
CORE_REGISTERS = {**{f"r{i}": i for i in range(13)}, "sp": 13, "lr": 14, "pc": 15, "xpsr": 25}
# Run at each semihosting call (bkpt 0xAB) by Renode's IronPython: logs the exit code of
# SYS_EXIT (r1 = reason) and SYS_EXIT_EXTENDED (r1 -> {reason, code}); ignores the rest.
EXIT_HOOK = (
    "r0 = self.GetRegisterUnsafe(0).RawValue; r1 = self.GetRegisterUnsafe(1).RawValue; "
    f"code = self.Bus.ReadDoubleWord(r1 + 4) if r0 == {SYS_EXIT_EXTENDED} else (0 if r1 == {APPLICATION_EXIT} else 1); "
    f"r0 in ({SYS_EXIT}, {SYS_EXIT_EXTENDED}) and self.InfoLog('{EXIT_MARK} {{0}}', code)"
)


@dataclass(frozen=True)
class UartLine:
    """A line the firmware sent, as Renode saw it: its text and the virtual time (s)."""

    text: str
    virtual_time: float


class RenodeEmulator(Emulator):
    """``start_paused``: load everything but do not start the machine (then ``run_for``,
    ``step`` or ``resume``): the run is then driven in virtual time only.
    ``gdb_port``: serve GDB there (Renode's ``machine StartGdbServer``); ``gdb_wait``: hold
    the machine until gdb continues it."""

    name = "renode"
    executable = "renode"
    supports_gdb = True
    install_hint = ("`make renode` installs it when ../shared/renode is there; otherwise install a Renode "
                    "release (renode.io) and put `renode` on PATH or set PYSIM_RENODE to it")

    def __init__(self, *, start_paused: bool = False, **options: Any) -> None:
        options.setdefault("startup_timeout", STARTUP_TIMEOUT)
        super().__init__(**options)
        self.start_paused = start_paused
        self.control: RenodeControl | None = None
        self._workdir: tempfile.TemporaryDirectory[str] | None = None
        self._semihosting_exit: asyncio.Future[int] | None = None
        self._testers: dict[str, int] = {}
        self._stepping = False
        self.exit_hooks = True  # hook the semihosting calls in the generated script

    @classmethod
    def command(cls) -> str | None:
        """``$PYSIM_RENODE``, else ``renode`` on PATH, else the project's ``.renode/renode``."""
        chosen = os.environ.get("PYSIM_RENODE")
        if chosen:
            return shutil.which(chosen)
        return shutil.which(cls.executable) or (str(LOCAL_INSTALL) if os.access(LOCAL_INSTALL, os.X_OK) else None)

    def platform_file(self, board: Board) -> str:
        """The board's ``.repl`` in Renode's syntax: a ``@platforms/...`` path inside Renode
        stays as it is, a file name is taken relative to the board description."""
        _, platform = board.require_renode()
        if platform.startswith("@"):
            return platform
        return f"@{(board.path.parent / platform).resolve()}"

    def script(self, firmware: Path, board: Board, uart_port: int, console_port: int | None) -> str:
        """The generated start-up script: sets the board script's variables and includes it
        (the machine), puts the board's AT UART and console (if any) on TCP server sockets,
        hooks the semihosting calls and starts (unless ``start_paused``)."""
        platform = self.platform_file(board)
        board_script, _ = board.require_renode()
        for path in (str(firmware), str(board_script), platform):
            if re.search(r"\s", path):
                raise EmulatorError(f"renode: paths with white space are not supported: {path}")
        lines = [
            f'$name="{board.name}"',
            f"$bin=@{firmware}",
            f"$platform={platform}",
            f"i @{board_script}",
        ]
        # Renode listens, the harness connects; "false": no telnet negotiation bytes
        serial = [("uart", board.uart, uart_port), ("console", board.console, console_port)]
        for terminal, wiring, port in serial:
            if wiring is not None and port is not None:
                if not wiring.renode:
                    raise EmulatorError(f"renode: {board.path}: uarts.{wiring.peripheral}.renode: "
                                        "no Renode peripheral path for this UART")
                lines += [f'emulation CreateServerSocketTerminal {port} "{terminal}" false',
                          f"connector Connect {wiring.renode} {terminal}"]
        if self.exit_hooks:
            lines += [f'sysbus.cpu AddHook {address:#x} "{EXIT_HOOK}"' for address in semihosting_calls(firmware)]
        if self.gdb_port is not None:
            # autostart: with the machine held, gdb's first `continue` starts it
            lines.append(f"machine StartGdbServer {self.gdb_port} {'true' if self.gdb_wait else 'false'}")
        if not (self.start_paused or self.gdb_wait):
            lines.append("start")
        return "\n".join(lines + [""])

    async def _launch(self, firmware: Path, board: Board) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
        control_port, uart_port, console_port = _free_ports(3)
        self._workdir = tempfile.TemporaryDirectory(prefix="pysim-renode-")
        script = Path(self._workdir.name) / "run.resc"
        script.write_text(self.script(firmware, board, uart_port, console_port))
        self._semihosting_exit = asyncio.get_running_loop().create_future()
        await self._spawn([self.command() or self.executable, "--disable-xwt", "--plain",
                           "--robot-server-port", str(control_port)], cwd=Path(self._workdir.name))
        self.control = RenodeControl(control_port)
        await self._until(self.control.ready(), f"Renode's robot server on port {control_port}")
        await self._until(self.control.execute(f"include @{script}"), "the start-up script")
        return await self._connect_serial(uart_port, console_port if board.console is not None else None)

    async def _connect_serial(self, uart_port: int, console_port: int | None) -> tuple[Any, Any]:
        uart = await self._until(_connect(uart_port), f"Renode listening on port {uart_port} (UART)")
        if console_port is None:
            return uart, None
        try:
            console = await self._until(_connect(console_port), f"Renode listening on port {console_port} (console)")
        except BaseException:
            uart[1].close()
            raise
        return uart, console

    async def _drain(self, stream: asyncio.StreamReader) -> None:
        """Keep the output (as the base class does) and watch the log for the exit hook's line."""
        pending = b""
        while chunk := await stream.read(4096):
            self._output += chunk
            del self._output[:-OUTPUT_TAIL]
            *lines, pending = (pending + chunk).split(b"\n")
            pending = pending[-4096:]
            for line in lines:
                match = EXIT_LOG.search(line.decode("utf-8", "replace"))
                if match and self._semihosting_exit is not None and not self._semihosting_exit.done():
                    self._semihosting_exit.set_result(int(match.group(1)))

    async def _exit_code(self) -> int:
        """The firmware's semihosting exit code, or Renode's own exit code if it ends first."""
        assert self._exited is not None and self._semihosting_exit is not None
        await asyncio.wait({self._semihosting_exit, self._exited}, return_when=asyncio.FIRST_COMPLETED)
        if self._semihosting_exit.done():
            return self._semihosting_exit.result()
        return await self._exited

    # -- what Renode adds -----------------------------------------------------------
    def _control(self) -> RenodeControl:
        if self.control is None or self._proc is None or self._proc.returncode is not None:
            raise EmulatorError("renode: not running")
        return self.control

    async def execute(self, command: str, timeout: float | None = 60.0) -> str:
        """Run a Renode monitor command; its output (``RenodeCommandError`` on failure)."""
        return await self._control().execute(command, timeout)

    async def virtual_time(self) -> float:
        """Seconds of virtual time the machine has run (advanced only by emulation)."""
        text = await self.execute("machine ElapsedVirtualTime")
        match = VIRTUAL_TIME.search(text)
        if match is None:
            raise EmulatorError(f"renode: no virtual time in {text!r}")
        days, hours, minutes, seconds = match.groups()
        return ((int(days or 0) * 24 + int(hours)) * 60 + int(minutes)) * 60 + float(seconds)

    async def pause(self) -> None:
        """Stop the machine where it is; virtual time stands still until resumed."""
        await self.execute("pause")

    async def resume(self) -> None:
        """Let the machine run freely again (also the first start after ``start_paused``)."""
        await self._continuous()
        await self.execute("start")

    async def run_for(self, seconds: float) -> None:
        """Run exactly ``seconds`` of virtual time, then pause; returns when done."""
        if seconds <= 0:
            raise ValueError("run_for: seconds must be > 0")
        await self._continuous()
        await self.execute(f'emulation RunFor "{seconds:.9f}"', timeout=None)

    async def step(self, instructions: int = 1) -> int:
        """Execute ``instructions`` instructions of a paused CPU; the program counter after.
        (The CPU stays in single-step mode until ``resume`` or ``run_for``.)"""
        if instructions < 1:
            raise ValueError("step: instructions must be >= 1")
        self._stepping = True
        await self.execute(f"sysbus.cpu Step {instructions}")
        return await self.pc()

    async def _continuous(self) -> None:
        if self._stepping:
            await self.execute("sysbus.cpu ExecutionMode Continuous")
            self._stepping = False

    async def open_gdb_server(self, port: int) -> None:
        """Start a GDB server on 127.0.0.1:``port`` while the firmware runs."""
        await self.execute(f"machine StartGdbServer {port}")

    async def registers(self) -> dict[str, int]:
        """The CPU's core registers now (``r0``..``r12``, ``sp``, ``lr``, ``pc``, ``xpsr``)."""
        values = {}
        for name, index in CORE_REGISTERS.items():
            values[name] = int((await self.execute(f"sysbus.cpu GetRegisterUnsafe {index}")).split()[0], 0)
        return values

    async def pc(self) -> int:
        """The CPU's program counter."""
        return int((await self.execute("sysbus.cpu PC")).split()[0], 0)

    async def watch_uart(self, which: str = "uart") -> None:
        """Start recording the lines of the board's ``uart`` or ``console`` with their
        virtual time (before the lines are sent: earlier ones are not seen)."""
        assert self.board is not None
        if which not in self._testers:
            peripheral = getattr(self.board, which).renode
            self._testers[which] = await self._control().keyword("CreateTerminalTester", peripheral, 0)

    async def write_uart(self, data: str, which: str = "uart") -> None:
        """Put ``data`` into the UART's receiver at once, in the current virtual instant
        (with a paused machine the firmware sees it when it next runs)."""
        await self.watch_uart(which)
        await self._control().keyword("WriteToUart", data, self._testers[which])

    async def wait_uart_line(self, pattern: str, timeout: float = 0.0, which: str = "uart",
                             pause: bool = False) -> UartLine:
        """The next recorded line containing the regex ``pattern``; ``timeout`` is in virtual
        seconds (0: only lines already sent). ``pause``: pause the machine at that line."""
        await self.watch_uart(which)
        result = await self._control().keyword("WaitForLineOnUart", pattern, timeout, self._testers[which],
                                               True, False, pause)
        return UartLine(result["line"], result["timestamp"] / 1000)  # Renode stamps in ms

    async def stop(self) -> None:
        await super().stop()
        self.control = None
        self._testers.clear()
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None


def semihosting_calls(elf: Path) -> list[int]:
    """Addresses of the Thumb ``bkpt 0xAB`` instructions in the ELF's executable segments."""
    data = elf.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 1 or data[5] != 1:
        raise EmulatorError(f"renode: {elf} is not a 32-bit little-endian ELF")
    phoff, = struct.unpack_from("<I", data, 28)
    phentsize, phnum = struct.unpack_from("<HH", data, 42)
    found: list[int] = []
    for i in range(phnum):
        p_type, offset, vaddr, _, filesz, _, flags, _ = struct.unpack_from("<8I", data, phoff + i * phentsize)
        if p_type == 1 and flags & 1:  # PT_LOAD, PF_X
            segment = data[offset:offset + filesz]
            found += [vaddr + at for at in range(0, len(segment) - 1, 2) if segment[at:at + 2] == b"\xab\xbe"]
    return found


def _free_ports(count: int) -> list[int]:
    """Ports free right now (Renode must bind them itself, so a small race remains)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind((LOCALHOST, 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


async def _connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    while True:
        try:
            return await asyncio.open_connection(LOCALHOST, port)
        except ConnectionRefusedError:
            await asyncio.sleep(CONNECT_RETRY)
