"""pysim fleet: scripted modules sharded over processes, against the in-process cloud and
against mosquitto started with a password and ACL file generated from the registry."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from pathlib import Path

import pytest

from pysim.devauth import mqtt_connect_fields
from pysim.fleet import FleetOptions, run_fleet
from pysim.fleet.device import fleet_device
from pysim.fleet.mosquitto import Mosquitto
from pysim.peers import PahoClient

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("broker", ["inprocess", "mosquitto"])
async def test_fleet_counts_every_message(broker):
    if broker == "mosquitto" and shutil.which("mosquitto_passwd") is None:
        pytest.skip("mosquitto is not installed")
    progress: list[dict] = []
    summary = await run_fleet(FleetOptions(devices=4, shards=2, seconds=2, rate=2, broker=broker), progress.append)
    assert summary.errors == [] and summary.ok, summary.text()
    assert (summary.connected, summary.sent, summary.received, summary.lost) == (4, 16, 16, 0)
    assert 0 < summary.latency_ms["p50"] <= summary.latency_ms["p99"] <= summary.latency_ms["max"]
    assert summary.rss_mb_per_device > 0 and summary.cpu_percent_per_device > 0
    assert progress and progress[-1]["devices"] == 4
    assert json.loads(json.dumps(summary.to_json()))["ok"] is True


async def test_mosquitto_enforces_device_auth_and_topic_acl():
    if shutil.which("mosquitto_passwd") is None:
        pytest.skip("mosquitto is not installed")
    a, b = fleet_device(0), fleet_device(1)
    async with Mosquitto([a, b]) as url:
        client_id, username, password = mqtt_connect_fields(a)
        wrong = PahoClient(client_id, username, "0" * 40)
        own = PahoClient(client_id, username, password)
        other = PahoClient(*mqtt_connect_fields(b))
        try:
            assert await wrong.connect(url) in (134, 135)
            assert await own.connect(url) == 0 and await other.connect(url) == 0
            mine, theirs = f"/{a.product_key}/{a.device_name}/user/t", f"/{b.product_key}/{b.device_name}/user/t"
            await own.subscribe(mine, 1)
            await own.subscribe(theirs, 1)      # mosquitto 2 grants it for MQTT 3.1.1 but delivers nothing
            await other.publish(theirs, b"for b only", 1)
            await own.publish(theirs, b"forged", 1)   # refused by the ACL (not delivered)
            await own.publish(mine, b"sentinel", 1)
            assert (await own.next_message()).payload == b"sentinel"
            assert own.messages.empty()
        finally:
            for client in (wrong, own, other):
                await client.close()


async def test_cli_summary_as_text_and_json(tmp_path):
    out = tmp_path / "fleet.json"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pysim.cli", "fleet", "--devices", "2", "--shards", "1", "--seconds", "1",
        "--quiet", "--json", str(out), cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, (stdout + stderr).decode()
    assert "connected 2/2" in stdout.decode() and "lost 0" in stdout.decode()
    data = json.loads(out.read_text())
    assert (data["devices"], data["sent"], data["lost"], data["ok"]) == (2, 2, 0, True)

    bad = await asyncio.create_subprocess_exec(sys.executable, "-m", "pysim.cli", "fleet", "--devices", "0",
                                               cwd=ROOT, stdout=asyncio.subprocess.PIPE,
                                               stderr=asyncio.subprocess.PIPE)
    _, err = await bad.communicate()
    assert bad.returncode == 2 and err.decode().count("\n") == 1 and "Traceback" not in err.decode()
