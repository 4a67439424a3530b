"""The broker with real paho-mqtt clients: DECISIONS §18 auth, topic ACL, QoS, MQTT 3.1."""

from __future__ import annotations

import statistics
import time

import paho.mqtt.client as mqtt
import pytest
from endpoint_clients import REFUSED

from pysim.devauth import DeviceCredentials
from pysim.events import kind_is

from pysim.peers import TIMEOUT

# paho 2 reports an MQTT 3 CONNACK 4 (bad user name or password) as reason 134 and
# CONNACK 5 (not authorised) as 135; the contract allows either (REFUSED).


async def test_device_connects_with_its_signature(cloud, dev_a, paho):
    client = paho(dev_a)
    assert await client.connect(cloud.addresses["mqtt"]) == 0
    event = await cloud.events.wait_for(kind_is("mqtt.connect"), TIMEOUT)
    assert event.device == dev_a.key


@pytest.mark.parametrize("mutate", ["wrong secret", "unknown device", "wrong client id", "no password"])
async def test_wrong_credentials_are_refused(cloud, dev_a, paho, mutate):
    wrong = {
        "wrong secret": dict(creds=DeviceCredentials(dev_a.product_key, dev_a.device_name, "not-it")),
        "unknown device": dict(creds=DeviceCredentials("a1PKnobody", "ghost", "secret")),
        "wrong client id": dict(client_id="other.id|securemode=3,signmethod=hmacsha1|",
                                username=f"{dev_a.device_name}&{dev_a.product_key}", password=dev_a.sign()),
        "no password": dict(client_id=dev_a.client_id, username=f"{dev_a.device_name}&{dev_a.product_key}"),
    }[mutate]
    client = paho(**wrong)
    code = await client.connect(cloud.addresses["mqtt"])
    assert code in REFUSED, code
    await cloud.events.wait_for(kind_is("mqtt.auth_fail"), TIMEOUT)
    assert not cloud.events.find(kind_is("mqtt.connect"))


async def test_service_user_needs_the_cloud_password(cloud, paho):
    assert await paho(username="service", password="guess", client_id="svc1").connect(cloud.addresses["mqtt"]) in REFUSED
    assert await paho(username="service", password=cloud.service_password,
                      client_id="svc2").connect(cloud.addresses["mqtt"]) == 0


async def test_device_cannot_subscribe_to_another_devices_topics(cloud, dev_a, dev_b, paho):
    client = paho(dev_a)
    await client.connect(cloud.addresses["mqtt"])
    assert await client.subscribe(f"/{dev_b.product_key}/{dev_b.device_name}/user/#", 1) == [0x80]
    assert await client.subscribe("#", 0) == [0x80]
    assert await client.subscribe(f"/ota/device/upgrade/{dev_b.product_key}/{dev_b.device_name}", 0) == [0x80]
    assert await client.subscribe(f"/{dev_a.product_key}/{dev_a.device_name}/user/#", 1) == [1]
    assert await client.subscribe(f"/ota/device/upgrade/{dev_a.product_key}/{dev_a.device_name}", 0) == [0]
    denied = cloud.events.find(kind_is("mqtt.denied"))
    assert len(denied) == 3 and all(e.device == dev_a.key for e in denied)


async def test_publish_to_another_devices_topic_reaches_nobody(cloud, dev_a, dev_b, paho, service):
    foreign = f"/{dev_b.product_key}/{dev_b.device_name}/user/command"
    a, b = paho(dev_a), paho(dev_b)
    for client in (a, b, service):
        assert await client.connect(cloud.addresses["mqtt"]) == 0
    assert await b.subscribe(f"/{dev_b.product_key}/{dev_b.device_name}/user/#", 1) == [1]
    assert await service.subscribe("#", 1) == [1]

    await a.publish(foreign, b"forged", 1)
    await cloud.events.wait_for(kind_is("mqtt.denied", topic=foreign), TIMEOUT)
    # markers sent after the forged message arrive after it would have: nothing else came first
    own = f"/{dev_a.product_key}/{dev_a.device_name}/user/telemetry"
    await a.publish(own, b"marker-a", 1)
    assert (await service.next_message()).payload == b"marker-a"
    await service.publish(foreign, b"marker-b", 1)
    assert (await b.next_message()).payload == b"marker-b"
    assert (await service.next_message()).payload == b"marker-b"
    assert b.messages.empty() and service.messages.empty()


@pytest.mark.parametrize("qos", [0, 1, 2])
async def test_qos_levels_through_the_broker(cloud, dev_a, paho, service, qos):
    topic = f"/{dev_a.product_key}/{dev_a.device_name}/user/telemetry"
    device = paho(dev_a)
    await device.connect(cloud.addresses["mqtt"])
    await service.connect(cloud.addresses["mqtt"])
    assert await service.subscribe(topic, qos) == [qos]
    assert await device.subscribe(f"/{dev_a.product_key}/{dev_a.device_name}/user/command", qos) == [qos]

    await device.publish(topic, b"up %d" % qos, qos)  # acknowledged per the QoS flow
    got = await service.next_message()
    assert (got.topic, got.payload, got.qos) == (topic, b"up %d" % qos, qos)
    event = await cloud.events.wait_for(kind_is("mqtt.publish", topic=topic), TIMEOUT)
    assert event.device == dev_a.key and event.detail["qos"] == qos and event.detail["payload"] == b"up %d" % qos

    await service.publish(f"/{dev_a.product_key}/{dev_a.device_name}/user/command", b"down", qos)
    got = await device.next_message()
    assert (got.payload, got.qos) == (b"down", qos)


async def test_mqtt_31_is_accepted(cloud, dev_a, paho, service):
    topic = f"/{dev_a.product_key}/{dev_a.device_name}/user/telemetry"
    device = paho(dev_a, protocol=mqtt.MQTTv31)
    assert await device.connect(cloud.addresses["mqtt"]) == 0
    await service.connect(cloud.addresses["mqtt"])
    await service.subscribe(topic, 1)
    assert await device.subscribe(f"/{dev_a.product_key}/{dev_a.device_name}/user/#", 1) == [1]
    await device.publish(topic, b"from 3.1", 1)
    assert (await service.next_message()).payload == b"from 3.1"
    assert (await device.next_message()).payload == b"from 3.1"


async def test_mqtt_31_with_wrong_credentials_is_refused(cloud, dev_a, paho):
    client = paho(DeviceCredentials(dev_a.product_key, dev_a.device_name, "nope"), protocol=mqtt.MQTTv31)
    assert await client.connect(cloud.addresses["mqtt"]) in REFUSED


async def test_qos1_round_trip_is_not_held_back_by_nagle(cloud, dev_a, paho):
    """Broker sockets have TCP_NODELAY: a QoS 1 PUBACK comes back in well under 40 ms."""
    device = paho(dev_a)
    await device.connect(cloud.addresses["mqtt"])
    topic = f"/{dev_a.product_key}/{dev_a.device_name}/user/telemetry"
    times = []
    for i in range(30):
        start = time.perf_counter()
        await device.publish(topic, b"%d" % i, 1)
        times.append(time.perf_counter() - start)
    assert statistics.median(times) < 0.02, f"median QoS 1 round trip {statistics.median(times) * 1e3:.1f} ms"


async def test_persistent_session_queues_even_after_a_clean_connection(cloud, dev_a, paho):
    """amqtt keeps a reused session's old clean flag; the cloud corrects it (mqtt_broker.py)."""
    topic = f"/{dev_a.product_key}/{dev_a.device_name}/user/q"
    first = paho(dev_a)
    assert await first.connect(cloud.addresses["mqtt"]) == 0       # clean session 1
    await first.close()
    persistent = paho(dev_a)
    persistent.client._clean_session = False
    assert await persistent.connect(cloud.addresses["mqtt"]) == 0
    assert await persistent.subscribe(topic, 1) == [1]
    await persistent.close()
    service = paho(username="service", password=cloud.service_password)
    assert await service.connect(cloud.addresses["mqtt"]) == 0
    await service.publish(topic, b"queued while offline", 1)
    again = paho(dev_a)
    again.client._clean_session = False
    assert await again.connect(cloud.addresses["mqtt"]) == 0
    assert (await again.next_message()).payload == b"queued while offline"
