"""MQTT through the module against the real in-process broker, with paho-mqtt on the other side."""

from __future__ import annotations

import pytest

from pysim.events import kind_is
from te_steps import mqtt_online


@pytest.mark.parametrize("qos", [0, 1, 2])
async def test_te_publish_reaches_paho_subscriber(at, device, observer, qos):
    topic = f"/{device.product_key}/{device.device_name}/user/telemetry"
    assert await observer.subscribe(topic, 2) == [2]
    await mqtt_online(at, device)
    response = await at.expect_ok(f'AT+IMQTTPUB="{topic}",{qos},"{{\\"t\\":{qos}}}"')
    packet_id = int(response.line("+IMQTTPUB").fields[0])
    result = await at.wait_urc("+IMQTTPUB", lambda l: l.fields[0] == str(packet_id))
    assert result.fields == [str(packet_id), "0"]
    message = await observer.next_message()
    assert (message.topic, message.payload) == (topic, b'{"t":%d}' % qos)


@pytest.mark.parametrize("qos", [0, 1, 2])
async def test_paho_publish_reaches_te_as_rcvpub(at, device, observer, qos):
    topic = f"/{device.product_key}/{device.device_name}/user/command"
    await mqtt_online(at, device)
    response = await at.expect_ok(f'AT+IMQTTSUB="{topic}",{qos}')
    sub_id = response.line("+IMQTTSUB").fields[0]
    assert (await at.wait_urc("+IMQTTSUB")).fields == [sub_id, str(qos)]
    # the cloud application (paho) sends a command holding quotes, commas and a CR LF
    payload = b'{"led":1,"note":"a, \\"b\\"\r\nc"}'
    await observer.publish(topic, payload, qos)
    urc = await at.wait_urc("+IMQTTRCVPUB")
    assert urc.fields[1] == topic
    assert int(urc.fields[2]) == len(payload)
    assert urc.payload == payload
    query = await at.expect_ok("AT+IMQTTRCVPUB?")
    assert query.line("+IMQTTRCVPUB").payload == payload


async def test_binary_publish_both_ways(at, device, observer):
    up = f"/{device.product_key}/{device.device_name}/user/bin-up"
    down = f"/{device.product_key}/{device.device_name}/user/bin-down"
    await observer.subscribe(up, 1)
    await mqtt_online(at, device)
    await at.expect_ok(f'AT+IMQTTSUB="{down}",1')
    await at.wait_urc("+IMQTTSUB")
    blob = bytes(range(256)) + b"+++AT\r\n"
    response = await at.command(f'AT+IMQTTPUBIN="{up}",1,{len(blob)}', data=blob)
    assert response.ok, response
    packet_id = response.line("+IMQTTPUBIN").fields[0]
    assert (await at.wait_urc("+IMQTTPUBIN")).fields == [packet_id, "0"]
    assert (await observer.next_message()).payload == blob
    # length not given: data ended by +++
    response = await at.command(f'AT+IMQTTPUBIN="{up}",0,0', data=b"\x00\x01\x02", plus_escape=True)
    assert response.ok
    assert (await observer.next_message()).payload == b"\x00\x01\x02"
    query = await at.expect_ok("AT+IMQTTPUBIN?")
    assert query.line("+IMQTTPUBIN").payload == b"\x00\x01\x02"
    # paho sends binary: +IMQTTRCVPUBIN, OK, then exactly msg_len raw bytes
    await observer.publish(down, b"\x11\x22\x33\xaa\xba", 1)
    urc = await at.wait_urc("+IMQTTRCVPUBIN")
    assert urc.fields[1:] == [down, "5"] and urc.payload == b"\x11\x22\x33\xaa\xba"


async def test_wrong_secret_gives_auth_fail_and_no_connection(at, device, cloud):
    await at.expect_ok(f'AT+IMQTTAUTH="{device.product_key}","{device.device_name}","wrong"')
    assert (await at.wait_urc("+IMQTTAUTH")).text == "+IMQTTAUTH:FAIL"
    assert (await at.command("AT+IMQTTCONN")).final == "+CME ERROR:3"
    await cloud.events.wait_for(kind_is("mqtt.auth_fail"))


async def test_device_a_cannot_read_device_b_topics(module_factory, cloud):
    a = cloud.registry.add("a1PKa", "dev-a", "sa")
    b = cloud.registry.add("a1PKb", "dev-b", "sb")
    ma, mb = await module_factory(), await module_factory()
    await mqtt_online(ma.at, a)
    await mqtt_online(mb.at, b)
    b_topic = "/a1PKb/dev-b/user/secret"
    response = await ma.at.expect_ok(f'AT+IMQTTSUB="{b_topic}",1')
    assert (await ma.at.wait_urc("+IMQTTSUB")).fields == [response.line("+IMQTTSUB").fields[0], "128"]
    await mb.at.expect_ok(f'AT+IMQTTSUB="{b_topic}",1')
    await mb.at.wait_urc("+IMQTTSUB")
    await mb.at.expect_ok(f'AT+IMQTTPUB="{b_topic}",1,"for b only"')
    assert (await mb.at.wait_urc("+IMQTTRCVPUB")).payload == b"for b only"
    # and A publishing into B's topic does not reach B
    await ma.at.expect_ok(f'AT+IMQTTPUB="{b_topic}",1,"forged"')
    await ma.at.wait_urc("+IMQTTPUB")
    await cloud.events.wait_for(kind_is("mqtt.denied"))
    await mb.at.expect_ok(f'AT+IMQTTPUB="{b_topic}",1,"second"')
    assert (await mb.at.wait_urc("+IMQTTRCVPUB")).payload == b"second"
    assert not [u for u in mb.at.urcs if u.name == "+IMQTTRCVPUB"]


async def test_mqtt_3_1_connects(at, device, cloud):
    await mqtt_online(at, device, VERSION='"3.1"')
    event = await cloud.events.wait_for(kind_is("mqtt.connect"))
    assert event.device == device.key


async def test_ping_responses_reported_when_enabled(module_factory, device):
    m = await module_factory()
    await mqtt_online(m.at, device)
    # keep-alive below the AT range to see pings within the test: set on the live client
    await m.at.expect_ok('AT+IMQTTDBGPARA="PINGRSP",1')
    m.module.mqtt.client.keepalive = 1
    m.module.mqtt.client._schedule_keepalive()
    await m.at.wait_urc("+IMQTTPINGRSP", timeout=10)


async def test_disconnect_and_state(at, device):
    await mqtt_online(at, device)
    assert (await at.command("AT+IMQTTSTATE?")).line("+IMQTTSTATE").fields == ["2"]
    await at.expect_ok("AT+IMQTTDISCONN")
    assert (await at.wait_urc("+IMQTTSTATE")).text == "+IMQTTSTATE:0"
    assert (await at.command("AT+IMQTTSTATE?")).line("+IMQTTSTATE").fields == ["0"]
    await at.expect_ok("AT+IMQTTCONN")
    assert (await at.wait_urc("+IMQTTSTATE")).text == "+IMQTTSTATE:2"


async def test_cloud_going_away_is_reported_and_nothing_hangs(at, device, cloud):
    await mqtt_online(at, device)
    await cloud.stop()
    assert (await at.wait_urc("+IMQTTSTATE")).text == "+IMQTTSTATE:0"
    assert (await at.command('AT+IMQTTPUB="/x",1,"y"')).final == "+CME ERROR:3"
    await at.expect_ok("AT+IMQTTCONN")
    assert (await at.wait_urc("+IMQTTSTATE")).text == "+IMQTTSTATE:0"  # the attempt failed
    assert (await at.command("AT")).ok


async def test_unsubscribe(at, device, observer):
    topic = f"/{device.product_key}/{device.device_name}/user/u"
    await mqtt_online(at, device)
    await at.expect_ok(f'AT+IMQTTSUB="{topic}",1')
    await at.wait_urc("+IMQTTSUB")
    response = await at.expect_ok(f'AT+IMQTTUNSUB="{topic}"')
    unsub_id = response.line("+IMQTTUNSUB").fields[0]
    assert (await at.wait_urc("+IMQTTUNSUB")).fields == [unsub_id, "0"]
    assert (await at.command("AT+IMQTTUNSUB?")).line("+IMQTTUNSUB").fields == [topic]
    await observer.publish(topic, b"after unsub", 1)
    await at.expect_ok(f'AT+IMQTTSUB="{topic}/2",1')     # a round trip after the publish
    await at.wait_urc("+IMQTTSUB")
    assert not [u for u in at.urcs if u.name == "+IMQTTRCVPUB"]


async def test_mode_1_connects_over_tls_to_the_clouds_mqtts_listener(at, device, cloud, observer):
    assert cloud.addresses["mqtts"].startswith("mqtts://")
    topic = f"/{device.product_key}/{device.device_name}/user/tls"
    await observer.subscribe(topic, 1)
    await at.expect_ok("AT+IMQTTMODE=1")           # before authentication (spec §5.2)
    await mqtt_online(at, device)
    event = await cloud.events.wait_for(lambda e: e.kind == "mqtt.connect" and e.device == device.key)
    assert "securemode=2" in event.detail["client_id"]          # the TLS scheme (DECISIONS §18)
    await at.expect_ok(f'AT+IMQTTPUB="{topic}",1,"over tls"')
    assert (await at.wait_urc("+IMQTTPUB")).fields[1] == "0"
    assert (await observer.next_message()).payload == b"over tls"


async def test_mode_1_without_a_trusted_ca_fails_auth(module_factory, device, cloud):
    m = await module_factory()
    m.module.config.ca_file = None      # trust only the system's CAs: the cloud's own CA is unknown
    await m.at.expect_ok("AT+IMQTTMODE=1")
    await m.at.expect_ok(f'AT+IMQTTAUTH="{device.product_key}","{device.device_name}","{device.device_secret}"')
    assert (await m.at.wait_urc("+IMQTTAUTH")).text == "+IMQTTAUTH:FAIL"
    event = await m.module.events.wait_for(lambda e: e.kind == "net.auth")
    assert "CERTIFICATE_VERIFY_FAILED" in event.detail["reason"]


async def test_clean_session_0_keeps_subscriptions_and_queued_messages(at, device, observer):
    topic = f"/{device.product_key}/{device.device_name}/user/persist"
    await mqtt_online(at, device, CLEAN=0)
    await at.expect_ok(f'AT+IMQTTSUB="{topic}",1')
    await at.wait_urc("+IMQTTSUB")
    await at.expect_ok("AT+IMQTTDISCONN")
    await at.wait_urc("+IMQTTSTATE")
    await observer.publish(topic, b"while away", 1)      # the broker keeps it for the session
    await at.expect_ok("AT+IMQTTCONN")
    assert (await at.wait_urc("+IMQTTSTATE")).text == "+IMQTTSTATE:2"
    assert (await at.wait_urc("+IMQTTRCVPUB")).payload == b"while away"
