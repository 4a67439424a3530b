"""One cloud per test: `dut` (the demo firmware in QEMU), `cloud`, `device` and the
module fixtures of one test act on the same broker and servers, in synchronous and
async tests; every Cloud the test starts is counted, so a second one fails the test."""

from __future__ import annotations

import threading

import paho.mqtt.client as mqtt
import pytest

from peripherals.ica.devauth import mqtt_connect_fields
from pysim.cloud import Cloud
from pysim.events import kind_is
from pysim.peers import host_port
from te_steps import mqtt_online

TOPIC = "/a1demoPK/demo-device-01/user"      # the demo firmware's topics
DEMO = ("a1demoPK", "demo-device-01")


@pytest.fixture(autouse=True)
def started_clouds(monkeypatch) -> list[Cloud]:
    """Every Cloud started during the test (set up before the pysim fixtures: autouse)."""
    started: list[Cloud] = []
    start = Cloud.start

    async def counting_start(self: Cloud) -> None:
        if self not in started:
            started.append(self)
        await start(self)

    monkeypatch.setattr(Cloud, "start", counting_start)
    return started


def paho_publish(url: str, creds, topic: str, payload: bytes) -> None:
    """Connect a real paho client (this thread waits on its callbacks) as ``creds`` and publish at QoS 1."""
    connected, published = threading.Event(), threading.Event()
    codes: list = []
    client_id, username, password = mqtt_connect_fields(creds)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    client.username_pw_set(username, password)
    client.on_connect = lambda c, u, f, code, p: (codes.append(code), connected.set())
    client.on_publish = lambda c, u, mid, code, p: published.set()
    client.connect(*host_port(url))
    client.loop_start()
    try:
        assert connected.wait(20), "no CONNACK from the test's cloud"
        assert not codes[0].is_failure, f"the test's cloud refused {creds.device_name}: {codes[0]}"
        client.publish(topic, payload, qos=1)
        assert published.wait(20), "no PUBACK from the test's cloud"
    finally:
        client.disconnect()
        client.loop_stop()


def test_sync_dut_cloud_and_device_share_one_cloud(dut, cloud, device, started_clouds):
    """A plain test: the dut's module is on `cloud`; `cloud` is served while the test runs;
    credentials `device` registered are known to the dut's broker, whose side sees what they publish."""
    assert started_clouds == [cloud] and dut.cloud.cloud is cloud
    assert dut.module.config.mqtt_url == cloud.addresses["mqtt"]
    assert cloud.registry.get(*DEMO) is not None            # the dut registered its device in it
    dut.console.expect(r"^STEP mqtt_connect ok", timeout=30)
    telemetry = dut.cloud.expect_message(f"{TOPIC}/telemetry", r'"seq"', timeout=20)
    assert cloud.events.find(kind_is("mqtt.publish", topic=telemetry.topic))
    # an independent client, logged in as `device`, on `cloud`'s port: the dut's cloud side sees it
    topic = f"/{device.product_key}/{device.device_name}/user/update"
    paho_publish(cloud.addresses["mqtt"], device, topic, b'{"from":"paho"}')
    message = dut.cloud.expect_message(topic, r"paho", timeout=20)
    assert message.device == (device.product_key, device.device_name)
    assert started_clouds == [cloud]


def test_sync_cloud_alone_is_served_during_the_test(cloud, device, started_clouds):
    """A plain test without `dut`: its cloud answers an independent client while the test body runs."""
    topic = f"/{device.product_key}/{device.device_name}/user/update"
    seen = threading.Event()      # the cloud's loop (its thread) calls the listener
    cloud.events.listeners.append(lambda event: kind_is("mqtt.publish", topic=topic)(event) and seen.set())
    paho_publish(cloud.addresses["mqtt"], device, topic, b"plain")
    assert seen.wait(20), "the test's cloud reported no publish"
    assert [e.detail["payload"] for e in cloud.events.find(kind_is("mqtt.publish", topic=topic))] == [b"plain"]
    assert started_clouds == [cloud]


async def test_async_dut_cloud_device_and_at_share_one_cloud(dut, cloud, device, at, ica_module, mcu_session,
                                                             echo_elf, started_clouds, pysim_trace):
    """An async test: dut, `at`'s module and `cloud` on the test's loop, one broker for both devices."""
    assert started_clouds == [cloud] and dut.session.cloud is cloud
    assert dut.module.config.mqtt_url == ica_module.config.mqtt_url == cloud.addresses["mqtt"]
    await mqtt_online(at, device)
    command = f"/{device.product_key}/{device.device_name}/user/command"
    await at.expect_ok(f'AT+IMQTTSUB="{command}",1')
    await at.wait_urc("+IMQTTSUB")
    await dut.console.expect(r"^STEP mqtt_connect ok", timeout=30)
    # both devices logged in to the one broker
    for who in (DEMO, (device.product_key, device.device_name)):
        await cloud.events.wait_for(lambda e, who=who: e.kind == "mqtt.connect" and e.device == who, 20)
    # the firmware's telemetry reaches `cloud.events`; `at`'s publish reaches the dut's cloud side
    await cloud.events.wait_for(kind_is("mqtt.publish", topic=f"{TOPIC}/telemetry"), 20)
    update = f"/{device.product_key}/{device.device_name}/user/update"
    await at.expect_ok(f'AT+IMQTTPUB="{update}",1,"hello"')
    assert (await dut.cloud.expect_message(update, "hello", timeout=20)).text == "hello"
    # the dut's cloud side publishes to `at`'s module
    await dut.cloud.publish(command, '{"led":1}')
    assert (await at.wait_urc("+IMQTTRCVPUB")).payload == b'{"led":1}'
    # a second firmware session of the test joins the same cloud
    session = await mcu_session(firmware=echo_elf)
    assert session.cloud is cloud and session.module.config.mqtt_url == cloud.addresses["mqtt"]
    assert started_clouds == [cloud]
    # the test's trace: both modules' AT lines and the firmware's console in time order, and each
    # event of the one cloud once (the session's writer and `at`'s both listen to it)
    lines = pysim_trace.text().splitlines()
    times = [float(line.split()[0]) for line in lines]
    assert times == sorted(times)
    assert any(f'TE->TA AT+IMQTTPUB="{update}",1,"hello"' in line for line in lines)
    assert any("console STEP mqtt_connect ok" in line for line in lines)
    connects = cloud.events.find(lambda e: e.kind == "mqtt.connect" and e.device == (device.product_key,
                                                                                      device.device_name))
    traced = [line for line in lines if f" TA<->cloud mqtt.connect {device.product_key}/" in line]
    assert len(traced) == len(connects) >= 1, traced


class TestEcho:
    """--pysim-trace (here: the test's trace with ``echo`` on) prints the dut's lines as they happen."""

    @pytest.fixture
    def pysim_trace(self, pysim_trace):
        pysim_trace.echo = True
        return pysim_trace

    def test_the_dut_session_is_printed_live_each_event_once(self, dut, capsys):
        dut.console.expect(r"^STEP mqtt_connect ok", timeout=30)
        out = capsys.readouterr().out.splitlines()
        assert any(line.endswith("console STEP mqtt_connect ok") for line in out), out
        assert any(" TE->TA AT+IMQTTCONN" in line for line in out), out
        printed = [line for line in out if " TA<->cloud mqtt.connect a1demoPK/demo-device-01" in line]
        connects = dut.cloud.cloud.events.find(lambda e: e.kind == "mqtt.connect" and e.device == DEMO)
        assert len(printed) == len(connects) >= 1, printed
