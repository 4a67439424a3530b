"""End-to-end tests of the asyncio MQTT client against a real amqtt broker with
paho-mqtt as the independent peer, and against a scripted TCP peer for MQTT 3.1,
silence and refusals."""

from __future__ import annotations

import asyncio
import time

import pytest
from peripherals.ica.net.mqtt_client import ConnectError, ConnectionLost, MqttClient
from peripherals.ica.net.mqtt_codec import MessageReceived

HOST = "127.0.0.1"
WAIT = 5.0  # generous bound for anything that should take milliseconds


class Recorder:
    """Collects the client's callbacks as asyncio queues."""

    def __init__(self) -> None:
        self.messages: asyncio.Queue[MessageReceived] = asyncio.Queue()
        self.pings: asyncio.Queue[float] = asyncio.Queue()
        self.losses: list[str] = []
        self.lost = asyncio.Event()

    def client(self, port: int, **kwargs) -> MqttClient:
        kwargs.setdefault("client_id", "ours-1")
        return MqttClient(HOST, port, on_message=self.messages.put_nowait,
                          on_ping_response=lambda: self.pings.put_nowait(time.monotonic()),
                          on_connection_lost=self._on_lost, **kwargs)

    def _on_lost(self, reason: str) -> None:
        self.losses.append(reason)
        self.lost.set()

    async def next_message(self) -> MessageReceived:
        return await asyncio.wait_for(self.messages.get(), WAIT)


@pytest.fixture
async def connect():
    """``await connect(port, **kwargs) -> (client, recorder)``; aborted at teardown."""
    clients: list[MqttClient] = []

    async def make(port: int, **kwargs):
        recorder = Recorder()
        client = recorder.client(port, **kwargs)
        clients.append(client)
        assert await client.connect(timeout=WAIT) == 0
        return client, recorder

    yield make
    for client in clients:
        client.abort()


def only_test_task_left() -> bool:
    return asyncio.all_tasks() == {asyncio.current_task()}


# ------------------------------------------------------------ against amqtt + paho

@pytest.mark.parametrize("qos", [0, 1, 2])
async def test_publish_reaches_paho_subscriber(broker, paho_peer, connect, qos):
    await paho_peer.subscribe("net/out", qos)  # amqtt delivers at the subscription QoS
    client, _ = await connect(broker.port)
    payload = bytes([0, 255, qos]) + b"binary"
    packet_id = await client.publish("net/out", payload, qos=qos, timeout=WAIT)
    assert (packet_id == 0) if qos == 0 else (1 <= packet_id <= 65535)
    message = await asyncio.wait_for(paho_peer.messages.get(), WAIT)
    assert (message.topic, message.payload, message.qos) == ("net/out", payload, qos)


@pytest.mark.parametrize("qos", [0, 1, 2])
async def test_paho_publish_received_exactly_once(broker, paho_peer, connect, qos):
    client, recorder = await connect(broker.port)
    assert await client.subscribe("net/in", qos, timeout=WAIT) == qos
    await paho_peer.publish("net/in", b"first", qos)
    await paho_peer.publish("net/in", b"marker", qos)  # same topic and QoS: ordered after
    received = [await recorder.next_message(), await recorder.next_message()]
    assert [(m.topic, m.payload, m.qos) for m in received] == [
        ("net/in", b"first", qos), ("net/in", b"marker", qos)]
    assert recorder.messages.empty()
    assert all((m.packet_id is None) == (qos == 0) for m in received)


async def test_subscribe_refused_filter_and_unsubscribe(broker, paho_peer, connect):
    client, recorder = await connect(broker.port)
    assert await client.subscribe("net/#/bad", 1, timeout=WAIT) == 0x80
    assert await client.subscribe("net/a", 1, timeout=WAIT) == 1
    assert await client.subscribe("net/b", 1, timeout=WAIT) == 1
    await client.unsubscribe("net/a", timeout=WAIT)
    await paho_peer.publish("net/a", b"not for us", 1)
    await paho_peer.publish("net/b", b"for us", 1)
    message = await recorder.next_message()
    assert (message.topic, message.payload) == ("net/b", b"for us")
    assert recorder.messages.empty()


async def test_keepalive_pings_and_pingresp(broker, connect):
    client, recorder = await connect(broker.port, keepalive=1)
    first = await asyncio.wait_for(recorder.pings.get(), WAIT)
    second = await asyncio.wait_for(recorder.pings.get(), WAIT)
    assert 0.5 < second - first < 2.0  # one per keep-alive period of idleness
    assert client.connected and not recorder.losses


async def test_broker_shutdown_reports_loss_once(broker, connect):
    client, recorder = await connect(broker.port, keepalive=1)
    await broker.stop()
    await asyncio.wait_for(recorder.lost.wait(), WAIT)
    await asyncio.sleep(0)  # let any second report surface
    assert recorder.losses == ["connection closed by the broker"]
    assert not client.connected
    with pytest.raises(ConnectionLost):
        await client.publish("net/x", b"", qos=1)
    assert only_test_task_left()


async def test_refused_by_broker_gives_return_code(start_broker):
    closed_broker = await start_broker(allow_anonymous=False)
    client = Recorder().client(closed_broker.port)
    with pytest.raises(ConnectError) as info:
        await client.connect(timeout=WAIT)
    assert info.value.return_code == 5
    assert "not authorized" in str(info.value)


async def test_connect_to_closed_port_fails_fast(closed_port):
    client = Recorder().client(closed_port)
    started = time.monotonic()
    with pytest.raises(ConnectError) as info:
        await client.connect(timeout=WAIT)
    assert time.monotonic() - started < 1.0
    assert info.value.return_code is None and "cannot reach" in str(info.value)
    assert only_test_task_left()


# ------------------------------------------------------------ against a scripted peer

CONNACK_OK = bytes.fromhex("20 02 00 00")


async def test_mqtt31_handshake(scripted_peer):
    client = Recorder().client(scripted_peer.port, version="3.1", client_id="c1", keepalive=60)
    connecting = asyncio.create_task(client.connect(timeout=WAIT))
    reader, writer = await scripted_peer.accept()
    assert await scripted_peer.read_packet(reader) == bytes.fromhex(
        "10 10 00 06 4d 51 49 73 64 70 03 02 00 3c 00 02 63 31")
    writer.write(bytes.fromhex("20 02 00 00"))
    assert await connecting == 0
    assert client.connected
    await client.disconnect()
    assert await scripted_peer.read_packet(reader) == bytes.fromhex("e0 00")
    assert await scripted_peer.read_packet(reader) == b""  # then the socket closes


async def test_mqtt31_refusal(scripted_peer):
    client = Recorder().client(scripted_peer.port, version="3.1")
    connecting = asyncio.create_task(client.connect(timeout=WAIT))
    reader, writer = await scripted_peer.accept()
    await scripted_peer.read_packet(reader)
    writer.write(bytes.fromhex("20 02 00 02"))
    with pytest.raises(ConnectError) as info:
        await connecting
    assert info.value.return_code == 2 and "identifier rejected" in str(info.value)


async def test_silent_peer_connect_times_out(scripted_peer):
    client = Recorder().client(scripted_peer.port)
    started = time.monotonic()
    with pytest.raises(ConnectError, match="no CONNACK"):
        await client.connect(timeout=0.3)
    assert time.monotonic() - started < 2.0


async def accept_connected(scripted_peer, client):
    connecting = asyncio.create_task(client.connect(timeout=WAIT))
    reader, writer = await scripted_peer.accept()
    await scripted_peer.read_packet(reader)
    writer.write(CONNACK_OK)
    await connecting
    return reader, writer


async def test_missing_pingresp_loses_connection(scripted_peer):
    recorder = Recorder()
    client = recorder.client(scripted_peer.port, keepalive=1, ping_timeout=0.3)
    reader, _ = await accept_connected(scripted_peer, client)
    assert await scripted_peer.read_packet(reader) == bytes.fromhex("c0 00")  # not answered
    await asyncio.wait_for(recorder.lost.wait(), WAIT)
    assert recorder.losses == ["no PINGRESP within 0.3 s"]
    assert await scripted_peer.read_packet(reader) == b""  # the client closed the socket
    assert not client.connected


async def test_publish_without_ack_times_out(scripted_peer):
    client = Recorder().client(scripted_peer.port)
    reader, _ = await accept_connected(scripted_peer, client)
    with pytest.raises(asyncio.TimeoutError):
        await client.publish("t", b"x", qos=1, timeout=0.3)
    assert await scripted_peer.read_packet(reader) == bytes.fromhex("32 06 00 01 74 00 01 78")
    client.abort()
    assert await scripted_peer.read_packet(reader) == b""


async def test_pending_operation_fails_when_connection_drops(scripted_peer):
    recorder = Recorder()
    client = recorder.client(scripted_peer.port)
    reader, writer = await accept_connected(scripted_peer, client)
    pending = client.start_publish("t", b"x", qos=2)
    assert pending.packet_id == 1
    await scripted_peer.read_packet(reader)
    writer.close()
    with pytest.raises(ConnectionLost):
        await pending.result(WAIT)
    assert recorder.losses == ["connection closed by the broker"]


async def test_garbage_from_peer_is_a_protocol_error(scripted_peer):
    recorder = Recorder()
    client = recorder.client(scripted_peer.port)
    reader, writer = await accept_connected(scripted_peer, client)
    writer.write(bytes.fromhex("f0 00"))  # packet type 15 is reserved
    await asyncio.wait_for(recorder.lost.wait(), WAIT)
    assert recorder.losses[0].startswith("protocol error:")
    assert await scripted_peer.read_packet(reader) == b""


async def test_abort_sends_nothing_and_reports_nothing(scripted_peer):
    recorder = Recorder()
    client = recorder.client(scripted_peer.port, keepalive=1)
    reader, _ = await accept_connected(scripted_peer, client)
    client.abort()
    assert await scripted_peer.read_packet(reader) == b""  # EOF, no DISCONNECT
    assert recorder.losses == [] and not client.connected
    assert only_test_task_left()


async def test_cancelled_connect_closes_the_socket(scripted_peer):
    client = Recorder().client(scripted_peer.port)
    connecting = asyncio.create_task(client.connect(timeout=WAIT))
    reader, _ = await scripted_peer.accept()
    await scripted_peer.read_packet(reader)  # CONNECT, never answered
    connecting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await connecting
    assert await scripted_peer.read_packet(reader) == b""
    assert only_test_task_left()
