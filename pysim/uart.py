"""The UART between the MCU (TE) and the module (TA): a byte pump with a record of
every chunk, optional pacing at a baud rate and optional fault hooks.

TE side: the emulator's ``SerialStream`` (or any (reader, writer) pair).
TA side: an object with ``feed(data)`` and a settable ``on_output`` callback (the
module, see ARCHITECTURE.md "Module API"), or a (reader, writer) pair.
"""

from __future__ import annotations

import asyncio
import inspect
import random
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Mapping, Protocol

TE_TO_TA = "TE->TA"  # MCU -> module
TA_TO_TE = "TA->TE"  # module -> MCU
BITS_PER_BYTE = 10  # start bit, 8 data bits, stop bit

FaultHook = Callable[[bytes], bytes]  # returns the bytes the wire carries instead (b"" drops them)
Deliver = Callable[[bytes], Awaitable[None]]


@dataclass(frozen=True)
class UartRecord:
    t: float  # time.monotonic() when the bytes were delivered
    direction: str  # TE_TO_TA or TA_TO_TE
    data: bytes


class ModuleEndpoint(Protocol):
    on_output: Callable[[bytes], None] | None

    def feed(self, data: bytes) -> Any: ...


class Pacer:
    """Releases bytes no faster than a wire at ``baud`` carries them.

    Byte i of a burst is released when its frame has ended: ``start + (i+1) *
    byte_time``, with ``start`` the later of the burst's arrival and the end of the
    previous burst. The schedule is absolute (monotonic clock): a late wake-up
    releases every byte that is due in one piece, and errors do not add up.
    """

    def __init__(self, baud: int, clock: Callable[[], float] = time.monotonic) -> None:
        if baud <= 0:
            raise ValueError("baud must be positive")
        self.byte_time = BITS_PER_BYTE / baud
        self._clock = clock
        self._wire_free = 0.0  # when the wire has carried every byte released so far

    async def send(self, data: bytes, deliver: Deliver) -> None:
        start = max(self._clock(), self._wire_free)
        self._wire_free = start + len(data) * self.byte_time
        sent = 0
        while sent < len(data):
            due = start + (sent + 1) * self.byte_time
            now = self._clock()
            if now < due:
                await asyncio.sleep(due - now)
                now = self._clock()
            carried = min(len(data), max(sent + 1, int((now - start) / self.byte_time)))
            await deliver(data[sent:carried])
            sent = carried


class ByteFaults:
    """A seeded fault hook for one direction of the link, switchable while it runs.

    Per byte: dropped with probability ``drop``, else one bit flipped with probability
    ``flip``, then sent twice with probability ``dup``. Per chunk: held back
    ``delay_ms`` with probability ``delay``. :meth:`stall` stops the direction for a
    while (bytes wait, none is lost). Counts what it did. The link asks :meth:`hold`
    how long to wait before delivering each chunk.
    """

    def __init__(self, seed: int, *, drop: float = 0.0, flip: float = 0.0, dup: float = 0.0,
                 delay: float = 0.0, delay_ms: float = 0.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._rng = random.Random(seed)
        self._clock = clock
        self.drop, self.flip, self.dup = drop, flip, dup
        self.delay, self.delay_ms = delay, delay_ms
        self.stalled: tuple[float, float] | None = None   # (start, end) on the clock
        self.dropped = self.flipped = self.duplicated = self.delayed = 0

    def __call__(self, data: bytes) -> bytes:
        if not (self.drop or self.flip or self.dup):
            return data
        out = bytearray()
        for byte in data:
            if self._rng.random() < self.drop:
                self.dropped += 1
                continue
            if self._rng.random() < self.flip:
                byte ^= 1 << self._rng.randrange(8)
                self.flipped += 1
            out.append(byte)
            if self.dup and self._rng.random() < self.dup:
                out.append(byte)
                self.duplicated += 1
        return bytes(out)

    def stall(self, after: float, duration: float) -> None:
        start = self._clock() + after
        self.stalled = (start, start + duration)

    def hold(self) -> float:
        """Seconds to wait before the chunk just filtered is delivered."""
        wait = 0.0
        if self.delay and self._rng.random() < self.delay:
            self.delayed += 1
            wait = self.delay_ms / 1000
        if self.stalled is not None:
            now = self._clock()
            start, end = self.stalled
            if now >= end:
                self.stalled = None
            elif now >= start:
                wait = max(wait, end - now)
        return wait

    @property
    def active(self) -> bool:
        return bool(self.drop or self.flip or self.dup or self.delay or self.stalled)


class UartLink:
    """Pumps bytes both ways between the TE's serial stream and the TA.

    ``records`` holds every delivered chunk; ``listeners`` get each ``UartRecord``
    as it is delivered (a trace subscribes: ``link.listeners.append(writer.uart)``).
    ``faults`` maps a direction to a ``FaultHook`` applied before pacing.
    ``te_closed`` is set when the TE's stream ends.
    """

    def __init__(self, baud: int | None = None, *, faults: Mapping[str, FaultHook] | None = None,
                 read_size: int = 4096) -> None:
        self.baud = baud
        self.faults = dict(faults or {})
        unknown = set(self.faults) - {TE_TO_TA, TA_TO_TE}
        if unknown:
            raise ValueError(f"fault hooks for unknown directions: {unknown}")
        self.read_size = read_size
        self.records: list[UartRecord] = []
        self.listeners: list[Callable[[UartRecord], None]] = []
        self.te_closed = asyncio.Event()
        self._delivered = {TE_TO_TA: bytearray(), TA_TO_TE: bytearray()}
        self._changed = asyncio.Event()
        self._ended: set[str] = set()  # directions whose pump has stopped
        self._tasks: list[asyncio.Task[None]] = []
        self._module: ModuleEndpoint | None = None
        self._deliver: dict[str, Callable[[bytes], Awaitable[None]]] = {}

    async def start(self, te: Any, ta: ModuleEndpoint | tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
        """Start pumping. ``te``: a ``SerialStream`` or (reader, writer); ``ta``: a module
        endpoint or (reader, writer)."""
        if self._tasks:
            raise RuntimeError("UartLink already started")
        te_reader, te_writer = (te.reader, te.writer) if hasattr(te, "reader") else te

        async def to_te(data: bytes) -> None:
            te_writer.write(data)
            await te_writer.drain()

        if isinstance(ta, tuple):
            ta_reader, ta_writer = ta

            async def to_ta(data: bytes) -> None:
                ta_writer.write(data)
                await ta_writer.drain()

            from_ta: Callable[[], Awaitable[bytes]] = lambda: ta_reader.read(self.read_size)
        else:
            self._module = module = ta
            queue: asyncio.Queue[bytes] = asyncio.Queue()
            module.on_output = queue.put_nowait

            async def to_ta(data: bytes) -> None:
                result = module.feed(data)
                if inspect.isawaitable(result):
                    await result

            from_ta = queue.get

        async def from_te() -> bytes:
            try:
                data = await te_reader.read(self.read_size)
            except ConnectionError:
                data = b""
            if not data:
                self.te_closed.set()
            return data

        self._deliver = {TE_TO_TA: self._recorded(TE_TO_TA, to_ta), TA_TO_TE: self._recorded(TA_TO_TE, to_te)}
        self._tasks = [asyncio.ensure_future(self._pump(TE_TO_TA, from_te, to_ta)),
                       asyncio.ensure_future(self._pump(TA_TO_TE, from_ta, to_te))]

    async def stop(self) -> None:
        """Stop pumping (the streams stay open: their owners close them). Raises the
        error a pump stopped on, if any."""
        for task in self._tasks:
            task.cancel()
        results = await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self._ended.clear()
        if self._module is not None:
            self._module.on_output = None
            self._module = None
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                raise result

    async def __aenter__(self) -> "UartLink":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def delivered(self, direction: str) -> bytes:
        """Every byte delivered in ``direction`` so far."""
        return bytes(self._delivered[direction])

    async def wait_for(self, direction: str, data: bytes, timeout: float = 10.0) -> None:
        """Wait until ``data`` has been delivered in ``direction`` (past or future)."""
        async def scan() -> None:
            while data not in self._delivered[direction]:
                if direction in self._ended:
                    raise ConnectionError(f"UART link stopped before {data!r} went {direction}")
                await self._changed.wait()
        try:
            await asyncio.wait_for(scan(), timeout)
        except asyncio.TimeoutError:
            tail = bytes(self._delivered[direction][-80:])
            raise TimeoutError(f"{data!r} not seen {direction} within {timeout} s; last bytes: {tail!r}") from None

    def _recorded(self, direction: str, deliver: Deliver) -> Deliver:
        async def record_and_deliver(data: bytes) -> None:
            record = UartRecord(time.monotonic(), direction, bytes(data))
            self.records.append(record)
            self._delivered[direction] += data
            for listener in list(self.listeners):
                listener(record)
            self._notify()
            await deliver(data)
        return record_and_deliver

    async def inject(self, direction: str, data: bytes) -> None:
        """Put ``data`` on the wire in ``direction`` as if a side had sent it (a break's
        NUL bytes, noise); recorded like any other chunk."""
        if direction not in self._deliver:
            raise RuntimeError("UartLink not started")
        await self._deliver[direction](data)

    async def _pump(self, direction: str, source: Callable[[], Awaitable[bytes]], deliver: Deliver) -> None:
        pacer = Pacer(self.baud) if self.baud else None
        record_and_deliver = self._recorded(direction, deliver)
        try:
            while data := await source():
                fault = self.faults.get(direction)   # looked up per chunk: faults switch during a run
                if fault:
                    data = fault(data)
                    hold = getattr(fault, "hold", None)
                    if hold is not None and (wait := hold()) > 0:
                        await asyncio.sleep(wait)
                if pacer:
                    await pacer.send(data, record_and_deliver)
                elif data:
                    await record_and_deliver(data)
        finally:
            self._ended.add(direction)
            self._notify()  # waiters see the pump has ended

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
