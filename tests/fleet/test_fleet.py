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
