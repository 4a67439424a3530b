"""An append-only log of happenings that tests and traces can wait on, and the
declaration of every kind of happening the simulator reports.

An :class:`Event` is a kind, a device and a detail dict. Each kind is declared once
with its fields: the module's kinds (``at.*``, ``net.*``, ``module.*``, ...) in
``peripherals/ica/events.py``, the cloud's and the session's below, each with
``@EVENTS.declare(kind)`` (``peripherals/event_kinds.py``). :data:`EVENTS` and
:func:`declared` find either, and ``Event.typed`` is an event as its declared, frozen
and slotted, dataclass.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from peripherals.event_kinds import EventKinds
from peripherals.ica.events import EVENTS as MODULE_EVENTS


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


    @property
    def typed(self) -> Any:
        """This event as its declared dataclass (TypeError for an undeclared kind or field)."""
        return EVENTS.check(self.kind, self.detail)


EVENTS = EventKinds("pysim/events.py", MODULE_EVENTS)
"""Every kind: the simulator's, declared below, and the module's."""


# ---- what the cloud and the session report (the module's kinds: peripherals/ica/events.py)

@EVENTS.declare("mqtt.connect")
class MqttConnect:
    client_id: str = ""
    username: str | None = None


@EVENTS.declare("mqtt.disconnect")
class MqttDisconnect:
    client_id: str = ""


@EVENTS.declare("mqtt.auth_fail")
class MqttAuthFail:
    client_id: str = ""
    username: str | None = None
    reason: str = ""


@EVENTS.declare("mqtt.publish")
class MqttPublish:
    """A message the broker delivers (from a device, the cloud itself or the OTA service)."""
    topic: str = ""
    payload: bytes = b""
    qos: int = 0
    source: str = ""
    client_id: str | None = None


@EVENTS.declare("mqtt.subscribe")
class MqttSubscribe:
    client_id: str = ""
    topic: str = ""
    qos: int = 0


@EVENTS.declare("mqtt.denied")
class MqttDenied:
    """A publish or subscribe outside the device's topics."""
    action: str = ""
    topic: str = ""
    client_id: str | None = None


@EVENTS.declare("coap.auth")
class CoapAuth:
    ok: bool = False


@EVENTS.declare("coap.request")
class CoapRequest:
    method: str = ""
    path: str = ""
    code: str = ""


@EVENTS.declare("http.auth")
class HttpAuth:
    ok: bool = False


@EVENTS.declare("http.request")
class HttpRequest:
    method: str = ""
    path: str = ""
    status: int = 0


@EVENTS.declare("ota.announce")
class OtaAnnounce:
    image: str = ""
    version: str = ""


@EVENTS.declare("ota.fetch")
class OtaFetch:
    image: str = ""
    status: int = 0
    size: int | None = None


@EVENTS.declare("ota.inform")
class OtaInform:
    version: str | None = None
    error: str | None = None           # a malformed report
    payload: bytes | None = None


@EVENTS.declare("ota.progress")
class OtaProgress:
    step: str | None = None
    desc: str | None = None
    error: str | None = None
    payload: bytes | None = None


@EVENTS.declare("cloud.tls_unavailable")
class CloudTlsUnavailable:
    reason: str = ""


@EVENTS.declare("console.line")
class ConsoleLine:
    """A line of the firmware's debug console."""
    line: str = ""


@EVENTS.declare("session.error")
class SessionError:
    errors: list[str] | None = None


@EVENTS.declare("cloud.restart")
class CloudRestart:
    """The cloud stops and starts again on the same ports (Cloud.restart)."""


@EVENTS.declare("mqtt.shutdown_timeout")
class MqttShutdownTimeout:
    """The broker did not shut down within its time; its connections were closed."""


# ---- faults the simulator injects (pysim/faults/) -----------------------------------

@EVENTS.declare("fault.on")
class FaultOn:
    fault: str = ""


@EVENTS.declare("fault.off")
class FaultOff:
    fault: str = ""


@EVENTS.declare("fault.uart.break")
class FaultUartBreak:
    bytes: int = 0
    dir: str = ""


@EVENTS.declare("fault.net.on")
class FaultNetOn:
    fault: str = ""


@EVENTS.declare("fault.net.off")
class FaultNetOff:
    fault: str = ""


@EVENTS.declare("fault.net.refused")
class FaultNetRefused:
    service: str = ""


@EVENTS.declare("fault.net.upstream_error")
class FaultNetUpstreamError:
    service: str = ""
    error: str = ""


@EVENTS.declare("fault.net.dropped")
class FaultNetDropped:
    service: str = ""
    dir: str = ""
    bytes: int = 0


@EVENTS.declare("fault.net.reset")
class FaultNetReset:
    service: str = ""
    connections: int = 0


@EVENTS.declare("fault.net.down")
class FaultNetDown:
    service: str = ""
    connections: int = 0


@EVENTS.declare("fault.net.up")
class FaultNetUp:
    service: str = ""


def declared(kind: str) -> type:
    """The dataclass declaring ``kind`` (module or simulator); TypeError when none does."""
    return EVENTS.class_of(kind)


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
