"""MQTT commands (spec §5): AUTH, PARA, MODE, CONN, PUB, PUBIN, SUB, UNSUB,
RCVPUB, RCVPUBIN, STATE, DISCONN, DBGPARA, PINGRSP."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any, Awaitable, Callable

from ..devauth import DeviceCredentials, mqtt_connect_fields

from ..at import BadParams, Command, CommandTable, DataEntry, NotAllowed, Reply, command_args, from_at, quote, to_at
from ..interfaces import ModuleContext
from ..net.mqtt_client import MqttClient
from ..net.mqtt_codec import MessageReceived
from ..profiles import profile
from .auth import AuthCommand
from .para import ParaCommand
from .received import Received
from .replies import last_line, ok_reply

DISCONNECTED, CONNECTED = 0, 2   # state 1 is reserved and never reported (DECISIONS §14)
STATUS_OK, STATUS_TIMEOUT, STATUS_ERROR = 0, 1, 2
SUB_FAILURE = 128


def _check_topic(topic: str, *, filter_ok: bool) -> None:
    if not topic:
        raise BadParams("topic is empty")
    if len(topic.encode()) > 65535:
        raise BadParams("topic too long")
    if not filter_ok and ("+" in topic or "#" in topic):
        raise BadParams("a publish topic cannot hold the wildcards + or #")


class MqttCommands:
    def __init__(self, ctx: ModuleContext, table: CommandTable,
                 system_topics: Callable[[DeviceCredentials], list[str]] = lambda creds: [],
                 on_connected: Callable[[], None] = lambda: None,
                 on_system_message: Callable[[str, bytes], bool] = lambda t, p: False) -> None:
        self.ctx = ctx
        self.system_topics = system_topics           # the module's own subscriptions (OTA)
        self.on_connected = on_connected
        self.on_system_message = on_system_message   # OTA topics: taken by the module itself
        self.para = ParaCommand(table, "+IMQTTPARA")
        self.dbg = ParaCommand(table, "+IMQTTDBGPARA")
        self.auth = AuthCommand(ctx, table, "+IMQTTAUTH", "mqtt_auth", self._authenticate,
                                precheck=self._not_connected)
        self.mode = int(ctx.nv.get("mqtt_mode", 0))
        self.client: MqttClient | None = None
        self.state = DISCONNECTED
        self.connecting = False
        self._disconnecting: asyncio.Task | None = None
        self.last_pub: list[str] | None = None
        self.last_pubin: tuple[list[str], bytes] | None = None
        self.last_sub: list[str] | None = None
        self.last_unsub: list[str] | None = None
        self.received = Received(ctx, table, "+IMQTTRCVPUB", "+IMQTTRCVPUBIN")
        table.command("+IMQTTMODE", test=lambda _c: Reply(['+IMQTTMODE:"mode"']),
                      query=lambda _c: Reply([f"+IMQTTMODE:{self.mode}"]), set=self.set_mode)
        table.command("+IMQTTCONN", test=ok_reply, execute=self.connect)
        table.command("+IMQTTPUB", test=lambda _c: Reply(['+IMQTTPUB:"topic","qos","message"']),
                      query=lambda _c: last_line("+IMQTTPUB", self.last_pub), set=self.publish)
        table.command("+IMQTTPUBIN", test=lambda _c: Reply(['+IMQTTPUBIN:"topic","qos","msg_len"']),
                      query=self.query_pubin, set=self.publish_bin)
        table.command("+IMQTTSUB", test=lambda _c: Reply(['+IMQTTSUB:"topic","qos"']),
                      query=lambda _c: last_line("+IMQTTSUB", self.last_sub), set=self.subscribe)
        table.command("+IMQTTUNSUB", test=lambda _c: Reply(['+IMQTTUNSUB:"topic"']),
                      query=lambda _c: last_line("+IMQTTUNSUB", self.last_unsub), set=self.unsubscribe)
        table.command("+IMQTTSTATE", test=ok_reply, query=lambda _c: Reply([self._state_line(self.state)]))
        table.command("+IMQTTDISCONN", test=ok_reply, execute=self.disconnect)
        table.command("+IMQTTPINGRSP", test=ok_reply)

    # ---- helpers ---------------------------------------------------------
    def _state_line(self, state: int) -> str:
        """``+IMQTTSTATE:<state>``; a profile may report a connected link as 1 (profiles.py)."""
        reported = profile(self.ctx.config.profile).mqtt_connected if state == CONNECTED else state
        return f"+IMQTTSTATE:{reported}"

    @property
    def timeout(self) -> float:
        return float(self.para["TIMEOUT"])

    @property
    def credentials(self) -> DeviceCredentials | None:
        return self.auth.credentials

    def _not_connected(self) -> None:
        if self.state == CONNECTED or self.connecting:
            raise NotAllowed("MQTT is connected: AT+IMQTTDISCONN first")

    def _require_connected(self) -> MqttClient:
        if self.state != CONNECTED or self.client is None:
            raise NotAllowed("MQTT is not connected (AT+IMQTTCONN, then wait for +IMQTTSTATE:2)")
        return self.client

    def _endpoint(self) -> tuple[str, int]:
        """Mode 0: the plain MQTT server; mode 1: the MQTT-over-TLS one (AT+IMQTTMODE)."""
        scheme = "mqtts" if self.mode == 1 else "mqtt"
        endpoint = self.ctx.config.endpoint(scheme)
        if endpoint is None:
            raise ConnectionError(f"no {scheme}:// server configured"
                                  + (" (AT+IMQTTMODE=1 needs one)" if self.mode == 1 else ""))
        return endpoint

    def _tls_context(self) -> ssl.SSLContext | None:
        if self.mode != 1:
            return None
        ca = self.ctx.config.ca_file
        return ssl.create_default_context(cafile=str(ca) if ca else None)

    def _new_client(self, creds: DeviceCredentials, para: dict[str, Any], *, for_auth: bool = False) -> MqttClient:
        host, port = self._endpoint()
        # the AUTH check has an identifier of its own: its clean CONNECT must not wipe the
        # device's persistent session (CLEAN=0) under the real one (issue 10, defect 2)
        client_identifier, username, password = mqtt_connect_fields(creds, tls=self.mode == 1,
                                                                    credential_check=for_auth)
        return MqttClient(
            host, port, version=para["VERSION"], client_id=client_identifier,
            username=username, password=password,
            clean_session=bool(para["CLEAN"]) or for_auth, ssl=self._tls_context(),
            keepalive=int(para["KEEPALIVE"]),
            on_message=None if for_auth else self._on_message,
            on_ping_response=None if for_auth else self._on_ping_response,
            on_connection_lost=None if for_auth else self._on_connection_lost)

    # ---- AUTH, MODE, CONN, DISCONN ----------------------------------------
    def _authenticate(self, creds: DeviceCredentials) -> Awaitable[tuple[bool, str]]:
        """Check the credentials with the broker itself: a CONNECT, its CONNACK, a DISCONNECT,
        with the parameters (AT+IMQTTPARA) in effect when the command came."""
        return self._check_credentials(creds, self.para.snapshot())

    async def _check_credentials(self, creds: DeviceCredentials, para: dict[str, Any]) -> tuple[bool, str]:
        client = self._new_client(creds, para, for_auth=True)
        try:
            code = await client.connect(timeout=max(float(para["TIMEOUT"]), 2.0))
        except Exception as error:
            return False, f"{type(error).__name__}: {error}"
        await client.disconnect()
        return code == 0, f"CONNACK {code}"

    def set_mode(self, cmd: Command) -> Reply:
        [self.mode] = command_args(cmd)
        return Reply()

    def connect(self, cmd: Command) -> Reply:
        self._not_connected()
        creds = self.credentials
        if creds is None:
            raise NotAllowed("not authenticated: AT+IMQTTAUTH first and wait for +IMQTTAUTH:OK")
        self.connecting = True
        self.ctx.spawn(self._connect(creds, self.para.snapshot()), "mqtt connect")   # the parameters of now
        return Reply()

    async def _connect(self, creds: DeviceCredentials, para: dict[str, Any]) -> None:
        if self._disconnecting is not None:
            await asyncio.gather(self._disconnecting, return_exceptions=True)   # its URC comes first
        client: MqttClient | None = None
        try:
            client = self._new_client(creds, para)
            timeout = max(float(para["TIMEOUT"]), 2.0)
            code = await client.connect(timeout=timeout)
            if code != 0:
                raise ConnectionRefusedError(f"CONNACK {code}")
            # connected means ready: the module's own subscriptions are in place first
            for topic in self.system_topics(creds):
                await client.subscribe(topic, 1, timeout=timeout)
        except Exception as error:
            if client is not None:
                client.abort()
            self.connecting = False
            self.ctx.emit("net.mqtt", what="connect failed", reason=f"{type(error).__name__}: {error}")
            self.ctx.urc(f"+IMQTTSTATE:{DISCONNECTED}")
            return
        self.client = client
        self.connecting = False
        self.state = CONNECTED
        self.ctx.emit("net.mqtt", what="connected")
        self.ctx.urc(self._state_line(CONNECTED))
        self.on_connected()

    def disconnect(self, cmd: Command) -> Reply:
        client = self._require_connected()
        self.client, self.state = None, DISCONNECTED
        self._disconnecting = self.ctx.spawn(self._disconnect(client), "mqtt disconnect")
        return Reply()

    async def _disconnect(self, client: MqttClient) -> None:
        """DISCONNECT first, then report the link down: a TE that sees +IMQTTSTATE:0 knows
        the broker has been told (a persistent session then queues what comes meanwhile)."""
        try:
            await client.disconnect()
        finally:
            self.ctx.emit("net.mqtt", what="down", reason="disconnected by AT+IMQTTDISCONN")
            self.ctx.urc(f"+IMQTTSTATE:{DISCONNECTED}")

    def _went_down(self, reason: str) -> None:
        if self.state == DISCONNECTED:
            return
        self.state = DISCONNECTED
        self.client = None
        self.ctx.emit("net.mqtt", what="down", reason=reason)
        self.ctx.urc(f"+IMQTTSTATE:{DISCONNECTED}")

    def _on_connection_lost(self, reason: str) -> None:
        self._went_down(f"connection lost: {reason}")

    async def shutdown(self, graceful: bool) -> None:
        """For a reboot: DISCONNECT after in-flight frames (graceful) or drop at once."""
        client, self.client = self.client, None
        self.state = DISCONNECTED
        self.connecting = False
        self.auth.reset()
        if client is None:
            return
        if graceful:
            await client.disconnect()
        else:
            client.abort()

    # ---- PUB, PUBIN -------------------------------------------------------
    def publish(self, cmd: Command) -> Reply:
        topic, qos, message = command_args(cmd)
        _check_topic(topic, filter_ok=False)
        client = self._require_connected()
        packet_id = self.ctx.next_id()
        self.last_pub = [quote(topic), str(qos), quote(message)]
        payload = message.encode("latin-1")  # lines are read as latin-1: the TE's bytes, unchanged
        if qos > 0:
            self._publish_acknowledged("+IMQTTPUB", client, packet_id, from_at(topic), payload, qos, self.timeout)
        else:
            report = profile(self.ctx.config.profile).qos0_publish_result
            self.ctx.spawn(self._publish("+IMQTTPUB", client, packet_id, from_at(topic), payload, qos, self.timeout,
                                         report=report), "mqtt publish")
        return Reply([f"+IMQTTPUB:{packet_id}"])

    def publish_bin(self, cmd: Command) -> Reply:
        topic, qos, length = command_args(cmd)
        _check_topic(topic, filter_ok=False)
        self._require_connected()

        def complete(payload: bytes) -> Reply:
            client = self._require_connected()
            packet_id = self.ctx.next_id()
            self.last_pubin = ([quote(topic), str(qos), str(len(payload))], payload)
            self.ctx.spawn(self._publish("+IMQTTPUBIN", client, packet_id, from_at(topic), payload, qos,
                                         self.timeout), "mqtt publish")
            return Reply([f"+IMQTTPUBIN:{packet_id}"])

        return Reply(final=None, data_entry=DataEntry(length, complete))

    def query_pubin(self, cmd: Command) -> Reply:
        if self.last_pubin is None:
            return Reply()
        fields, payload = self.last_pubin
        return Reply(["+IMQTTPUBIN:" + ",".join(fields)], payload=payload)

    async def _publish(self, name: str, client: MqttClient, packet_id: int, topic: str,
                       payload: bytes, qos: int, timeout: float, *, report: bool = True) -> None:
        # timeout (and every other parameter): as it was when the command came, not when this runs
        operation = client.publish(topic, payload, qos, timeout=timeout)
        if report:
            await self._report(name, packet_id, "publish", operation)
            return
        try:
            await operation
        except Exception as error:   # no result URC to carry it: the trace shows it
            self.ctx.emit("net.mqtt", what="publish failed", reason=f"{type(error).__name__}: {error}")

    def _publish_acknowledged(self, name: str, client: MqttClient, packet_id: int, topic: str,
                              payload: bytes, qos: int, timeout: float) -> None:
        """A QoS 1/2 publish without a task (what a fleet's modules do thousands of times a
        second): PUBLISH written now, its result URC from the acknowledgement's callback,
        within ``timeout`` (ctx.track). The same results as :meth:`_publish`."""
        try:
            pending = client.start_publish(topic, payload, qos)
        except Exception as error:
            self._published(name, packet_id, error)
            return
        assert pending is not None
        self.ctx.track(pending.future, "mqtt publish", timeout)
        pending.future.add_done_callback(lambda future: self._published(name, packet_id, future))

    def _published(self, name: str, packet_id: int, outcome: asyncio.Future[Any] | Exception) -> None:
        if isinstance(outcome, asyncio.Future):
            if outcome.cancelled():          # the module stopped or rebooted: nothing to say
                return
            outcome = outcome.exception()
        self._result(name, packet_id, "publish", outcome, STATUS_OK)

    async def _report(self, name: str, packet_id: int, what: str, operation: Awaitable[Any], *,
                      status_of: Callable[[Any], int] = lambda _result: STATUS_OK,
                      on_timeout: int = STATUS_TIMEOUT, on_error: int = STATUS_ERROR) -> None:
        """Run a network operation and send its result URC ``<name>:<packet_id>,<status>``."""
        try:
            status = status_of(await operation)
        except Exception as error:
            self._result(name, packet_id, what, error, on_timeout=on_timeout, on_error=on_error)
            return
        self._result(name, packet_id, what, None, status)

    def _result(self, name: str, packet_id: int, what: str, error: BaseException | None, status: int = STATUS_OK,
                *, on_timeout: int = STATUS_TIMEOUT, on_error: int = STATUS_ERROR) -> None:
        """The result URC ``<name>:<packet_id>,<status>`` of a network operation: ``status``
        when it succeeded (``error`` None), else the status its error stands for."""
        if isinstance(error, asyncio.TimeoutError):
            status = on_timeout
        elif error is not None:
            self.ctx.emit("net.mqtt", what=f"{what} failed", reason=f"{type(error).__name__}: {error}")
            status = on_error
        self.ctx.urc(f"{name}:{packet_id},{status}")

    # ---- SUB, UNSUB -------------------------------------------------------
    def subscribe(self, cmd: Command) -> Reply:
        topic, qos = command_args(cmd)
        _check_topic(topic, filter_ok=True)
        client = self._require_connected()
        packet_id = self.ctx.next_id()
        self.last_sub = [quote(topic), str(qos)]
        self.ctx.spawn(self._subscribe(client, packet_id, from_at(topic), qos, self.timeout), "mqtt subscribe")
        return Reply([f"+IMQTTSUB:{packet_id}"])

    async def _subscribe(self, client: MqttClient, packet_id: int, topic: str, qos: int, timeout: float) -> None:
        # the SUBACK code is the status; a timeout is a failure too (errata #65)
        await self._report("+IMQTTSUB", packet_id, "subscribe", client.subscribe(topic, qos, timeout=timeout),
                           status_of=lambda granted: granted if granted in (0, 1, 2) else SUB_FAILURE,
                           on_timeout=SUB_FAILURE, on_error=SUB_FAILURE)

    def unsubscribe(self, cmd: Command) -> Reply:
        [topic] = command_args(cmd)
        _check_topic(topic, filter_ok=True)
        client = self._require_connected()
        packet_id = self.ctx.next_id()
        self.last_unsub = [quote(topic)]
        self.ctx.spawn(self._unsubscribe(client, packet_id, from_at(topic), self.timeout), "mqtt unsubscribe")
        return Reply([f"+IMQTTUNSUB:{packet_id}"])

    async def _unsubscribe(self, client: MqttClient, packet_id: int, topic: str, timeout: float) -> None:
        await self._report("+IMQTTUNSUB", packet_id, "unsubscribe", client.unsubscribe(topic, timeout=timeout))

    # ---- received ---------------------------------------------------------
    def _on_message(self, message: MessageReceived) -> None:
        if self.on_system_message(message.topic, message.payload):
            return
        self.received.deliver([str(self.ctx.next_id()), quote(to_at(message.topic))], message.payload)

    def _on_ping_response(self) -> None:
        if self.dbg["PINGRSP"]:
            self.ctx.urc("+IMQTTPINGRSP", ok=True)

    async def publish_system(self, topic: str, payload: bytes) -> bool:
        """Publish for the module itself (OTA inform/progress); False when not connected."""
        if self.state != CONNECTED or self.client is None:
            return False
        await self.client.publish(topic, payload, 1, timeout=self.timeout)
        return True

