"""Fixtures for the cloud tests: a fresh Cloud per test, two devices, real paho clients."""

from __future__ import annotations

import asyncio

import paho.mqtt.client as mqtt
import pytest
from pysim.peers import PahoClient

from pysim.cloud import Cloud
from pysim.devauth import DeviceCredentials, mqtt_connect_fields


@pytest.fixture
async def cloud():
    """A started Cloud with nothing else; checked to leave no task running behind."""
    instance = Cloud()
    await instance.start()
    try:
        yield instance
    finally:
        await instance.stop()
    current = asyncio.current_task()
    leftovers = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    assert not leftovers, f"tasks left running after Cloud.stop(): {leftovers}"


@pytest.fixture
def dev_a(cloud: Cloud) -> DeviceCredentials:
    return cloud.registry.add("a1PKalpha", "dev-a", "secret-a")


@pytest.fixture
def dev_b(cloud: Cloud) -> DeviceCredentials:
    return cloud.registry.add("a1PKbeta", "dev-b", "secret-b")


@pytest.fixture
async def paho(cloud):
    """Factory of PahoClients; every one made is closed at teardown."""
    made: list[PahoClient] = []

    def make(creds: DeviceCredentials | None = None, *, username: str | None = None,
             password: str | None = None, client_id: str | None = None,
             protocol: int = mqtt.MQTTv311) -> PahoClient:
        if creds is not None:
            client_id, username, password = mqtt_connect_fields(creds)
        client = PahoClient(client_id or f"test-{len(made)}", username, password, protocol)
        made.append(client)
        return client

    try:
        yield make
    finally:
        for client in made:
            await client.close()


@pytest.fixture
async def service(cloud: Cloud, paho):
    """A paho client for the cloud's service user (not yet connected)."""
    return paho(username="service", password=cloud.service_password, client_id="test-service")
