"""Independent peers for the cloud side of a test: a paho-mqtt client that asyncio
code can await, logged in as a device or as the cloud's service user."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt

TIMEOUT = 10.0


def host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname, parts.port


@dataclass
class Received:
    topic: str
    payload: bytes
    qos: int


class PahoClient:
    """A paho-mqtt client (network thread) whose results asyncio code can await."""

    def __init__(self, client_id: str, username: str | None, password: str | None,
                 protocol: int = mqtt.MQTTv311, clean_session: bool = True) -> None:
        self._loop = asyncio.get_running_loop()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol,
                                  clean_session=clean_session)
        if username is not None:
            self.client.username_pw_set(username, password)
        # short back-off: close() waits for paho's thread, which sleeps through it after a lost link
        self.client.reconnect_delay_set(0.05, 0.05)
        self.messages: asyncio.Queue[Received] = asyncio.Queue()
        self._connack: asyncio.Future[int] = self._loop.create_future()
        self._acks: dict[int, asyncio.Future] = {}
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.on_publish = self._on_publish
        # paho leaves Nagle on: without this each QoS 1/2 round trip costs ~40 ms
        self.client.on_socket_open = lambda client, userdata, sock: sock.setsockopt(
            socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # paho thread -> event loop
    def _settle(self, future: asyncio.Future, value) -> None:
        self._loop.call_soon_threadsafe(lambda: future.done() or future.set_result(value))

    def _ack(self, mid: int) -> asyncio.Future:
        return self._acks.setdefault(mid, self._loop.create_future())

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            client.disconnect()  # no reconnect attempts (nor paho's 1 s back-off at loop_stop)
        self._settle(self._connack, reason_code.value)

    def _on_message(self, client, userdata, message) -> None:
        item = Received(message.topic, bytes(message.payload), message.qos)
        self._loop.call_soon_threadsafe(self.messages.put_nowait, item)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        codes = [rc.value for rc in reason_codes]
        self._loop.call_soon_threadsafe(lambda: self._ack(mid).done() or self._ack(mid).set_result(codes))

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        self._loop.call_soon_threadsafe(lambda: self._ack(mid).done() or self._ack(mid).set_result(mid))

    # the awaitable API
    async def connect(self, url: str) -> int:
        """Connect; the CONNACK reason as paho 2 reports it: 0 accepted, else a failure code
        (paho maps MQTT 3 CONNACK 4 to 134 "Bad user name or password", 5 to 135 "Not authorized")."""
        host, port = host_port(url)
        await asyncio.to_thread(self.client.connect, host, port, 30)
        self.client.loop_start()
        return await asyncio.wait_for(self._connack, TIMEOUT)

    async def subscribe(self, topic: str, qos: int = 0) -> list[int]:
        """Subscribe; the SUBACK return codes (0x80 refused)."""
        result, mid = self.client.subscribe(topic, qos)
        assert result == mqtt.MQTT_ERR_SUCCESS
        return await asyncio.wait_for(self._ack(mid), TIMEOUT)

    async def publish(self, topic: str, payload: bytes, qos: int = 0) -> None:
        """Publish; returns once sent (QoS 0) or acknowledged (QoS 1 and 2)."""
        info = self.client.publish(topic, payload, qos)
        assert info.rc == mqtt.MQTT_ERR_SUCCESS
        await asyncio.wait_for(self._ack(info.mid), TIMEOUT)

    async def next_message(self, timeout: float = TIMEOUT) -> Received:
        return await asyncio.wait_for(self.messages.get(), timeout)

    async def close(self) -> None:
        self.client.disconnect()
        await asyncio.to_thread(self.client.loop_stop)
        # loop_stop leaves paho's wake-up socket pair open until garbage collection
        self.client._reset_sockets(sockpair_only=True)


async def service_client(cloud, client_id: str = "observer") -> PahoClient:
    """A paho client connected as the cloud's service user (may use any topic)."""
    client = PahoClient(client_id, "service", cloud.service_password)
    code = await client.connect(cloud.addresses["mqtt"])
    if code != 0:
        await client.close()
        raise ConnectionError(f"service login refused: {code}")
    return client
