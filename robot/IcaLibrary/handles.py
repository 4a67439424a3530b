"""What a module or device handle points at: the running parts, the lines of their
UARTs (for the UART keywords) and the tail of their trace (for failure messages).

Every use of ``pysim.session.Session`` and of the module/TE wiring is here, so an
API change there is a change in this file only."""

from __future__ import annotations

import asyncio
import collections
import time
from typing import Any

from peripherals.ica import Faults, IcaModule, ModuleConfig
from pysim.cloud import Cloud
from pysim.events import EventLog
from pysim.session import Session, SessionOptions
from pysim.te import AtClient
from pysim.trace import TraceWriter
from pysim.uart import TA_TO_TE, TE_TO_TA, UartRecord

from .lines import LineLog

TAIL_LINES = 30


class TraceTail:
    """A trace sink that keeps the last lines."""

    def __init__(self, size: int = TAIL_LINES) -> None:
        self.last: collections.deque[str] = collections.deque(maxlen=size)

    def __call__(self, line: str) -> None:
        self.last.append(line)


class ModuleHandle:
    """A module model with the suite as its TE: the module, its ``AtClient``, the AT
    lines both ways and the trace tail (AT lines, cloud events)."""

    kind = "module"

    def __init__(self, module: IcaModule, events: EventLog, t0: float) -> None:
        self.module = module
        self.events = events
        self.t0 = t0
        self.label = ""              # the alias, else the index (set when registered)
        self.stopped = False
        self._tail = TraceTail()
        self._writer = TraceWriter(self._tail, t0=t0)
        self.at_lines = LineLog(t0)
        self.client = AtClient(self.to_module)
        self.last_raw = b""

    @classmethod
    async def start(cls, cloud: Cloud, config: ModuleConfig) -> "ModuleHandle":
        t0 = time.monotonic()
        module = IcaModule(config, events=cloud.events)
        handle = cls(module, cloud.events, t0)
        cloud.events.listeners.append(handle._writer.event)
        module.on_output = handle.from_module
        try:
            await module.start()
        except BaseException:
            cloud.events.listeners.remove(handle._writer.event)
            raise
        return handle

    def _record(self, direction: str, data: bytes) -> None:
        record = UartRecord(time.monotonic(), direction, bytes(data))
        self._writer.uart(record)
        self.at_lines.add_bytes(direction, record.data, record.t)

    def to_module(self, data: bytes) -> None:
        """Bytes from the TE (the suite) to the module."""
        self._record(TE_TO_TA, data)
        self.module.feed(data)

    def from_module(self, data: bytes) -> None:
        self._record(TA_TO_TE, data)
        self.client.feed(data)

    @property
    def console_lines(self) -> LineLog | None:
        return None

    def trace_tail(self) -> list[str]:
        """The last lines of the readable trace: AT lines both ways, cloud events."""
        return list(self._tail.last)

    def full_trace(self) -> list[str]:
        return []

    async def stop(self) -> None:
        if self._writer.event in self.events.listeners:
            self.events.listeners.remove(self._writer.event)
        self.at_lines.close()
        await self.module.stop()


def new_session(*, firmware: str | None, emulator: str | None, baud: int | None, faults: Faults,
                boot_timeout: float, board: str | None = None,
                identity: tuple[str, str, str] | None = None, gdb_port: int | None = None,
                gdb_wait: bool = False, profile: str = "spec") -> Session:
    """The one place a ``Session`` is made; ``board`` and ``identity`` (the device registered
    in the session's cloud) default to the session's own defaults; ``gdb_port``/``gdb_wait``:
    the debugger (docs/debugging.md); ``profile``: the module's compatibility profile."""
    more: dict[str, Any] = {}
    if board:
        more["board"] = board
    if identity:
        more["device"] = identity
    return Session(SessionOptions(firmware=firmware, emulator=emulator, baud=baud, faults=faults,
                                  boot_timeout=boot_timeout, gdb_port=gdb_port, gdb_wait=gdb_wait,
                                  module={"profile": profile}, **more))


class DeviceHandle:
    """An MCU session (cloud, module, firmware in an emulator): its console lines and the
    AT lines between firmware and module (both from the session's line buffers, as its
    trace shows them), and its trace."""

    kind = "device"

    def __init__(self, session: Session, t0: float, keep_trace: bool) -> None:
        self.session = session
        self.t0 = t0
        self.keep_trace = keep_trace
        self.label = ""
        self.stopped = False
        self.console_lines = LineLog(t0)
        self.at_lines = LineLog(t0)
        self._watch: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, keep_trace: bool, **options: Any) -> "DeviceHandle":
        t0 = time.monotonic()
        session = new_session(**options)
        await session.start()
        handle = cls(session, t0, keep_trace)
        handle._attach()
        return handle

    def _attach(self) -> None:
        for buffer, log in ((self.session.console, self.console_lines), (self.session.uart, self.at_lines)):
            for line in buffer.lines:
                log.add_line(line.label, line.text, line.t)
            buffer.listeners.append(lambda line, log=log: log.add_line(line.label, line.text, line.t))
        self._watch = asyncio.ensure_future(self._close_when_console_ends(self.session.emulator.console))

    async def _close_when_console_ends(self, console: Any) -> None:
        try:
            await console.wait_for_line(lambda _line: False, timeout=None)
        except ConnectionError:       # ConsoleClosed: the firmware exited or the emulator stopped
            pass
        finally:
            self.console_lines.close()

    def trace_tail(self) -> list[str]:
        """The last lines of the session's readable trace: AT lines both ways, console
        lines, cloud events."""
        return self.session.trace_lines[-TAIL_LINES:]

    def full_trace(self) -> list[str]:
        """The whole trace when `Start MCU Session` was asked to keep it, else nothing."""
        return self.session.trace_lines if self.keep_trace else []

    @property
    def cloud(self) -> Cloud | None:
        return self.session.cloud

    @property
    def module(self) -> IcaModule | None:
        return self.session.module

    def write_console(self, data: bytes) -> None:
        if self.session.emulator is None:
            raise AssertionError("the device's emulator has stopped")
        self.session.write_console(data)

    async def wait_exit(self, timeout: float) -> int | None:
        return await self.session.wait_exit(timeout)

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
        self.at_lines.close()
        self.console_lines.close()
        await self.session.stop()
