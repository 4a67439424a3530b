"""Cloud keywords: start the in-process cloud, register devices, and act as the cloud
application through an independent paho-mqtt client (the cloud's service user)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from paho.mqtt.client import topic_matches_sub
from robot.api import logger
from robot.api.deco import keyword
from robot.api.types import Secret

from pysim.cloud import Cloud
from pysim.events import Event
from pysim.peers import PahoClient, Received, service_client

from .context import LibraryContext, as_bytes, seconds
from .results import CloudMessage


class CloudObserver:
    """The paho service client of one cloud, its subscriptions, the messages no keyword
    has matched yet, and the events already returned by `Wait For Cloud Event`."""

    def __init__(self, client: PahoClient) -> None:
        self.client = client
        self.subscriptions: list[str] = []
        self.received: list[Received] = []
        self.events_taken: set[int] = set()

    async def next_matching(self, matches, timeout: float) -> Received | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            while not self.client.messages.empty():
                self.received.append(self.client.messages.get_nowait())
            for message in self.received:
                if matches(message):
                    self.received.remove(message)
                    return message
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            try:
                self.received.append(await asyncio.wait_for(self.client.messages.get(), remaining))
            except asyncio.TimeoutError:
                return None

    async def close(self) -> None:
        await self.client.close()


class CloudKeywords(LibraryContext):

    async def _observer(self, cloud: Cloud) -> CloudObserver:
        observer = self._observers.get(id(cloud))
        if observer is None:
            client = await service_client(cloud, client_id=f"robot-observer-{len(self._observers) + 1}")
            observer = self._observers[id(cloud)] = CloudObserver(client)
        return observer

    @keyword
    def start_cloud(self) -> dict[str, str]:
        """Starts the in-process cloud on free ports and returns its address map.

        The map is ``{"mqtt": "mqtt://127.0.0.1:P", "coap": "coap://...", "http": "http://..."}``.
        Modules started with `Start Module` use this cloud; MCU sessions bring their own.

        Fails if `Start Cloud` already started a cloud in this suite (`Stop All` first).

        Example:
        | ${addresses}= | Start Cloud |
        | Log | ${addresses}[mqtt] |
        """
        if self._cloud is not None:
            raise AssertionError("a cloud is already running: Stop All first")

        async def start() -> Cloud:
            cloud = Cloud()
            await cloud.start()
            return cloud

        self._cloud = self._run(start())
        logger.info(f"cloud at {self._cloud.addresses}")
        return dict(self._cloud.addresses)

    @keyword
    def register_device(self, product_key: str, device_name: str, device_secret: Secret | str,
                        device: int | str | None = None) -> None:
        """Registers a device in the cloud in use so it can authenticate (MQTT, CoAP, HTTP);
        returns nothing.

        ``device_secret`` is best a Robot ``Secret`` (see `Secrets`): a plain string
        works too, but Robot then writes it to output.xml and log.html. ``device`` names
        an MCU session whose cloud to use (see `Devices and modules`).

        Fails if there is no cloud.

        Example:
        | Register Device | a1robotPK | robot-device-01 | ${SECRET} |
        """
        cloud = self._cloud_for(device)
        secret = self._keep_secret(device_secret)
        self._run(self._in_loop(cloud.registry.add, product_key, device_name, secret))

    @keyword
    def stop_cloud(self) -> None:
        """Stops the cloud `Start Cloud` started (broker, CoAP and HTTP servers) but leaves the
        modules running; returns nothing.

        For testing what a TE sees when the cloud goes away (``+IMQTTSTATE:0``).
        Fails if `Start Cloud` was not used.

        Example:
        | Stop Cloud |
        | ${state}= | Wait For URC | +IMQTTSTATE |
        | Should Be Equal | ${state.fields}[0] | 0 |
        """
        if self._cloud is None:
            raise AssertionError("no cloud: use Start Cloud first")
        self._run(self._cloud.stop())

    @keyword
    def subscribe_as_cloud(self, topic: str, qos: int = 1, device: int | str | None = None) -> list[int]:
        """Subscribes an independent paho-mqtt client (the cloud's service user) to ``topic``;
        returns the SUBACK codes (the granted QoS).

        Wildcards ``+`` and ``#`` are allowed. Messages it receives are checked with
        `Cloud Should Receive`. ``device`` picks an MCU session's cloud.

        Fails if the broker refuses the subscription.

        Example:
        | Subscribe As Cloud | /${PK}/${DN}/user/# |
        """
        cloud = self._cloud_for(device)

        async def subscribe() -> list[int]:
            observer = await self._observer(cloud)
            codes = await observer.client.subscribe(topic, qos)
            if all(code < 0x80 for code in codes):
                observer.subscriptions.append(topic)
            return codes

        codes = self._run(subscribe())
        if any(code >= 0x80 for code in codes):
            raise self._failure(f"subscription to {topic!r} refused: SUBACK {codes}")
        return codes

    @keyword
    def publish_as_cloud(self, topic: str, payload: bytes | str, qos: int = 1, hex: bool = False,
                         device: int | str | None = None) -> CloudMessage:
        """Publishes ``payload`` to ``topic`` from the independent paho-mqtt client (service user);
        returns the message sent (payload text, with ``.topic``, ``.payload`` bytes, ``.qos``).

        Returns once the broker has it (QoS 0: sent; QoS 1 and 2: acknowledged).
        ``payload`` is text or, with ``hex``, hex digits (see `Payloads`).

        Fails if the broker does not acknowledge it.

        Example:
        | Publish As Cloud | ${TOPIC}/command | {"led":1} |
        | Publish As Cloud | ${TOPIC}/bin | 00 01 FF | hex=True |
        """
        data = as_bytes(payload, hex)
        cloud = self._cloud_for(device)

        async def publish() -> None:
            await (await self._observer(cloud)).client.publish(topic, data, qos)

        self._run(publish())
        return CloudMessage(Received(topic, data, qos))

    @keyword
    def cloud_should_receive(self, topic: str, payload: bytes | str | None = None,
                             timeout: timedelta = timedelta(seconds=10), contains: str | None = None,
                             hex: bool = False, device: int | str | None = None) -> CloudMessage:
        """Waits until the `Subscribe As Cloud` client receives a message on ``topic``; returns the
        message: its payload as text (latin-1), with ``.topic``, ``.payload`` (bytes) and ``.qos``.

        ``topic`` is a topic or filter (``+``, ``#``). With ``payload`` the message must
        be exactly that; with ``contains`` it must hold that text. Messages received
        earlier count too; each matches once.

        Fails if no subscription covers ``topic`` or no such message comes within
        ``timeout``; the message lists the messages that did not match.

        Example:
        | ${message}= | Cloud Should Receive | ${TOPIC}/telemetry | contains="seq": |
        | Should Be Equal | ${message.topic} | ${TOPIC}/telemetry |
        """
        cloud = self._cloud_for(device)
        observer = self._observers.get(id(cloud))
        subscriptions = observer.subscriptions if observer else []
        if not any(topic_matches_sub(sub, topic) or sub == topic for sub in subscriptions):
            raise AssertionError(f"no subscription covers {topic!r}: use Subscribe As Cloud first "
                                 f"(subscribed: {subscriptions})")
        want = None if payload is None else as_bytes(payload, hex)
        needle = None if contains is None else contains.encode("latin-1")

        def matches(message: Received) -> bool:
            return ((message.topic == topic or topic_matches_sub(topic, message.topic))
                    and (want is None or message.payload == want)
                    and (needle is None or needle in message.payload))

        wait = seconds(timeout)
        message = self._run(observer.next_matching(matches, wait), wait)
        if message is None:
            seen = [(m.topic, m.payload) for m in observer.received][-10:]
            raise self._failure(f"no message on {topic!r} matching payload={want!r} contains={contains!r} "
                                f"within {wait:g} s; unmatched messages: {seen}")
        return CloudMessage(message)

    @keyword
    def wait_for_cloud_event(self, kind: str, timeout: timedelta = timedelta(seconds=10),
                             device: int | str | None = None, **detail: str) -> Event:
        """Waits for an event of ``kind`` at the cloud (past or future, each returned once);
        returns it, with ``.kind``, ``.device`` (product key, device name), ``.detail`` (a
        dictionary) and ``.t``.

        Kinds include ``mqtt.publish``, ``mqtt.subscribe``, ``coap.auth``, ``coap.request``,
        ``http.auth``, ``http.request``, ``ota.announce``, ``ota.fetch``, ``ota.progress``.
        Named arguments must equal the event's detail (compared as text), e.g.
        ``status=200`` or ``path=/topic/a1PK/dn/user/x``.

        Fails if no such event comes within ``timeout``; the message shows the last events.

        Example:
        | ${request}= | Wait For Cloud Event | coap.request | path=/topic${TOPIC}/coap |
        | Log | ${request.detail} |
        """
        cloud = self._cloud_for(device)
        wait = seconds(timeout)

        def matches(event: Event) -> bool:
            return event.kind == kind and all(str(event.detail.get(k)) == v for k, v in detail.items())

        async def find() -> Event | None:
            observer = await self._observer(cloud)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + wait
            while True:
                for event in cloud.events.events:
                    if id(event) not in observer.events_taken and matches(event):
                        observer.events_taken.add(id(event))
                        return event
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return None
                try:
                    await cloud.events.wait_for(
                        lambda e: matches(e) and id(e) not in observer.events_taken, remaining)
                except TimeoutError:
                    return None

        event = self._run(find(), wait)
        if event is None:
            last = "; ".join(str(e) for e in cloud.events.events[-5:])
            raise self._failure(f"no {kind} event with {detail} within {wait:g} s; last events: {last}")
        return event
