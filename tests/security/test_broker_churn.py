"""Defect 7 (issue 10): amqtt's broadcast loop under connect/subscribe/disconnect churn.

amqtt 0.12.1's ``Broker._run_broadcast`` iterated the live subscription table across
awaits; a client subscribing or leaving meanwhile raised ``RuntimeError: dictionary
changed size during iteration`` and the message being broadcast was lost for every
remaining subscriber. Here churning devices come and go while the service publishes to a
steady subscriber, which must get every message, and amqtt must log no failure."""

from __future__ import annotations

import asyncio
import logging
import random

from peripherals.ica.net.mqtt_client import MqttClient
from pysim.devauth import mqtt_connect_fields
from pysim.peers import host_port

MESSAGES = 300
CHURNERS = 12


def client_for(cloud, creds, **kw) -> MqttClient:
    host, port = host_port(cloud.addresses["mqtt"])
    client_id, username, password = mqtt_connect_fields(creds)
    return MqttClient(host, port, client_id=client_id, username=username, password=password, **kw)


async def test_every_message_reaches_the_steady_subscriber_under_churn(cloud, caplog):
    caplog.set_level(logging.ERROR, logger="amqtt")
    rng = random.Random(10)
    steady = cloud.registry.add("a1PKchurn", "steady", "s-steady")
    churners = [cloud.registry.add("a1PKchurn", f"c{i}", f"s-{i}") for i in range(CHURNERS)]
    got: list[bytes] = []
    all_in = asyncio.Event()

    def on_message(message) -> None:
        got.append(message.payload)
        if len(got) == MESSAGES:
            all_in.set()

    topic = f"/{steady.product_key}/{steady.device_name}/user/t"
    subscriber = client_for(cloud, steady, on_message=on_message)
    assert await subscriber.connect() == 0
    await subscriber.subscribe(topic, 1)
    stop = asyncio.Event()

    async def churn(creds) -> None:
        n = 0
        while not stop.is_set():
            client = client_for(cloud, creds)
            if await client.connect() == 0:
                n += 1
                await client.subscribe(f"/{creds.product_key}/{creds.device_name}/user/{n}", rng.choice((0, 1)))
                await client.disconnect()

    tasks = [asyncio.create_task(churn(c)) for c in churners]
    try:
        for n in range(MESSAGES):
            await cloud.publish(topic, b"%04d" % n, 1)
            if n % 10 == 0:
                await asyncio.sleep(0)     # let the churners run between broadcasts
        await asyncio.wait_for(all_in.wait(), 30)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await subscriber.disconnect()
    assert sorted(got) == [b"%04d" % n for n in range(MESSAGES)]
    failures = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not failures, failures[:3]
