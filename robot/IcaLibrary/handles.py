"""What a module or device handle points at: the running parts, the lines of their
UARTs (for the UART keywords) and the tail of their trace (for failure messages).

Every use of ``pysim.session.Session`` and of the module/TE wiring is here, so an
API change there is a change in this file only."""

from __future__ import annotations

import asyncio
import collections
import time
from typing import Any, Callable

from peripherals.ica import Faults, IcaModule, ModuleConfig
from pysim.cloud import Cloud
from pysim.events import EventLog
from pysim.session import Session, SessionOptions
from pysim.te import AtClient
from pysim.trace import CONSOLE, TraceWriter
from pysim.uart import TA_TO_TE, TE_TO_TA, UartRecord

from .lines import LineLog

TAIL_LINES = 24


class TraceTail:
    """A trace sink that keeps the last lines (and, when asked, all of them)."""

    def __init__(self, keep_all: bool = False, size: int = TAIL_LINES) -> None:
        self.last: collections.deque[str] = collections.deque(maxlen=size)
        self.all: list[str] | None = [] if keep_all else None

    def __call__(self, line: str) -> None:
        self.last.append(line)
        if self.all is not None:
            self.all.append(line)


class ModuleHandle:
    """A module model with the suite as its TE: the module, its ``AtClient``, the AT
    lines both ways and the trace tail (AT lines, cloud events)."""

    kind = "module"

    def __init__(self, module: IcaModule, events: EventLog, t0: float) -> None:
        self.module = module
        self.events = events
        self.t0 = t0
        self.label = ""              # the alias, else the index (set when registered)
        self.trace = TraceTail()
        self._writer = TraceWriter(self.trace, t0=t0)
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
        await module.start()
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

    async def stop(self) -> None:
        if self._writer.event in self.events.listeners:
            self.events.listeners.remove(self._writer.event)
        self.at_lines.close()
        await self.module.stop()


def new_session(*, firmware: str | None, emulator: str | None, baud: int | None, faults: Faults,
                trace: Callable[[str], Any], boot_timeout: float, module: dict[str, Any]) -> Session:
    """The one place a ``Session`` is made."""
    return Session(SessionOptions(firmware=firmware, emulator=emulator, baud=baud, faults=faults, trace=trace,
                                  boot_timeout=boot_timeout, module=module))


class DeviceHandle:
    """An MCU session (cloud, module, firmware in an emulator): its console lines, the
    AT lines between firmware and module, and the trace tail."""

    kind = "device"

    def __init__(self, session: Session, trace: TraceTail, t0: float) -> None:
        self.session = session
        self.trace = trace
        self.t0 = t0
        self.label = ""
        self.console_lines = LineLog(t0)
        self.at_lines = LineLog(t0)
        self._watch: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, keep_trace: bool, **options: Any) -> "DeviceHandle":
        t0 = time.monotonic()
        trace = TraceTail(keep_all=keep_trace)
        session = new_session(trace=trace, **options)
        await session.start()
        handle = cls(session, trace, t0)
        handle._attach()
        return handle

    def _attach(self) -> None:
        session, now = self.session, time.monotonic()
        console = session.emulator.console
        for line in console.lines:
            self.console_lines.add_line(CONSOLE, line, now)
        console.listeners.append(lambda t, line: self.console_lines.add_line(CONSOLE, line, t))
        for record in session.link.records:
            self.at_lines.add_bytes(record.direction, record.data, record.t)
        session.link.listeners.append(lambda r: self.at_lines.add_bytes(r.direction, r.data, r.t))
        self._watch = asyncio.ensure_future(self._close_when_console_ends(console))

    async def _close_when_console_ends(self, console: Any) -> None:
        try:
            await console.wait_for_line(lambda _line: False, timeout=None)
        except ConnectionError:       # ConsoleClosed: the firmware exited or the emulator stopped
            pass
        finally:
            self.console_lines.close()

    @property
    def cloud(self) -> Cloud | None:
        return self.session.cloud

    @property
    def module(self) -> IcaModule | None:
        return self.session.module

    def write_console(self, data: bytes) -> None:
        if self.session.emulator is None or self.session.emulator.console is None:
            raise AssertionError("the device's emulator has stopped")
        self.session.emulator.console.write(data)

    async def wait_exit(self, timeout: float) -> int | None:
        return await self.session.wait_exit(timeout)

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
        self.at_lines.close()
        self.console_lines.close()
        await self.session.stop()
