"""Cloud.stop()/start()/restart(): the same ports, persistent sessions kept (issue 10)."""

from __future__ import annotations

from pysim.devauth import mqtt_connect_fields
from pysim.events import kind_is
from pysim.peers import PahoClient, service_client


async def test_restart_keeps_ports_and_persistent_sessions(cloud, dev_a):
    before = dict(cloud.addresses)
    topic = f"/{dev_a.product_key}/{dev_a.device_name}/user/inbox"
    client_id, username, password = mqtt_connect_fields(dev_a)
    device = PahoClient(client_id, username, password, clean_session=False)
    try:
        assert await device.connect(cloud.addresses["mqtt"]) == 0
        assert await device.subscribe(topic, 1) == [1]
    finally:
        await device.close()
    await cloud.events.wait_for(kind_is("mqtt.disconnect", client_id=client_id))
    observer = await service_client(cloud)
    try:
        for n in range(5):
            await observer.publish(topic, b"before %d" % n, 1)
    finally:
        await observer.close()

    await cloud.restart()
    assert cloud.addresses == before

    observer = await service_client(cloud, client_id="observer-2")
    try:
        for n in range(5):
            await observer.publish(topic, b"after %d" % n, 1)     # the subscription survived too
    finally:
        await observer.close()
    device = PahoClient(client_id, username, password, clean_session=False)
    try:
        assert await device.connect(cloud.addresses["mqtt"]) == 0
        got = sorted([(await device.next_message()).payload for _ in range(10)])
        assert got == sorted([b"before %d" % n for n in range(5)] + [b"after %d" % n for n in range(5)])
        assert device.messages.empty()
    finally:
        await device.close()


async def test_clean_sessions_are_not_kept(cloud, dev_a):
    client_id, username, password = mqtt_connect_fields(dev_a)
    device = PahoClient(client_id, username, password, clean_session=True)
    try:
        assert await device.connect(cloud.addresses["mqtt"]) == 0
        await device.subscribe(f"/{dev_a.product_key}/{dev_a.device_name}/user/#", 1)
    finally:
        await device.close()
    await cloud.stop()
    assert cloud.mqtt.saved_sessions == []
    await cloud.start()
