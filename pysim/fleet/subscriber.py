"""The fleet's independent observer on paho-mqtt: a client logged in as the service user,
subscribed to every device's telemetry, that notes when each (device, seq) arrives
(:class:`pysim.fleet.arrivals.Arrivals`).

It runs on paho's own network thread (no event loop), so counting costs the process
that hosts it one thread; arrival times are wall-clock (``time.time()``), comparable
with the send times the shards note on the same machine."""

from __future__ import annotations

import socket
import threading
import time

import paho.mqtt.client as mqtt

from pysim.peers import host_port

from .arrivals import Arrivals, thread_cpu_s
from .plan import PRODUCT_KEY


class FleetSubscriber(Arrivals):
    name = "paho"

    def __init__(self, url: str, password: str, product_key: str = PRODUCT_KEY, qos: int = 1,
                 username: str = "service", client_id: str = "pysim-fleet-observer") -> None:
        super().__init__(url, product_key, qos)
        self._ready = threading.Event()
        self._refused: str | None = None
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
        self.client.username_pw_set(username, password)
        self.client.max_queued_messages_set(0)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.on_socket_open = lambda client, userdata, sock: sock.setsockopt(
            socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._refused = f"CONNACK {reason_code}"
            self._ready.set()
            client.disconnect()
            return
        client.subscribe(self.topic, self.qos)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        if any(rc.is_failure for rc in reason_codes):
            self._refused = f"SUBACK {[rc.value for rc in reason_codes]}"
        self._ready.set()

    def _on_message(self, client, userdata, message) -> None:
        t = time.time()
        parts = message.topic.split("/")
        self.note(parts[2] if len(parts) >= 3 else None, message.payload, t)

    def start(self, timeout: float = 10.0) -> None:
        host, port = host_port(self.url)
        self.client.connect(host, port, 60)
        self.client.loop_start()
        if not self._ready.wait(timeout) or self._refused:
            self.stop()
            raise ConnectionError(f"the fleet's subscriber could not subscribe on {self.url}: "
                                  f"{self._refused or 'no answer'}")

    def cpu_s(self) -> float:
        return thread_cpu_s(getattr(self.client, "_thread", None))   # paho's network thread

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        self.client._reset_sockets(sockpair_only=True)
