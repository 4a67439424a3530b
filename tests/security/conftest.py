"""Security tests: the plugin's cloud, and independent paho clients that try what they must not."""

from __future__ import annotations

import paho.mqtt.client as mqtt
import pytest

from pysim.devauth import DeviceCredentials, mqtt_connect_fields
from pysim.peers import PahoClient, service_client


@pytest.fixture
def dev_a(cloud) -> DeviceCredentials:
    """A registered device: the victim."""
    return cloud.registry.add("a1PKalpha", "dev-a", "secret-a-0123456789")


@pytest.fixture
def dev_b(cloud) -> DeviceCredentials:
    """Another registered device: the attacker, with valid credentials of its own."""
    return cloud.registry.add("a1PKbeta", "dev-b", "secret-b-0123456789")


@pytest.fixture
async def paho():
    """Factory of PahoClients (a device's fields, or explicit ones); all closed at teardown."""
    made: list[PahoClient] = []

    def make(creds: DeviceCredentials | None = None, *, username: str | None = None,
             password: str | None = None, client_id: str | None = None, clean_session: bool = True,
             protocol: int = mqtt.MQTTv311) -> PahoClient:
        if creds is not None:
            client_id, username, password = mqtt_connect_fields(creds)
        client = PahoClient(client_id or f"sec-{len(made)}", username, password, protocol,
                            clean_session=clean_session)
        made.append(client)
        return client

    try:
        yield make
    finally:
        for client in made:
            await client.close()


@pytest.fixture
async def observer(cloud):
    """A paho client logged in as the cloud's service user (any topic)."""
    client = await service_client(cloud, client_id="security-observer")
    yield client
    await client.close()
