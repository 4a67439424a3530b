"""The emulator interface: one MCU emulator process with a UART stream and a debug console.

A backend only says how to launch its process and how to reach the board's two
serial ports; this base class owns the process: its own session (a Ctrl-C of the
harness does not reach it, the harness ends it), its output (kept for error
messages), its exit code (the firmware's semihosting verdict) and its end
(SIGTERM, then SIGKILL after a grace period; a finalizer kills a leftover at exit).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import weakref
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, ClassVar, Sequence, TypeVar

from pysim.orphans import killed_with_parent

from .board import DEFAULT_BOARD, Board
from .console import Console

T = TypeVar("T")
OUTPUT_TAIL = 64 * 1024  # bytes of the process's stdout/stderr kept for messages
FAULT_EXIT_CODE = 99  # the BSP's exit code after a CPU fault (firmware/bsp/common/bsp.h)


class EmulatorError(RuntimeError):
    """The emulator failed to start, died early or misbehaved."""


class EmulatorUnavailable(EmulatorError):
    """The emulator is not installed; the message says what to install."""


@dataclass
class SerialStream:
    """A serial port of the emulated board as an asyncio stream pair."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    def close(self) -> None:
        self.writer.close()


class Emulator(ABC):
    """One emulated MCU. Use as ``async with QemuEmulator() as emu: await emu.start(elf)``.

    After ``start``: ``uart`` is the board's module UART (raw bytes, both ways),
    ``console`` the firmware's debug console (lines; None when the board's wiring
    has no console), ``pid`` the process id.

    ``gdb_port``: serve the GDB remote protocol there (127.0.0.1); ``gdb_wait``:
    hold the CPU until a debugger continues it. Each backend implements both in
    ``_launch`` (QEMU: ``-gdb tcp:...`` and ``-S``; Renode: ``machine
    StartGdbServer``) and sets ``supports_gdb``.
    """

    name: ClassVar[str]
    executable: ClassVar[str]  # the command looked up on PATH
    install_hint: ClassVar[str]  # what to install when it is missing
    supports_gdb: ClassVar[bool] = False

    def __init__(self, *, startup_timeout: float = 20.0, stop_grace: float = 3.0, gdb_port: int | None = None,
                 gdb_wait: bool = False) -> None:
        if (gdb_port is not None or gdb_wait) and not self.supports_gdb:
            raise EmulatorError(f"{self.name}: this backend has no GDB server yet")
        if gdb_wait and gdb_port is None:
            raise EmulatorError(f"{self.name}: gdb_wait needs a gdb_port")
        self.startup_timeout = startup_timeout
        self.stop_grace = stop_grace
        self.gdb_port = gdb_port
        self.gdb_wait = gdb_wait
        self.board: Board | None = None
        self.uart: SerialStream | None = None
        self.console: Console | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._exited: asyncio.Task[int] | None = None
        self._drains: list[asyncio.Task[None]] = []
        self._output = bytearray()
        self._finalizer: weakref.finalize | None = None

    # -- availability -------------------------------------------------------------
    @classmethod
    def command(cls) -> str | None:
        """The executable's full path, or None when it is not installed."""
        return shutil.which(os.environ.get(f"PYSIM_{cls.name.upper()}", cls.executable))

    @classmethod
    def why_unavailable(cls) -> str | None:
        """None when the backend can run here, else why not and what to install."""
        if cls.command() is None:
            return f"{cls.name}: `{cls.executable}` is not on PATH; {cls.install_hint}"
        return None

    @classmethod
    def available(cls) -> bool:
        return cls.why_unavailable() is None

    # -- life cycle -----------------------------------------------------------------
    async def start(self, firmware: str | os.PathLike[str], board: Board | str | None = None) -> None:
        """Boot ``firmware`` (an ELF) on ``board`` and connect both serial ports."""
        if self._proc is not None:
            raise EmulatorError(f"{self.name}: already started")
        reason = self.why_unavailable()
        if reason:
            raise EmulatorUnavailable(reason)
        firmware = Path(firmware).resolve()
        if not firmware.is_file():
            raise EmulatorError(f"{self.name}: no firmware at {firmware}")
        self.board = board if isinstance(board, Board) else Board.load(board or DEFAULT_BOARD)
        try:
            uart, console = await self._launch(firmware, self.board)
        except BaseException:
            await self.stop()
            raise
        self.uart = SerialStream(*uart)
        self.console = Console(*console) if console is not None else None

    @abstractmethod
    async def _launch(self, firmware: Path, board: Board) -> tuple[tuple[Any, Any], tuple[Any, Any] | None]:
        """Spawn the process (with ``_spawn``) and return the (reader, writer) pairs of
        the module UART and of the console (None when ``board.console`` is None)."""

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def returncode(self) -> int | None:
        """The exit code once the process has ended (negative: killed by that signal)."""
        return self._proc.returncode if self._proc else None

    @property
    def output(self) -> str:
        """The tail of the process's stdout and stderr."""
        return self._output.decode("utf-8", "replace")

    async def wait_exit(self, timeout: float | None = None) -> int | None:
        """The firmware's exit code (QEMU: the semihosting exit code), or None if it is
        still running after ``timeout`` seconds."""
        if self._proc is None:
            raise EmulatorError(f"{self.name}: not started")
        try:
            return await asyncio.wait_for(asyncio.shield(self._exit_code()), timeout)
        except asyncio.TimeoutError:
            return None

    # -- post-mortem hooks (pysim/postmortem.py; a backend overrides what it can) -----------
    async def registers(self) -> dict[str, int]:
        """The CPU's core registers now (``r0``..``r12``, ``sp``, ``lr``, ``pc``, ``xpsr``)."""
        raise EmulatorError(f"{self.name}: reading registers is not supported")

    async def open_gdb_server(self, port: int) -> None:
        """Start a GDB server on 127.0.0.1:``port`` while the firmware runs."""
        raise EmulatorError(f"{self.name}: starting a GDB server at run time is not supported")

    async def _exit_code(self) -> int:
        assert self._exited is not None
        return await self._exited

    async def stop(self) -> None:
        """End the process (SIGTERM, SIGKILL after ``stop_grace`` s) and close the streams.
        Idempotent; safe after a failed start."""
        if self._proc is not None and self._proc.returncode is None:
            assert self._exited is not None
            self._signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.shield(self._exited), self.stop_grace)
            except asyncio.TimeoutError:
                self._signal(signal.SIGKILL)
                await self._exited
        if self._finalizer is not None:
            self._finalizer.detach()
        if self.console is not None:
            await self.console.close()
        if self.uart is not None:
            self.uart.close()
        if self._drains:
            await asyncio.wait(self._drains, timeout=1.0)

    async def __aenter__(self) -> "Emulator":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- helpers for backends -----------------------------------------------------
    async def _spawn(self, argv: Sequence[str], *, cwd: Path | None = None, keep_stdin: bool = False) -> None:
        """Start the process in its own session, collecting its output."""
        self._proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            stdin=asyncio.subprocess.PIPE if keep_stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            preexec_fn=killed_with_parent,   # nothing left running when pysim is killed (orphans.py)
        )
        self._finalizer = weakref.finalize(self, _kill_leftover, self._proc)
        self._exited = asyncio.ensure_future(self._proc.wait())
        self._drains = [asyncio.ensure_future(self._drain(s)) for s in (self._proc.stdout, self._proc.stderr) if s]

    async def _drain(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(4096):
            self._output += chunk
            del self._output[:-OUTPUT_TAIL]

    async def _until(self, awaitable: Awaitable[T], what: str) -> T:
        """Await ``awaitable``, failing with the process's output if the process ends
        first or ``startup_timeout`` passes."""
        assert self._exited is not None
        task = asyncio.ensure_future(awaitable)
        try:
            await asyncio.wait({task, self._exited}, timeout=self.startup_timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not task.done():
                task.cancel()
        if task.done() and not task.cancelled():
            return task.result()
        if self._exited.done():
            await asyncio.wait(self._drains, timeout=1.0)
            raise EmulatorError(f"{self.name} exited with code {self._exited.result()} while waiting for {what}; "
                                f"its output:\n{self.output}")
        raise EmulatorError(f"{self.name}: no {what} within {self.startup_timeout} s; its output:\n{self.output}")

    def _signal(self, sig: signal.Signals) -> None:
        assert self._proc is not None
        try:
            os.killpg(self._proc.pid, sig)  # the process leads its own session and group
        except ProcessLookupError:
            pass


def _kill_leftover(proc: asyncio.subprocess.Process) -> None:
    """Finalizer (also run at interpreter exit): kill a process nobody stopped."""
    if proc.returncode is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
