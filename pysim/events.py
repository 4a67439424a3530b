"""An append-only log of happenings that tests and traces can wait on."""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass, field
from typing import Any, Callable


PAYLOAD_KEEP = 1024   # bytes values up to this size are kept whole in an event
PAYLOAD_PREFIX = 64   # of a longer one, only this prefix, its length and its SHA-256


@dataclass(frozen=True, eq=False)
class PayloadDigest:
    """What an event keeps of a long payload: a prefix, the length and the SHA-256.

    It compares equal to the bytes it stands for (same length and digest), so a test
    can still ask ``event.detail["payload"] == sent``; ``len()`` is the full length."""

    prefix: bytes
    length: int
    sha256: str

    @classmethod
    def of(cls, data: bytes) -> "PayloadDigest":
        return cls(bytes(data[:PAYLOAD_PREFIX]), len(data), hashlib.sha256(data).hexdigest())

    def __len__(self) -> int:
        return self.length

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PayloadDigest):
            return (self.length, self.sha256) == (other.length, other.sha256)
        if isinstance(other, (bytes, bytearray, memoryview)):
            return len(other) == self.length and hashlib.sha256(other).hexdigest() == self.sha256
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.length, self.sha256))

    def __repr__(self) -> str:
        return f"<{self.length} bytes {self.prefix!r}... sha256:{self.sha256[:16]}>"


def _bounded(detail: dict[str, Any]) -> dict[str, Any]:
    """``detail`` with every bytes value over PAYLOAD_KEEP replaced by its PayloadDigest."""
    if not any(isinstance(v, (bytes, bytearray)) and len(v) > PAYLOAD_KEEP for v in detail.values()):
        return detail
    return {k: PayloadDigest.of(v) if isinstance(v, (bytes, bytearray)) and len(v) > PAYLOAD_KEEP else v
            for k, v in detail.items()}


@dataclass(frozen=True, slots=True)
class Event:
    """One happening: module events are declared in ``peripherals/ica/events.py``."""

    kind: str
    device: tuple[str, str] | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    t: float = field(default_factory=time.monotonic)

    def __str__(self) -> str:
        who = f"{self.device[0]}/{self.device[1]} " if self.device else ""
        # a named device's MQTT client id and the module's name only repeat what is known
        hidden = {"client_id", "module"} if self.device or "module" in self.detail else set()
        items = " ".join(f"{k}={_short(v)}" for k, v in self.detail.items() if k not in hidden)
        return f"{self.kind} {who}{items}".rstrip()


def _short(value: Any, limit: int = 80) -> str:
    if isinstance(value, (bytes, bytearray)):
        try:
            text = bytes(value).decode()
            value = text if text.isprintable() else bytes(value)
        except UnicodeDecodeError:
            pass
    s = repr(value) if not isinstance(value, (int, float)) else str(value)
    return s if len(s) <= limit else s[: limit - 3] + "..."


Predicate = Callable[[Event], bool]


class EventLog:
    """Events in order; ``wait_for`` finds a past or future event.

    Memory is bounded: at most ``limit`` events (the oldest tenth goes when it is
    reached), and of a bytes value longer than PAYLOAD_KEEP only a PayloadDigest."""

    def __init__(self, limit: int = 100_000) -> None:
        self.events: list[Event] = []
        self._limit = limit
        self._waiters: list[tuple[Predicate, asyncio.Future[Event]]] = []
        self.listeners: list[Callable[[Event], None]] = []

    def emit(self, kind: str, device: tuple[str, str] | None = None, **detail: Any) -> Event:
        event = Event(kind, device, _bounded(detail))
        self.events.append(event)
        if len(self.events) > self._limit:
            # drop the oldest tenth at once: trimming one at a time moves the list every event
            del self.events[: len(self.events) - self._limit * 9 // 10]
        for listener in list(self.listeners):
            listener(event)
        for waiter in list(self._waiters):
            predicate, future = waiter
            if not future.done() and predicate(event):
                future.set_result(event)
                self._waiters.remove(waiter)
        return event

    def find(self, predicate: Predicate) -> list[Event]:
        return [e for e in self.events if predicate(e)]

    async def wait_for(self, predicate: Predicate, timeout: float = 10.0) -> Event:
        for event in self.events:
            if predicate(event):
                return event
        future: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        entry = (predicate, future)
        self._waiters.append(entry)
        try:
            return await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(f"no matching event within {timeout} s; last events: "
                               + "; ".join(str(e) for e in self.events[-5:])) from None
        finally:
            if entry in self._waiters:
                self._waiters.remove(entry)


def kind_is(kind: str, **detail: Any) -> Predicate:
    """A predicate: event of this kind whose detail has these values."""
    def predicate(event: Event) -> bool:
        return event.kind == kind and all(event.detail.get(k) == v for k, v in detail.items())
    return predicate
