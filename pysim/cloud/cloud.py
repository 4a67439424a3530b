"""``Cloud``: the in-process IoT cloud (MQTT broker, CoAP and HTTP servers, OTA, registry)."""

from __future__ import annotations

import secrets

from pysim.events import EventLog

from .coap_server import CoapServer
from .gateway import TopicGateway
from .http_server import HttpServer
from .mqtt_broker import MqttBroker
from .ota import OtaService
from .registry import DeviceRegistry
from .tls import TlsFiles, TlsUnavailable, local_authority


class Cloud:
    """The cloud a device (or the module model) talks to; see docs/ARCHITECTURE.md.

    Devices may be added to ``registry`` before or after ``start()``. Every server
    binds ``host`` on the given port, or on a free one for port 0.
    """

    def __init__(self, host: str = "127.0.0.1", mqtt_port: int = 0, coap_port: int = 0,
                 http_port: int = 0, http_token_ttl: float = 172800,
                 service_password: str | None = None, events: EventLog | None = None,
                 tls: bool = True, mqtts_port: int = 0) -> None:
        self.host = host
        self._ports = {"mqtt": mqtt_port, "coap": coap_port, "http": http_port, "mqtts": mqtts_port}
        self._want_tls = tls
        self.tls: TlsFiles | None = None     # the CA a client must trust for mqtts, once started
        self.events = events if events is not None else EventLog()
        self.registry = DeviceRegistry()
        self.service_password = service_password or secrets.token_urlsafe(16)
        self.mqtt = MqttBroker(self.registry, self.events, self.service_password, on_message=self._on_message)
        self.gateway = TopicGateway(self.registry, self.mqtt.publish)
        self.ota = OtaService(self.mqtt.publish, self.events,
                              firmware_url=lambda image_id: self.http.firmware_url(image_id))
        self.http = HttpServer(self.gateway, self.ota, self.events, token_ttl=http_token_ttl)
        self.coap = CoapServer(self.gateway, self.ota, self.events)
        self._running = False

    async def start(self) -> None:
        """Start the broker and the servers (a no-op when running); on failure nothing stays open."""
        if self._running:
            return
        self._running = True
        try:
            if self._want_tls:
                try:
                    self.tls = local_authority()
                except (TlsUnavailable, OSError) as error:
                    self.events.emit("cloud.tls_unavailable", None, reason=str(error))
            await self.mqtt.start(self.host, self._ports["mqtt"], self.tls, self._ports["mqtts"])
            await self.coap.start(self.host, self._ports["coap"])
            await self.http.start(self.host, self._ports["http"])
        except BaseException:
            await self.stop()
            raise
        # a later start() (after stop(), or restart()) binds these same ports again
        self._ports.update(mqtt=self.mqtt.port, coap=self.coap.port, http=self.http.port,
                           mqtts=self.mqtt.tls_port or 0)

    async def stop(self) -> None:
        """Close every socket and task of the cloud (idempotent). The registry, the
        events and the MQTT broker's persistent sessions (clean session 0: their
        subscriptions and the QoS 1/2 messages owed to them) are kept for a later
        ``start()``, which serves on the same ports again."""
        self._running = False
        await self.http.stop()
        await self.coap.stop()
        await self.mqtt.stop()

    async def restart(self) -> None:
        """``stop()`` then ``start()``: every connection drops, the servers come back on
        the same ports with the persistent sessions (a broker restart, as a device sees it)."""
        self.events.emit("cloud.restart", None)
        await self.stop()
        await self.start()

    @property
    def running(self) -> bool:
        return self._running

    @property
    def addresses(self) -> dict[str, str]:
        """``{"mqtt": "mqtt://H:P", "coap": "coap://H:P", "http": "http://H:P"}``, and with TLS
        ``"mqtts": "mqtts://H:P"`` and ``"ca": <the CA file to trust>``."""
        addresses = {"mqtt": self.mqtt.url, "coap": self.coap.url, "http": self.http.url}
        if self.tls is not None and self.mqtt.tls_url:
            addresses.update(mqtts=self.mqtt.tls_url, ca=str(self.tls.ca_file))
        return addresses

    async def publish(self, topic: str, payload: bytes, qos: int | None = None) -> None:
        """Publish from the cloud itself to the broker's subscribers (any topic)."""
        await self.mqtt.publish(topic, payload, qos, source="cloud")

    def _on_message(self, topic: str, payload: bytes) -> None:
        self.gateway.record(topic, payload)
        self.ota.on_message(topic, payload)

    async def __aenter__(self) -> "Cloud":
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
