"""Peers for the MQTT client tests: a real amqtt broker, paho-mqtt as an
independent client, and a scripted TCP peer for what amqtt cannot do
(MQTT 3.1, silence, refusals on demand)."""

from __future__ import annotations

import asyncio
import socket
import uuid

import paho.mqtt.client as paho
import pytest
from amqtt.broker import Broker

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    """A port on which nothing listens."""
    return free_port()


class RunningBroker:
    """An in-process amqtt broker on a free port; ``stop()`` is idempotent."""

    def __init__(self, allow_anonymous: bool) -> None:
        self.allow_anonymous = allow_anonymous
        self.port = 0
        self._broker: Broker | None = None

    async def start(self) -> None:
        for _ in range(5):  # the free port may be taken between probe and bind
            self.port = free_port()
            broker = Broker({
                "listeners": {"default": {"type": "tcp", "bind": f"{HOST}:{self.port}"}},
                "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin":
                            {"allow_anonymous": self.allow_anonymous}},
            })
            try:
                await broker.start()
            except Exception:  # amqtt wraps the bind error
                continue
            self._broker = broker
            return
        raise RuntimeError("could not start amqtt on a free port")

    async def stop(self) -> None:
        broker, self._broker = self._broker, None
        if broker is not None:
            await broker.shutdown()


@pytest.fixture
async def start_broker():
    """``await start_broker(allow_anonymous=True) -> RunningBroker``."""
    started: list[RunningBroker] = []

    async def start(allow_anonymous: bool = True) -> RunningBroker:
        broker = RunningBroker(allow_anonymous)
        await broker.start()
        started.append(broker)
        return broker

    yield start
    for broker in started:
        await broker.stop()


@pytest.fixture
async def broker(start_broker) -> RunningBroker:
    return await start_broker()


class PahoPeer:
    """paho-mqtt running its network thread; results handed to asyncio."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.loop = asyncio.get_running_loop()
        self.messages: asyncio.Queue[paho.MQTTMessage] = asyncio.Queue()
        self._subacks: asyncio.Queue[int] = asyncio.Queue()
        self._connected = self.loop.create_future()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2,
                                  client_id=f"paho-{uuid.uuid4().hex[:8]}")
        self.client.on_connect = self._on_connect
        self.client.on_message = lambda _c, _u, msg: self._to_loop(self.messages.put_nowait, msg)
        self.client.on_subscribe = lambda _c, _u, mid, _codes, _p: self._to_loop(
            self._subacks.put_nowait, mid)

    def _to_loop(self, func, *args) -> None:
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(func, *args)

    def _on_connect(self, client, _userdata, _flags, reason_code, _props) -> None:
        client.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._to_loop(lambda: self._connected.done() or self._connected.set_result(reason_code))

    async def start(self) -> None:
        await asyncio.to_thread(self.client.connect, HOST, self.port, 30)
        self.client.loop_start()
        reason = await asyncio.wait_for(self._connected, 5)
        assert not reason.is_failure, reason

    async def subscribe(self, topic: str, qos: int) -> None:
        _, mid = self.client.subscribe(topic, qos)
        while await asyncio.wait_for(self._subacks.get(), 5) != mid:
            pass

    async def publish(self, topic: str, payload: bytes, qos: int) -> None:
        info = self.client.publish(topic, payload, qos)
        await asyncio.to_thread(info.wait_for_publish, 5)
        assert info.is_published()

    async def close(self) -> None:
        self.client.disconnect()
        await asyncio.to_thread(self.client.loop_stop)


@pytest.fixture
async def paho_peer(broker):
    peer = PahoPeer(broker.port)
    try:
        await peer.start()
        yield peer
    finally:
        await peer.close()


class ScriptedPeer:
    """A TCP server on a free port whose single connection the test drives."""

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.Server | None = None
        self._conns: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = \
            asyncio.Queue()
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> None:
        async def accepted(reader, writer):
            self._writers.append(writer)
            await self._conns.put((reader, writer))

        self._server = await asyncio.start_server(accepted, HOST, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def accept(self, timeout: float = 5):
        return await asyncio.wait_for(self._conns.get(), timeout)

    @staticmethod
    async def read_packet(reader: asyncio.StreamReader, timeout: float = 5) -> bytes:
        """One whole MQTT packet (fixed header included); b"" on EOF."""
        async def read() -> bytes:
            first = await reader.read(1)
            if not first:
                return b""
            header, length, shift = bytearray(first), 0, 0
            while True:
                byte = (await reader.readexactly(1))[0]
                header.append(byte)
                length |= (byte & 0x7F) << shift
                shift += 7
                if not byte & 0x80:
                    return bytes(header) + await reader.readexactly(length)
        return await asyncio.wait_for(read(), timeout)

    async def stop(self) -> None:
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@pytest.fixture
async def scripted_peer():
    peer = ScriptedPeer()
    await peer.start()
    try:
        yield peer
    finally:
        await peer.stop()
