"""Fleets: exact accounting on both brokers, the JSON summary, mosquitto's device auth
and per-device ACL checked by an independent client, and a killed shard."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pysim.fleet import EMULATED, Fleet, FleetOptions, Mosquitto, fleet_devices
from pysim.devauth import mqtt_connect_fields
from pysim.peers import PahoClient

pytestmark = pytest.mark.skipif(Mosquitto.why_unavailable() is not None, reason=str(Mosquitto.why_unavailable()))
ROOT = Path(__file__).resolve().parents[2]
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:    # a zombie is gone for our purpose
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


def assert_exact(summary: dict, devices: int) -> None:
    assert summary["connected"] == devices, summary
    assert summary["sent"] == summary["received"] > 0, summary
    assert summary["lost"] == 0 and summary["failed"] == 0 and summary["device_errors"] == 0, summary


@pytest.mark.qemu
def test_small_fleet_on_the_in_process_cloud_exact_accounting_and_json(tmp_path):
    out = tmp_path / "fleet.json"
    done = subprocess.run([PYTHON, "-m", "pysim.cli", "fleet", "--scripted", "20", "--emulated", "2",
                           "--duration", "2", "--json", str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(out.read_text())
    assert_exact(summary, 22)
    assert summary["sent"] == 22 * 2                     # 1 msg/s for 2 s, each device
    assert summary["by_kind"]["emulated"] == {"devices": 2, "connected": 2, "sent": 4, "received": 4}
    assert summary["broker"] == "inprocess" and summary["shards"] == os.cpu_count()
    for key in ("p50", "p90", "p99", "max"):
        assert 0 < summary["latency_ms"][key] < 60_000
    assert summary["latency_ms"]["p50"] <= summary["latency_ms"]["p99"] <= summary["latency_ms"]["max"]
    late = summary["late_ms"]                              # the 40 scripted publishes, against their schedule
    assert 0 <= late["p50"] <= late["p99"] <= late["max"] < 60_000
    assert "on time     p50" in done.stdout
    assert summary["cpu_per_device_pct"] > 0 and summary["memory_per_device_kb"] > 0
    assert summary["broker_rss_mb"] > 0
    assert f"received    {summary['received']}" in done.stdout      # the text summary says the same
    assert "\r" not in done.stderr                                    # no progress line when not a tty


@pytest.mark.qemu
def test_small_fleet_on_mosquitto_exact_accounting():
    summary = asyncio.run(Fleet(FleetOptions(scripted=20, emulated=2, duration=2, broker="mosquitto")).run())
    assert_exact(summary, 22)
    assert summary["sent"] == 44 and summary["broker"] == "mosquitto"


def test_mosquitto_refuses_a_device_another_devices_topics_and_a_wrong_password():
    a, b = (d.credentials for d in fleet_devices(2, 0, seed="acl"))

    async def go():
        async with Mosquitto([a, b]) as broker:
            url = broker.url
            wrong = PahoClient("wrong", f"{a.device_name}&{a.product_key}", "not-the-sign")
            assert await wrong.connect(url) != 0
            await wrong.close()
            observer = PahoClient("observer", "service", broker.service_password)
            assert await observer.connect(url) == 0
            assert await observer.subscribe("#", 1) == [1]
            device = PahoClient(a.client_id, f"{a.device_name}&{a.product_key}", a.sign())
            assert await device.connect(url) == 0
            # mosquitto 2.0 grants the SUBSCRIBE and then checks read access per message
            await device.subscribe(f"/{b.product_key}/{b.device_name}/user/command", 1)
            assert await device.subscribe(f"/{a.product_key}/{a.device_name}/user/command", 1) == [1]
            await observer.publish(f"/{b.product_key}/{b.device_name}/user/command", b"for b", 1)
            await observer.publish(f"/{a.product_key}/{a.device_name}/user/command", b"for a", 1)
            got = await device.next_message()             # b's message never reaches a, in order
            assert (got.topic, got.payload) == (f"/{a.product_key}/{a.device_name}/user/command", b"for a")
            await device.publish(f"/{b.product_key}/{b.device_name}/user/telemetry", b"forged", 1)
            await device.publish(f"/{a.product_key}/{a.device_name}/user/telemetry", b"mine", 1)
            first = await observer.next_message()        # the forged one never arrives, in order
            while first.topic.endswith("/user/command"):  # the observer's own two
                first = await observer.next_message()
            assert (first.topic, first.payload) == (f"/{a.product_key}/{a.device_name}/user/telemetry", b"mine")
            await device.close()
            await observer.close()
        return broker

    broker = asyncio.run(go())
    assert broker.dir is None and broker.proc is None


@pytest.mark.qemu
def test_a_killed_shard_disturbs_no_other_and_leaves_no_process_or_port():
    killed: dict[str, object] = {}

    def kill_shard_zero(fleet: Fleet) -> None:
        report = fleet.progress.get(0)
        if not killed and report and report["connected"] == 4 and report["emulator_pids"]:
            killed.update(pid=report["pid"], emulators=report["emulator_pids"], port=fleet.subscriber.url)
            fleet.processes[0].kill()

    # shard 0: scripted 0, 2, 4 and emulated 0; shard 1: scripted 1, 3, 5 and emulated 1
    fleet = Fleet(FleetOptions(scripted=6, emulated=2, duration=3, broker="mosquitto", shards=2),
                  on_progress=kill_shard_zero)
    summary = asyncio.run(fleet.run())
    assert killed, "shard 0 never reported its devices connected"
    assert summary["crashed_devices"] == 4 and "0" in summary["shard_failures"], summary
    assert "exit code -9" in summary["shard_failures"]["0"]
    assert summary["connected"] == 4 and summary["sent"] == summary["received"] == 4 * 3, summary
    assert summary["lost"] == 0 and summary["by_kind"][EMULATED]["received"] == 3
    assert not alive(killed["pid"]) and not any(alive(pid) for pid in killed["emulators"])
    assert not any(p.is_alive() for p in fleet.processes.values())
    host, port = killed["port"].removeprefix("mqtt://").split(":")
    with pytest.raises(OSError):
        import socket
        socket.create_connection((host, int(port)), timeout=2).close()


def test_shards_as_tasks_of_a_local_two_worker_dask_cluster():
    pytest.importorskip("dask.distributed")
    summary = asyncio.run(Fleet(FleetOptions(scripted=4, duration=1, broker="mosquitto", shards=2,
                                             executor="dask")).run())
    assert summary["executor"] == "dask" and summary["shards"] == 2 and not summary["shard_failures"], summary
    assert_exact(summary, 4)
    assert summary["sent"] == 4


@pytest.mark.parametrize("bound", [True, False], ids=["bound", "unbound"])
def test_mosquitto_gives_a_device_using_another_devices_client_id_none_of_its_queued_messages(bound):
    """Device A signs in with its own valid credentials but device B's client identifier
    and CLEAN=0 (issue 10, defect 1). With the binding (the default) it gets a session
    of its own: the first message it receives is the marker on its own topic, and B
    still finds its queued message. Without it (``unbound``) A takes over B's session:
    mosquitto's read ACL keeps B's message from A, but it is gone for B too."""
    a, b = (d.credentials for d in fleet_devices(2, 0, seed="takeover"))
    b_id, b_user, b_password = mqtt_connect_fields(b)
    _, a_user, a_password = mqtt_connect_fields(a)
    b_topic, a_topic = (f"/{c.product_key}/{c.device_name}/user/command" for c in (b, a))

    async def go():
        async with Mosquitto([a, b], bind_client_id=bound) as broker:
            observer = PahoClient("observer", "service", broker.service_password)
            assert await observer.connect(broker.url) == 0
            device_b = PahoClient(b_id, b_user, b_password, clean_session=False)     # B's persistent session
            assert await device_b.connect(broker.url) == 0
            assert await device_b.subscribe(b_topic, 1) == [1]
            await device_b.close()
            await observer.publish(b_topic, b"queued for b", 1)                      # queued while B is away
            thief = PahoClient(b_id, a_user, a_password, clean_session=False)
            assert await thief.connect(broker.url) == 0
            await thief.subscribe(a_topic, 1)
            await observer.publish(a_topic, b"marker for a", 1)
            first = await thief.next_message()       # B's queued message would come first, right after CONNACK
            await thief.close()
            device_b = PahoClient(b_id, b_user, b_password, clean_session=False)
            assert await device_b.connect(broker.url) == 0
            await device_b.subscribe(b_topic, 1)
            await observer.publish(b_topic, b"marker for b", 1)
            b_first = await device_b.next_message()
            await device_b.close()
            await observer.close()
            return first.payload, b_first.payload

    stolen, kept = asyncio.run(go())
    if bound:
        assert (stolen, kept) == (b"marker for a", b"queued for b")
    else:                                   # what the binding prevents: B's queued message destroyed
        assert (stolen, kept) == (b"marker for a", b"marker for b")


@pytest.mark.parametrize("bound", [True, False], ids=["bound", "unbound"])
def test_mosquitto_binding_costs_what_a_clean_0_module_had_queued_across_its_auth_check(bound):
    """The price of the binding, shown with a real module: the clean connection of
    ``AT+IMQTTAUTH``'s credential check (identifier ``...check=1|``) becomes the
    device's own session on mosquitto, so a CLEAN=0 module that re-authenticates loses
    what was queued for it (subscription included). Unbound, the message is kept."""
    from peripherals.ica import IcaModule, ModuleConfig
    from pysim.fleet.shard import at_string
    from pysim.te import AtClient

    [device] = fleet_devices(1, 0, seed="auth-check")
    topic = f"/{device.product_key}/{device.device_name}/user/queued"

    async def online(at: AtClient) -> None:
        await at.expect_ok("AT+IMQTTAUTH=" + ",".join(
            at_string(x) for x in (device.product_key, device.device_name, device.device_secret)))
        assert (await at.wait_urc("+IMQTTAUTH")).text == "+IMQTTAUTH:OK"
        await at.expect_ok('AT+IMQTTPARA="CLEAN",0')
        await at.expect_ok("AT+IMQTTCONN")
        assert (await at.wait_urc("+IMQTTSTATE")).text == "+IMQTTSTATE:2"

    async def go():
        async with Mosquitto([device.credentials], bind_client_id=bound) as broker:
            config = ModuleConfig(name=device.device_name, echo=False)
            config.use_cloud(broker.addresses)
            module = IcaModule(config)
            at = AtClient(module.feed)
            module.on_output = at.feed
            observer = PahoClient("observer", "service", broker.service_password)
            assert await observer.connect(broker.url) == 0
            await module.start()
            try:
                await online(at)
                await at.expect_ok(f'AT+IMQTTSUB="{topic}",1')
                assert (await at.wait_urc("+IMQTTSUB")).fields[1] == "1"
                await at.expect_ok("AT+IMQTTDISCONN")
                assert (await at.wait_urc("+IMQTTSTATE")).text == "+IMQTTSTATE:0"
                await observer.publish(topic, b"queued", 1)
                await online(at)                  # AT+IMQTTAUTH's check, then CLEAN=0 again
                await at.expect_ok(f'AT+IMQTTSUB="{topic}",1')
                assert (await at.wait_urc("+IMQTTSUB")).fields[1] == "1"
                await observer.publish(topic, b"marker", 1)
                return (await at.wait_urc("+IMQTTRCVPUB")).payload
            finally:
                await module.stop()
                await observer.close()

    first = asyncio.run(go())
    assert first == (b"marker" if bound else b"queued")
