"""Defect 2 (issue 10): nothing queued for a CLEAN=0 device is lost across a module reboot.

The credential check of ``AT+IMQTTAUTH`` used to CONNECT clean under the device's own client
identifier, which wiped the persistent session the device had left at the broker."""

from __future__ import annotations

from pysim.events import kind_is
from pysim.peers import service_client
from te_steps import mqtt_online

MESSAGES = 200


async def test_qos1_messages_sent_while_rebooting_all_arrive(cloud, device, module_factory):
    m = await module_factory()
    topic = f"/{device.product_key}/{device.device_name}/user/queued"
    await mqtt_online(m.at, device, CLEAN=0)
    await m.at.expect_ok(f'AT+IMQTTSUB="{topic}",1')
    assert (await m.at.wait_urc("+IMQTTSUB")).fields[1] == "1"

    await m.at.expect_ok("AT+IREBOOT=0")
    await cloud.events.wait_for(kind_is("module.ready", module=m.module.config.name))
    await cloud.events.wait_for(lambda e: e.kind == "mqtt.disconnect" and e.device == device.key)
    observer = await service_client(cloud, client_id="reboot-observer")
    try:
        for n in range(MESSAGES):
            await observer.publish(topic, b"m%03d" % n, 1)
    finally:
        await observer.close()

    # after the reboot: re-authenticate with the stored credentials, then reconnect CLEAN=0
    await m.at.expect_ok("ATE0")
    await m.at.expect_ok("AT+IMQTTAUTH")
    assert (await m.at.wait_urc("+IMQTTAUTH")).text == "+IMQTTAUTH:OK"
    await m.at.expect_ok('AT+IMQTTPARA="CLEAN",0')
    await m.at.expect_ok("AT+IMQTTCONN")
    assert (await m.at.wait_urc("+IMQTTSTATE")).text == "+IMQTTSTATE:2"
    got = [(await m.at.wait_urc("+IMQTTRCVPUB")).payload for _ in range(MESSAGES)]
    assert sorted(got) == [b"m%03d" % n for n in range(MESSAGES)]
