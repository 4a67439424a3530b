"""The cloud's half of a run as a test or a scenario drives it.

``InProcessCloudSide`` wraps the in-process :class:`pysim.cloud.Cloud` (every
service: MQTT, CoAP, HTTP, OTA); ``ExternalCloudSide`` is an MQTT client of an
external broker (e.g. mosquitto) and offers only what MQTT can: publish and
expect messages. Both keep every message devices sent and a cursor, so two
``expect_message`` calls for the same topic need two messages.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from typing import Any

from paho.mqtt.client import topic_matches_sub

from pysim.events import Event, EventLog
from pysim.expect import ExpectTimeout, compile_pattern

CLOUD_SOURCES = frozenset({"cloud", "ota"})   # messages the cloud itself sends


@dataclass(frozen=True)
class CloudMessage:
    """A message a device (or another client) published, as the cloud received it."""

    t: float
    topic: str
    payload: bytes
    qos: int | None = None
    device: tuple[str, str] | None = None

    @property
    def text(self) -> str:
        return self.payload.decode("utf-8", "replace")


class NotAvailable(RuntimeError):
    """The cloud in use cannot do this (an external broker has no CoAP, HTTP or OTA service)."""


class CloudSide:
    """What every cloud side offers: the messages received and MQTT both ways."""

    name = "cloud"

    def __init__(self) -> None:
        self.messages: list[CloudMessage] = []
        self._cursor = 0
        self._changed = asyncio.Event()

    def _received(self, message: CloudMessage) -> None:
        self.messages.append(message)
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def publish(self, topic: str, payload: bytes | str, qos: int = 1) -> None:
        """Publish ``payload`` on ``topic`` from the cloud to its subscribers (the device)."""
        raise NotImplementedError

    async def expect_message(self, topic: str, payload: str | re.Pattern[str] | None = None,
                             timeout: float = 10.0) -> CloudMessage:
        """The first message from the cursor on whose topic matches ``topic`` (MQTT
        wildcards allowed) and whose payload ``payload`` (a regex) searches; raises
        ``ExpectTimeout`` listing the last messages."""
        regex = compile_pattern(payload) if payload is not None else None
        deadline = time.monotonic() + timeout
        while True:
            for index in range(self._cursor, len(self.messages)):
                message = self.messages[index]
                if topic_matches_sub(topic, message.topic) and (regex is None or regex.search(message.text)):
                    self._cursor = index + 1
                    return message
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                last = [f"{m.topic} {m.text[:60]!r}" for m in self.messages[-5:]]
                what = f" with a payload matching {regex.pattern!r}" if regex else ""
                raise ExpectTimeout(f"no message on {topic!r}{what} at the cloud within {timeout:g} s; "
                                    f"last messages: {last}")
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    async def expect_request(self, protocol: str, path: str | re.Pattern[str] | None = None,
                             timeout: float = 10.0) -> Event:
        raise NotAvailable(f"{self.name}: no CoAP or HTTP server to expect a request at")

    async def push_ota(self, device: tuple[str, str], image: bytes, version: str) -> Any:
        raise NotAvailable(f"{self.name}: no OTA service to push an image with")

    async def close(self) -> None:
        """Release what this side opened (not the cloud itself)."""


def _payload(payload: bytes | str) -> bytes:
    return payload.encode() if isinstance(payload, str) else bytes(payload)


class InProcessCloudSide(CloudSide):
    """The in-process cloud: MQTT, CoAP and HTTP requests as its events show them, OTA."""

    name = "the in-process cloud"

    def __init__(self, cloud: Any) -> None:   # a started pysim.cloud.Cloud
        super().__init__()
        self.cloud = cloud
        self.events: EventLog = cloud.events
        for event in cloud.events.events:
            self._on_event(event)
        cloud.events.listeners.append(self._on_event)

    def _on_event(self, event: Event) -> None:
        if event.kind == "mqtt.publish" and event.detail.get("source") not in CLOUD_SOURCES:
            self._received(CloudMessage(event.t, event.detail["topic"], bytes(event.detail["payload"]),
                                        event.detail.get("qos"), event.device))

    async def publish(self, topic: str, payload: bytes | str, qos: int = 1) -> None:
        await self.cloud.publish(topic, _payload(payload), qos=qos)

    async def close(self) -> None:
        if self._on_event in self.events.listeners:
            self.events.listeners.remove(self._on_event)

    async def expect_request(self, protocol: str, path: str | re.Pattern[str] | None = None,
                             timeout: float = 10.0) -> Event:
        """The first CoAP or HTTP (``protocol``) request whose path ``path`` (a regex)
        searches, past or future."""
        if protocol not in ("coap", "http"):
            raise ValueError(f"protocol must be coap or http, got {protocol!r}")
        regex = compile_pattern(path) if path is not None else None
        kind = f"{protocol}.request"

        def wanted(event: Event) -> bool:
            return event.kind == kind and (regex is None or bool(regex.search(str(event.detail.get("path", "")))))

        try:
            return await self.events.wait_for(wanted, timeout)
        except TimeoutError as error:
            raise ExpectTimeout(f"no {protocol.upper()} request"
                                + (f" to a path matching {regex.pattern!r}" if regex else "")
                                + f" at the cloud within {timeout:g} s; "
                                + str(error).split("; ", 1)[-1]) from None

    async def push_ota(self, device: tuple[str, str], image: bytes, version: str) -> Any:
        """Add ``image`` as ``version`` and announce it to ``device``; returns the OtaImage."""
        ota_image = self.cloud.ota.add_image(image, version)
        await self.cloud.ota.announce(device[0], device[1], ota_image)
        return ota_image


class ExternalCloudSide(CloudSide):
    """An external MQTT broker, reached as a plain (anonymous, or user/password) client
    subscribed to every topic."""

    def __init__(self, url: str, username: str | None = None, password: str | None = None) -> None:
        super().__init__()
        self.url = url
        self.name = f"the external broker {url}"
        self._username, self._password = username, password
        self._client = None
        self._pump: asyncio.Task[None] | None = None
        self._own: list[tuple[str, bytes]] = []   # what this side published: not a device's message

    async def start(self) -> None:
        from pysim.peers import PahoClient

        self._client = PahoClient(f"pysim-cloud-side-{id(self):x}", self._username, self._password)
        try:
            code = await self._client.connect(self.url)
        except OSError as error:
            await self._client.close()
            raise ConnectionError(f"cannot reach the broker at {self.url}: {error}") from None
        if code != 0:
            await self._client.close()
            raise ConnectionError(f"the broker at {self.url} refused the cloud side's login (reason {code})")
        await self._client.subscribe("#", 1)
        self._pump = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        assert self._client is not None
        while True:
            item = await self._client.messages.get()
            if (item.topic, item.payload) in self._own:
                self._own.remove((item.topic, item.payload))
                continue
            self._received(CloudMessage(time.monotonic(), item.topic, item.payload, item.qos))

    async def publish(self, topic: str, payload: bytes | str, qos: int = 1) -> None:
        assert self._client is not None, "start() first"
        self._own.append((topic, _payload(payload)))
        await self._client.publish(topic, _payload(payload), qos)

    async def close(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            await asyncio.gather(self._pump, return_exceptions=True)
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()
