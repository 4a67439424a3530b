"""The cloud's MQTT broker: amqtt 0.12.1 in-process, with the device scheme of DECISIONS §18.

* ``CloudAuthPlugin`` checks CONNECT credentials: a registered device's signature
  (username ``<dn>&<pk>``, password = sign over the client id of
  ``<clientId>|securemode=3,signmethod=hmacsha1|``), or the service user
  (username ``service``, password ``MqttBroker.service_password``).
  amqtt answers a refused CONNECT with CONNACK 5 (not authorised).
* ``CloudTopicPlugin`` allows a device only its own topics
  (``DeviceCredentials.owns_topic``): a foreign PUBLISH is dropped, a foreign
  SUBSCRIBE gets SUBACK 0x80. The service user may use any topic.
* The client identifier is bound to the device (issue 10, defect 1): a device's plain
  client id (before ``|``) must be its own ``<pk>.<dn>``, so no device can sign in under
  another's id and take over its persistent session.
* ``_run_broadcast`` of amqtt 0.12.1 iterates the live subscription table across awaits
  and dies with ``RuntimeError: dictionary changed size during iteration`` under
  connect/subscribe/disconnect churn (the message is then lost for everyone); the
  broker's table is replaced by ``SnapshotSubscriptions`` whose iteration works on a
  copy (issue 10, defect 7; see docs/security.md).
* Persistent sessions (clean session 0) outlive a stop: ``stop()`` saves each one's
  subscriptions and the messages it has not acknowledged or not yet received, and the
  next ``start()`` puts them back as offline sessions (``SavedSession``), so a broker
  restart loses nothing a device with CLEAN=0 and QoS 1/2 is owed.
* Both report to the cloud's ``EventLog``: ``mqtt.connect``, ``mqtt.auth_fail``,
  ``mqtt.disconnect``, ``mqtt.subscribe``, ``mqtt.publish``, ``mqtt.denied``.

TCP_NODELAY: amqtt serves with ``asyncio.start_server``, whose socket transports
set TCP_NODELAY on every accepted TCP socket (CPython's selector transport does),
so the broker adds nothing; ``tests/cloud/test_mqtt.py`` checks the QoS 1 latency.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from amqtt.broker import Broker, RetainedApplicationMessage
from amqtt.contexts import Action
from amqtt.errors import BrokerError
from amqtt.mqtt.connect import ConnectVariableHeader
from amqtt.plugins.base import BaseAuthPlugin, BasePlugin, BaseTopicPlugin
from amqtt.session import Session

from pysim.devauth import DeviceCredentials, parse_mqtt_client_identifier, parse_mqtt_username
from pysim.events import EventLog

from .ports import bind_with_retry, free_port
from .registry import DeviceRegistry
from .tls import TlsFiles

SERVICE_USER = "service"

# --- MQTT 3.1 shim ---------------------------------------------------------------
# amqtt 0.12.1 accepts only protocol name "MQTT" level 4 (3.1.1): BrokerProtocolHandler.
# init_from_connect refuses MQTT 3.1 ("MQIsdp", level 3) with CONNACK 1. The CONNECT
# layout of 3.1 and 3.1.1 is the same for what the broker reads, so the shim below
# rewrites exactly that one pair after the variable header is decoded, and keeps the
# original level in ``header.original_proto_level``. Nothing else in amqtt changes.
# It is process-wide (a class attribute) and installed once, by MqttBroker.start.
_MQTT31 = ("MQIsdp", 3)


def install_mqtt31_shim() -> None:
    """Let amqtt's broker accept MQTT 3.1 CONNECTs (idempotent)."""
    if getattr(ConnectVariableHeader.from_stream, "pysim_mqtt31_shim", False):
        return
    decode = ConnectVariableHeader.from_stream.__func__

    async def from_stream(cls, reader, fixed_header):
        header = await decode(cls, reader, fixed_header)
        if (header.proto_name, header.proto_level) == _MQTT31:
            header.original_proto_level = header.proto_level
            header.proto_name, header.proto_level = "MQTT", 4
        return header

    from_stream.pysim_mqtt31_shim = True
    ConnectVariableHeader.from_stream = classmethod(from_stream)


# --- amqtt 0.12.1 broadcast under churn ------------------------------------------
class _SnapshotList(list):
    """A subscription list whose iteration runs over a copy: a subscriber removed while a
    broadcast awaits does not make the loop skip the next one."""

    def __iter__(self):
        return iter(self.copy())


class SnapshotSubscriptions(dict):
    """amqtt's ``Broker._subscriptions`` (filter -> [(session, qos)]) with iteration over a
    copy. ``Broker._run_broadcast`` walks ``items()`` and awaits the topic plugins inside
    the loop; a client subscribing or leaving meanwhile changes the dict, and the live
    iterator raised ``RuntimeError: dictionary changed size during iteration``. Every
    other use (lookups, ``setdefault``-style insertion, ``del``) is the plain dict's."""

    def __setitem__(self, key, value) -> None:
        super().__setitem__(key, value if isinstance(value, _SnapshotList) else _SnapshotList(value))

    def __iter__(self):
        return iter(list(super().keys()))

    def keys(self):
        return list(super().keys())

    def values(self):
        return list(super().values())

    def items(self):
        return list(super().items())


def install_snapshot_subscriptions(broker: Broker) -> None:
    """Give ``broker`` the churn-safe subscription table (before it starts)."""
    table = SnapshotSubscriptions()
    for key, value in broker._subscriptions.items():
        table[key] = value
    broker._subscriptions = table


# --- who a session is ------------------------------------------------------------
@dataclass(frozen=True)
class Identity:
    """An authenticated broker user: a device (``creds``) or the service user."""

    creds: DeviceCredentials | None

    @property
    def is_service(self) -> bool:
        return self.creds is None

    @property
    def device(self) -> tuple[str, str] | None:
        return self.creds.key if self.creds else None

    def may_use(self, topic: str) -> bool:
        return self.is_service or self.creds.owns_topic(topic)


@dataclass
class SavedSession:
    """A persistent session kept across a broker restart."""

    client_id: str
    username: str | None
    filters: list[tuple[str, int]]
    queued: list[tuple[str, bytes, int]]    # (topic, payload, qos) still owed to the client


def save_sessions(broker: Broker) -> list[SavedSession]:
    """The broker's persistent sessions: subscriptions, and the messages queued for them
    or sent and not yet acknowledged (sent again after the restart, MQTT 3.1.1 §4.4;
    a QoS 2 message the client has already acknowledged with PUBREC is not)."""
    saved = []
    for client_id, (session, _handler) in list(broker._sessions.items()):
        if session.clean_session or session.is_anonymous:
            continue
        filters = [(topic_filter, qos) for topic_filter, subscribers in broker._subscriptions.items()
                   for subscriber, qos in subscribers if subscriber.client_id == client_id]
        queued = [(m.topic, bytes(m.data or b""), m.qos) for m in session.inflight_out.values()
                  if (m.qos == 1 and m.puback_packet is None) or (m.qos == 2 and m.pubrec_packet is None)]
        while not session.retained_messages.empty():
            message = session.retained_messages.get_nowait()
            queued.append((message.topic, bytes(message.data or b""), message.qos))
        saved.append(SavedSession(client_id, session.username, filters, queued))
    return saved


def restore_sessions(broker: Broker, saved: list[SavedSession]) -> None:
    """Put saved sessions back into a started broker as offline (disconnected) sessions."""
    for item in saved:
        handler, session = broker.create_offline_session(item.client_id)
        session.clean_session = False
        session.username = item.username
        broker._sessions[item.client_id] = (session, handler)
        for topic_filter, qos in item.filters:
            broker._subscriptions[topic_filter] = [*broker._subscriptions.get(topic_filter, []), (session, qos)]
        for topic, payload, qos in item.queued:
            session.retained_messages.put_nowait(RetainedApplicationMessage(None, topic, payload, qos))


class MqttBroker:
    """amqtt broker on ``host:port`` that knows the cloud's devices."""

    def __init__(self, registry: DeviceRegistry, events: EventLog, service_password: str,
                 on_message: Callable[[str, bytes], None] | None = None) -> None:
        self.registry = registry
        self.events = events
        self.service_password = service_password
        self.on_message = on_message
        self.host: str | None = None
        self.port: int | None = None
        self.tls_port: int | None = None
        self._broker: Broker | None = None
        self._connections: dict[asyncio.Task, asyncio.StreamWriter] = {}
        self.saved_sessions: list[SavedSession] = []   # persistent sessions between stop() and start()
        self._sessions_ready = asyncio.Event()

    # -- life
    async def start(self, host: str = "127.0.0.1", port: int = 0, tls: TlsFiles | None = None,
                    tls_port: int = 0) -> int:
        """Serve MQTT on ``port`` and, with ``tls``, MQTT over TLS on ``tls_port``."""
        install_mqtt31_shim()
        self.host = host
        self._sessions_ready = asyncio.Event()   # a client that connects this early waits for it
        self._broker, self.port = await bind_with_retry(
            lambda p: self._start_broker(host, p, tls, tls_port), host, port, retry_on=(BrokerError, OSError))
        restore_sessions(self._broker, self.saved_sessions)
        self.saved_sessions = []
        self._sessions_ready.set()
        return self.port

    async def _start_broker(self, host: str, port: int, tls: TlsFiles | None, tls_port: int) -> Broker:
        def bind(p: int) -> str:
            return f"[{host}]:{p}" if ":" in host else f"{host}:{p}"

        listeners: dict = {"default": {"type": "tcp", "bind": bind(port)}}
        if tls is not None:
            self.tls_port = tls_port or free_port(host)
            listeners["tls"] = {"type": "tcp", "bind": bind(self.tls_port), "ssl": True,
                                "certfile": str(tls.cert_file), "keyfile": str(tls.key_file)}
        plugin_config = {"broker": self}
        broker = Broker({
            "listeners": listeners,
            "plugins": {
                f"{__name__}.CloudAuthPlugin": plugin_config,
                f"{__name__}.CloudTopicPlugin": plugin_config,
            },
        })
        # amqtt's start_server callback is looked up on the instance at start: wrap it to
        # know every connection, so stop() can end those amqtt's shutdown leaves open
        # (a client that never sent CONNECT waits for it forever otherwise).
        install_snapshot_subscriptions(broker)
        broker.stream_connected = functools.partial(self._serve_connection, broker.stream_connected)
        await broker.start()
        return broker

    async def _serve_connection(self, serve, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                                listener_name: str) -> None:
        task = asyncio.current_task()
        self._connections[task] = writer
        try:
            # amqtt listens before start() returns: a client reconnecting at once must not
            # get a fresh session before the saved ones are back
            await self._sessions_ready.wait()
            await serve(reader, writer, listener_name=listener_name)
        finally:
            self._connections.pop(task, None)

    async def stop(self) -> None:
        """Close every connection; persistent sessions are kept for the next ``start()``."""
        broker, self._broker = self._broker, None
        if broker is not None:
            # messages already accepted are broadcast and handed to the connected clients first
            # (at most 2 s); what a client has not acknowledged then stays in its session
            for _ in range(400):
                if broker._broadcast_queue.empty() and all(t.done() for t in broker._tasks_queue):
                    break
                await asyncio.sleep(0.005)
            # Clients first: each connection ends by EOF, as when a client goes away. amqtt's
            # shutdown would cancel each connection's reader task and wait for it to say it
            # stopped, and under Python 3.11's wait_for a cancellation racing a read can be
            # lost: that shutdown then waited forever (seen in the restart accounting test).
            connections = dict(self._connections)
            for writer in connections.values():
                writer.close()
            if connections:
                await asyncio.wait(connections, timeout=5)
            self.saved_sessions = save_sessions(broker)
            try:
                await asyncio.wait_for(broker.shutdown(), 10)
            except asyncio.TimeoutError:
                self.events.emit("mqtt.shutdown_timeout", None)
        connections, self._connections = self._connections, {}
        for task, writer in connections.items():
            writer.close()
            task.cancel()
        await asyncio.gather(*connections, return_exceptions=True)

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def tls_url(self) -> str | None:
        return f"mqtts://{self.host}:{self.tls_port}" if self.tls_port else None

    # -- identities
    def identify(self, username: str | None, password: str | None, client_identifier: str | None
                 ) -> tuple[Identity | None, str]:
        """Check CONNECT credentials: (identity or None, reason)."""
        if not username:
            return None, "no username"
        if username == SERVICE_USER:
            if hmac.compare_digest((password or "").encode(), self.service_password.encode()):
                return Identity(None), "service"
            return None, "bad service password"
        parsed = parse_mqtt_username(username)
        if parsed is None:
            return None, "malformed username"
        pk, dn = parsed
        if self.registry.get(pk, dn) is None:
            return None, "unknown device"
        client_id = parse_mqtt_client_identifier(client_identifier or "")
        creds = self.registry.verify(pk, dn, client_id, password or "")
        if creds is None:
            return None, "bad sign"
        if client_id != creds.client_id:
            # a valid sign over someone else's id: the session of that id is not this device's
            return None, "client id of another device"
        return Identity(creds), "device"

    def session_identity(self, session: Session | None) -> Identity | None:
        """The identity of an already authenticated session (None if it has none now)."""
        if session is None or not session.username:
            return None
        if session.username == SERVICE_USER:
            return Identity(None)
        parsed = parse_mqtt_username(session.username)
        creds = self.registry.get(*parsed) if parsed else None
        return Identity(creds) if creds else None

    # -- publishing
    async def publish(self, topic: str, payload: bytes, qos: int | None = None, *,
                      device: tuple[str, str] | None = None, source: str = "cloud") -> None:
        """Deliver a message from inside the cloud to the broker's subscribers.

        ``qos`` None delivers at each subscription's QoS.
        """
        if self._broker is None:
            raise RuntimeError("the MQTT broker is not running")
        self.message_published(topic, bytes(payload), qos, device=device, source=source)
        await self._broker.internal_message_broadcast(topic, bytes(payload), qos)

    def message_published(self, topic: str, payload: bytes, qos: int | None, *,
                          device: tuple[str, str] | None, source: str, client_id: str | None = None) -> None:
        """Record a message the broker is about to deliver, then tell the cloud."""
        detail: dict[str, Any] = {"topic": topic, "payload": payload, "qos": qos, "source": source}
        if client_id is not None:
            detail["client_id"] = client_id
        self.events.emit("mqtt.publish", device, **detail)
        if self.on_message is not None:
            self.on_message(topic, payload)


class _CloudPlugin(BasePlugin):
    @dataclass
    class Config:
        broker: Any = None

    @property
    def broker(self) -> MqttBroker:
        return self.config.broker


class CloudAuthPlugin(_CloudPlugin, BaseAuthPlugin):
    """CONNECT check against the device registry and the service password."""

    async def authenticate(self, *, session: Session) -> bool:
        identity, reason = self.broker.identify(session.username, session.password, session.client_id)
        if identity is None:
            parsed = parse_mqtt_username(session.username or "")
            self.broker.events.emit("mqtt.auth_fail", parsed, client_id=session.client_id,
                                    username=session.username, reason=reason)
            return False
        return True

    async def on_broker_client_connected(self, *, client_id: str, client_session: Session) -> None:
        if client_session.parent == 1:
            # amqtt 0.12 reuses a cached session for a CONNECT with clean session 0
            # (parent = 1 marks exactly that path) but keeps the cached session's
            # clean_session flag: after one clean connection under this client id, the
            # persistent session would queue nothing while offline (MQTT 3.1.1 §3.1.2.4).
            client_session.clean_session = False
        identity = self.broker.session_identity(client_session)
        self.broker.events.emit("mqtt.connect", identity.device if identity else None,
                                client_id=client_id, username=client_session.username)

    async def on_broker_client_disconnected(self, *, client_id: str, client_session: Session) -> None:
        identity = self.broker.session_identity(client_session)
        self.broker.events.emit("mqtt.disconnect", identity.device if identity else None, client_id=client_id)


class CloudTopicPlugin(_CloudPlugin, BaseTopicPlugin):
    """Topic ACL: a device only its own topics, the service user everything."""

    async def topic_filtering(self, *, session: Session | None = None, topic: str | None = None,
                              action: Action | None = None) -> bool:
        identity = self.broker.session_identity(session)
        if identity is not None and topic and identity.may_use(topic):
            return True
        self.broker.events.emit("mqtt.denied", identity.device if identity else None,
                                action=str(action), topic=topic,
                                client_id=session.client_id if session else None)
        return False

    async def on_broker_client_subscribed(self, *, client_id: str, topic: str, qos: int) -> None:
        session = self.context.get_session(client_id)
        identity = self.broker.session_identity(session)
        self.broker.events.emit("mqtt.subscribe", identity.device if identity else None,
                                client_id=client_id, topic=topic, qos=qos)

    async def on_broker_message_broadcast(self, *, client_id: str, message: Any) -> None:
        identity = self.broker.session_identity(self.context.get_session(client_id))
        self.broker.message_published(message.topic, bytes(message.data or b""), message.qos,
                                      device=identity.device if identity else None,
                                      source="mqtt", client_id=client_id)


__all__ = ["MqttBroker", "SERVICE_USER", "install_mqtt31_shim", "CloudAuthPlugin", "CloudTopicPlugin"]
