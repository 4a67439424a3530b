"""Asyncio edge of the MQTT client: one TCP connection driving :mod:`mqtt_codec`.

No background task is used: an :class:`asyncio.Protocol` feeds received bytes
into the sans-I/O codec and a single loop timer handles keep-alive, so after
:meth:`MqttClient.disconnect`, :meth:`MqttClient.abort` or a lost connection
nothing of the client is left running.

Keep-alive rule: when nothing has been *sent* for ``keepalive`` seconds the
client sends PINGREQ; if no PINGRESP arrives within ``ping_timeout`` seconds
(default ``keepalive / 2``) the connection is declared lost. ``keepalive=0``
turns both off.

``on_connection_lost(reason)`` is called once, only for a loss the user did not
ask for (EOF from the broker, a socket error, a missing PINGRESP, a protocol
error); ``disconnect()`` and ``abort()`` do not call it. An instance carries
one connection: make a new one to reconnect.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl as ssl_module
from typing import Callable

from peripherals.deadline import within

from .mqtt_codec import (ConnectRefused, Connected, Event, MessageReceived, MqttClientProtocol,
                         PingResponse, ProtocolError, PublishDone, Subscribed, Unsubscribed)

log = logging.getLogger(__name__)


class MqttError(Exception):
    """Base class of this client's errors."""


class ConnectError(MqttError):
    """connect() failed: unreachable, timed out, or refused by the broker.

    ``return_code`` is the CONNACK code for a refusal, else ``None``.
    """

    def __init__(self, message: str, return_code: int | None = None) -> None:
        super().__init__(message)
        self.return_code = return_code


class ConnectionLost(MqttError):
    """The connection closed while an operation was waiting for its answer."""


class Pending:
    """An operation sent to the broker whose acknowledgement is awaited."""

    def __init__(self, packet_id: int, future: asyncio.Future[Event]) -> None:
        self.packet_id = packet_id
        self._future = future

    @property
    def future(self) -> asyncio.Future[Event]:
        """Resolves to the acknowledging event; a timeout of one's own may fail it (the
        client only completes it while it is pending)."""
        return self._future

    async def result(self, timeout: float) -> Event:
        """The acknowledging event; ``asyncio.TimeoutError`` after ``timeout`` s."""
        return await within(self._future, timeout)


class _Adapter(asyncio.Protocol):
    """Forwards transport callbacks to the client (keeps them off its public API)."""

    def __init__(self, client: MqttClient) -> None:
        self._client = client

    def data_received(self, data: bytes) -> None:
        self._client._on_data(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._client._on_transport_closed(exc)

    def pause_writing(self) -> None:
        self._client._write_ready.clear()

    def resume_writing(self) -> None:
        self._client._write_ready.set()


class MqttClient:
    """MQTT 3.1 / 3.1.1 client over one TCP connection."""

    def __init__(self, host: str, port: int, *, version: str = "3.1.1", client_id: str,
                 username: str | None = None, password: str | bytes | None = None,
                 clean_session: bool = True, keepalive: int = 60,
                 ping_timeout: float | None = None,
                 on_message: Callable[[MessageReceived], None] | None = None,
                 on_ping_response: Callable[[], None] | None = None,
                 on_connection_lost: Callable[[str], None] | None = None,
                 ssl: ssl_module.SSLContext | None = None) -> None:
        self.host, self.port = host, port
        self.ssl = ssl   # TLS when set (the server's name is checked against ``host``)
        self.client_id, self.username, self.password = client_id, username, password
        self.clean_session, self.keepalive = clean_session, keepalive
        self.ping_timeout = keepalive / 2 if ping_timeout is None else ping_timeout
        self.on_message = on_message
        self.on_ping_response = on_ping_response
        self.on_connection_lost = on_connection_lost
        self._codec = MqttClientProtocol(version)
        self._transport: asyncio.Transport | None = None
        self._connack: asyncio.Future[Event] | None = None
        self._pending: dict[int, asyncio.Future[Event]] = {}
        self._write_ready = asyncio.Event()
        self._write_ready.set()
        self._closed_waiter: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._last_send = 0.0
        self._ping_deadline: float | None = None
        self._established = False  # CONNACK accepted
        self._finished = False  # set once the connection is over, for whatever reason

    @property
    def version(self) -> str:
        return self._codec.version

    @property
    def connected(self) -> bool:
        return self._established and not self._finished

    # ----------------------------------------------------------- public API

    async def connect(self, timeout: float = 10.0) -> int:
        """Open TCP, send CONNECT, wait for CONNACK; return its code (0).

        Raises :class:`ConnectError` when the broker is unreachable, does not
        answer within ``timeout`` seconds, or refuses (``return_code`` set).
        """
        if self._transport is not None or self._finished:
            raise MqttError("connect() may be called once per MqttClient")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        where = f"{self.host}:{self.port}"
        self._connack = loop.create_future()
        self._closed_waiter = loop.create_future()
        # Queued first so that bad arguments fail before any socket is opened.
        self._codec.connect(self.client_id, username=self.username, password=self.password,
                            clean_session=self.clean_session, keepalive=self.keepalive)
        try:
            transport, _ = await asyncio.wait_for(
                loop.create_connection(lambda: _Adapter(self), self.host, self.port, ssl=self.ssl), timeout)
        except asyncio.TimeoutError:
            self._finished = True
            raise ConnectError(f"TCP connect to {where} timed out after {timeout:g} s") from None
        except OSError as exc:
            self._finished = True
            raise ConnectError(f"cannot reach MQTT broker at {where}: {exc}") from exc
        self._transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._flush()
        try:
            event = await asyncio.wait_for(asyncio.shield(self._connack),
                                           max(0.0, deadline - loop.time()))
        except asyncio.TimeoutError:
            self.abort()
            raise ConnectError(f"no CONNACK from {where} within {timeout:g} s") from None
        except BaseException:  # closed before CONNACK, or connect() cancelled
            self.abort()
            raise
        if isinstance(event, ConnectRefused):
            self.abort()
            raise ConnectError(f"MQTT broker at {where} refused the connection: "
                               f"{event.reason} (CONNACK {event.return_code})",
                               return_code=event.return_code)
        self._schedule_keepalive()
        return 0

    def start_publish(self, topic: str, payload: bytes | str, qos: int = 0,
                      retain: bool = False) -> Pending | None:
        """Send PUBLISH now; for QoS 1/2 return a :class:`Pending` that
        resolves on PUBACK/PUBCOMP (its ``packet_id`` is known at once)."""
        self._require_connected()
        data = payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)
        packet_id = self._codec.publish(topic, data, qos, retain)
        if qos:
            return self._track(packet_id)
        self._flush()
        return None

    async def publish(self, topic: str, payload: bytes | str, qos: int = 0,
                      retain: bool = False, timeout: float = 10.0) -> int:
        """Publish; return the packet id once the QoS handshake is complete.

        QoS 0 returns 0 as soon as the packet is written. Raises
        ``asyncio.TimeoutError`` if the handshake does not complete in time.
        """
        pending = self.start_publish(topic, payload, qos, retain)
        await self._drain()
        if pending is None:
            return 0
        await pending.result(timeout)
        return pending.packet_id

    def start_subscribe(self, topic: str, qos: int = 0) -> Pending:
        """Send SUBSCRIBE now; the :class:`Pending` resolves to ``Subscribed``."""
        self._require_connected()
        return self._track(self._codec.subscribe([(topic, qos)]))

    async def subscribe(self, topic: str, qos: int = 0, timeout: float = 10.0) -> int:
        """Subscribe to one filter; return the granted code (0, 1, 2 or 0x80 = refused)."""
        event = await self.start_subscribe(topic, qos).result(timeout)
        assert isinstance(event, Subscribed)
        return event.granted[0]

    async def unsubscribe(self, topic: str, timeout: float = 10.0) -> None:
        """Unsubscribe from one filter; return once UNSUBACK arrives."""
        self._require_connected()
        await self._track(self._codec.unsubscribe([topic])).result(timeout)

    async def disconnect(self, timeout: float = 2.0) -> None:
        """Send DISCONNECT and close the connection (idempotent)."""
        if self._finished:
            return
        if self._codec.connected:
            self._codec.disconnect()
            self._flush()
        transport, closed = self._transport, self._closed_waiter
        self._finish("disconnected by the client")
        if transport is None or closed is None:
            return
        transport.close()  # flushes DISCONNECT first
        try:
            await asyncio.wait_for(asyncio.shield(closed), timeout)
        except asyncio.TimeoutError:
            transport.abort()

    def abort(self) -> None:
        """Drop the connection at once, without DISCONNECT (idempotent)."""
        transport = self._transport
        if not self._finished:
            self._finish("aborted by the client")
        if transport is not None:
            transport.abort()

    # ----------------------------------------------------------- internals

    def _require_connected(self) -> None:
        if not self.connected:
            raise ConnectionLost("not connected")

    def _track(self, packet_id: int) -> Pending:
        future = asyncio.get_running_loop().create_future()
        self._pending[packet_id] = future
        self._flush()
        return Pending(packet_id, future)

    def _flush(self) -> None:
        data = self._codec.data_to_send()
        if data and self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)
            self._last_send = asyncio.get_running_loop().time()

    async def _drain(self) -> None:
        await self._write_ready.wait()

    def _on_data(self, data: bytes) -> None:
        events = self._codec.receive_data(data)
        self._flush()  # acknowledgements the codec queued
        for event in events:
            if self._finished:
                return
            self._dispatch(event)

    def _dispatch(self, event: Event) -> None:
        if isinstance(event, (Connected, ConnectRefused)):
            self._established = isinstance(event, Connected)
            if self._connack is not None and not self._connack.done():
                self._connack.set_result(event)
        elif isinstance(event, MessageReceived):
            self._call(self.on_message, event)
        elif isinstance(event, (PublishDone, Subscribed, Unsubscribed)):
            future = self._pending.pop(event.packet_id, None)
            if future is not None and not future.done():
                future.set_result(event)
        elif isinstance(event, PingResponse):
            self._ping_deadline = None
            self._call(self.on_ping_response)
        elif isinstance(event, ProtocolError):
            self._lose(f"protocol error: {event.reason}")

    def _call(self, callback: Callable[..., None] | None, *args: object) -> None:
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:  # a faulty callback must not kill the connection
            log.exception("MQTT client callback %r failed", callback)

    def _on_transport_closed(self, exc: Exception | None) -> None:
        if self._closed_waiter is not None and not self._closed_waiter.done():
            self._closed_waiter.set_result(None)
        self._lose("connection closed by the broker" if exc is None
                   else f"connection error: {exc}")

    def _lose(self, reason: str) -> None:
        """The connection is gone without the user asking: report it once."""
        if self._finished:
            return
        self._finish(reason)
        if self._transport is not None:
            self._transport.abort()
        if self._established:
            self._call(self.on_connection_lost, reason)

    def _finish(self, reason: str) -> None:
        """Stop the timer and fail every waiter; the connection is over."""
        self._finished = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._connack is not None and not self._connack.done():
            self._connack.set_exception(ConnectError(f"{self.host}:{self.port}: {reason}"))
            self._connack.exception()  # mark retrieved: connect() may be gone already
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionLost(reason))
                future.exception()
        self._pending.clear()
        self._write_ready.set()

    def _schedule_keepalive(self) -> None:
        if not self.keepalive or self._finished:
            return
        due = (self._ping_deadline if self._ping_deadline is not None
               else self._last_send + self.keepalive)
        self._timer = asyncio.get_running_loop().call_at(due, self._on_keepalive_timer)

    def _on_keepalive_timer(self) -> None:
        self._timer = None
        now = asyncio.get_running_loop().time()
        slack = 0.005  # call_at may fire up to one clock resolution early
        if self._ping_deadline is not None:
            if now + slack >= self._ping_deadline:
                self._lose(f"no PINGRESP within {self.ping_timeout:g} s")
                return
        elif now + slack >= self._last_send + self.keepalive:
            self._codec.ping()
            self._flush()
            self._ping_deadline = now + self.ping_timeout
        self._schedule_keepalive()
