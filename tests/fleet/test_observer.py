"""The fleet's observers (mosquitto_sub, paho) count exactly what independent paho
devices publish, on mosquitto and on the in-process cloud; a refused login fails start
with one line; mosquitto_sub's password is on no command line and in no file left
behind; stop leaves no process, thread or file; ``--observer`` is chosen and checked."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pysim.cloud import Cloud
from pysim.devauth import mqtt_connect_fields
from pysim.fleet import FleetError, FleetOptions, Mosquitto, fleet_devices
from pysim.fleet.mosquitto_sub import MosquittoSubObserver
from pysim.fleet.subscriber import FleetSubscriber
from pysim.peers import PahoClient

pytestmark = [
    pytest.mark.skipif(Mosquitto.why_unavailable() is not None, reason=str(Mosquitto.why_unavailable())),
    pytest.mark.skipif(not MosquittoSubObserver.available(), reason="mosquitto-clients is not installed"),
]
ROOT = Path(__file__).resolve().parents[2]
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable
OBSERVERS = {"mosquitto_sub": MosquittoSubObserver, "paho": FleetSubscriber}
WAIT = 30.0


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:      # a zombie is gone for our purpose
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


class Broker:
    """mosquitto or the in-process cloud, with ``devices`` registered: ``url``, ``password``."""

    def __init__(self, kind: str, devices) -> None:
        self.kind, self.devices = kind, devices

    async def __aenter__(self) -> "Broker":
        if self.kind == "mosquitto":
            self.server = Mosquitto(self.devices)
            await self.server.start()
            self.url, self.password = self.server.url, self.server.service_password
        else:
            self.server = Cloud(tls=False)
            for creds in self.devices:
                self.server.registry.add(creds.product_key, creds.device_name, creds.device_secret)
            await self.server.start()
            self.url, self.password = self.server.addresses["mqtt"], self.server.service_password
        return self

    async def __aexit__(self, *exc) -> None:
        await self.server.stop()


async def until(condition, what: str) -> None:
    """Wait until ``condition()`` holds (the observer's thread moves it on), at most WAIT s."""
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("broker", ["mosquitto", "inprocess"])
@pytest.mark.parametrize("observer", list(OBSERVERS))
def test_the_observer_counts_exactly_what_independent_devices_publish(broker, observer):
    devices = [d.credentials for d in fleet_devices(3, 0, seed="observer")]
    sent = {creds.device_name: [] for creds in devices}

    async def go():
        async with Broker(broker, devices) as server:
            watcher = OBSERVERS[observer](server.url, server.password, qos=1)
            await asyncio.to_thread(watcher.start)
            try:
                clients = []
                for creds in devices:
                    client = PahoClient(*mqtt_connect_fields(creds))
                    assert await client.connect(server.url) == 0
                    clients.append((creds, client))
                for seq in range(25):        # one after another: acknowledged before the next
                    for creds, client in clients:
                        if (seq * 7 + len(creds.device_name)) % 5 == 0:
                            continue         # a gap: seqs need not be contiguous
                        await client.publish(f"/{creds.product_key}/{creds.device_name}/user/telemetry",
                                             b'{"seq":%d,"t":"a b c"}' % seq, 1)
                        sent[creds.device_name].append(seq)
                first, client = clients[0]
                topic = f"/{first.product_key}/{first.device_name}/user/telemetry"
                await client.publish(topic, b'{"seq":3,"again":true}', 1)    # a duplicate
                await client.publish(topic, b'{"temperature":21}', 1)       # no seq
                total = sum(map(len, sent.values())) + 2
                await until(lambda: watcher.count >= total, f"{total} messages")
                for _, client in clients:
                    await client.close()
                cpu = watcher.cpu_s()
                counted = watcher._thread if observer == "mosquitto_sub" else watcher.client._thread
                assert counted is not None and counted.is_alive()     # the thread whose CPU counts
            finally:
                watcher.stop()
            return watcher, total, cpu

    watcher, total, cpu = asyncio.run(go())
    assert cpu >= 0 and watcher.cpu_s() == 0           # its threads and processes are gone
    assert {name: sorted(seqs) for name, seqs in watcher.arrivals.items()} == sent
    assert watcher.count == total and watcher.received == total - 2
    assert watcher.duplicates == 1 and watcher.unparsed == 1
    times = [t for seqs in watcher.arrivals.values() for t in seqs.values()]
    assert all(abs(t - time.time()) < 120 for t in times)     # wall-clock arrival times, like the send times


@pytest.mark.parametrize("broker", ["mosquitto", "inprocess"])
@pytest.mark.parametrize("observer", list(OBSERVERS))
def test_a_refused_login_fails_start_with_one_line_and_leaves_nothing(broker, observer):
    async def go():
        async with Broker(broker, []) as server:
            watcher = OBSERVERS[observer](server.url, "not-the-password")
            with pytest.raises(ConnectionError) as error:
                await asyncio.to_thread(watcher.start, WAIT)
            return watcher, str(error.value)

    watcher, message = asyncio.run(go())
    assert "\n" not in message and "no answer" not in message, message
    assert "not authori" in message.lower(), message
    if observer == "mosquitto_sub":
        assert watcher.dir is None and watcher.proc is None     # refused before mosquitto_sub started


class Watched(MosquittoSubObserver):
    """Notes the option files' modes and what is in them while they exist."""

    def _publish_marker(self, timeout: float) -> None:
        self.seen = {p.name: (stat.S_IMODE(p.stat().st_mode), p.read_text()) for p in self.dir.iterdir()}
        self.seen_dir = (self.dir, stat.S_IMODE(self.dir.stat().st_mode))
        super()._publish_marker(timeout)


def test_mosquitto_subs_password_is_on_no_command_line_and_in_no_file_left_and_stop_leaves_nothing():
    async def go():
        async with Broker("mosquitto", []) as server:
            watcher = Watched(server.url, server.password)
            await asyncio.to_thread(watcher.start)
            pid, thread, directory = watcher.proc.pid, watcher._thread, watcher.seen_dir[0]
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{pid}/environ", "rb") as f:
                environ = f.read()
            running_dir_gone = not directory.exists()     # removed once subscribed
            watcher.stop()
            return server.password, watcher, pid, thread, directory, cmdline, environ, running_dir_gone

    password, watcher, pid, thread, directory, cmdline, environ, running_dir_gone = asyncio.run(go())
    assert cmdline.startswith(b"mosquitto_sub\0") and b"-t\0/" in cmdline     # it is the right process
    assert password.encode() not in cmdline and password.encode() not in environ
    assert watcher.seen_dir[1] == 0o700
    assert {name: mode for name, (mode, _) in watcher.seen.items()} == {"mosquitto_sub": 0o600, "mosquitto_pub": 0o600}
    assert all(f"-P {password}\n" in text for _, text in watcher.seen.values())
    assert running_dir_gone and not directory.exists() and watcher.dir is None
    assert not alive(pid) and not thread.is_alive()


def test_mosquitto_sub_ends_with_the_process_that_started_it():
    script = ("import sys, time; from pysim.fleet.mosquitto_sub import MosquittoSubObserver as O; "
              "o = O(sys.argv[1], sys.argv[2]); o.start(); print(o.proc.pid, flush=True); time.sleep(600)")

    async def go():
        async with Broker("mosquitto", []) as server:
            child = subprocess.Popen([PYTHON, "-c", script, server.url, server.password], stdout=subprocess.PIPE,
                                     text=True, cwd=ROOT)
            try:
                pid = int(await asyncio.to_thread(child.stdout.readline))
                assert alive(pid)
            finally:
                child.kill()
                child.wait()
                child.stdout.close()
            try:
                await until(lambda: not alive(pid), "mosquitto_sub to end with its parent")
            finally:
                if alive(pid):            # the test failed: leave no orphan behind it
                    os.kill(pid, signal.SIGKILL)

    asyncio.run(go())


def test_the_observer_option_is_checked_and_auto_takes_mosquitto_sub():
    assert FleetOptions().observer == "auto"
    assert type(FleetOptions().observer_for("mqtt://127.0.0.1:1883", "x")) is MosquittoSubObserver
    assert type(FleetOptions(observer="paho").observer_for("mqtt://127.0.0.1:1883", "x")) is FleetSubscriber
    with pytest.raises(FleetError, match="unknown observer"):
        FleetOptions(observer="tcpdump").check()


def test_asking_for_a_missing_mosquitto_sub_is_one_line_and_exit_code_3():
    done = subprocess.run([PYTHON, "-m", "pysim.cli", "fleet", "--scripted", "1", "--observer", "mosquitto_sub"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PATH": "/nonexistent"})
    assert done.returncode == 3, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1 and "mosquitto-clients" in done.stderr, done.stderr


@pytest.mark.parametrize("observer", ["mosquitto_sub", "paho"])
def test_a_small_fleet_counts_exactly_with_either_observer_and_names_it(observer):
    from pysim.fleet import Fleet
    from pysim.fleet.summary import text

    summary = asyncio.run(Fleet(FleetOptions(scripted=6, duration=2, broker="mosquitto", shards=1,
                                             observer=observer)).run())
    assert summary["observer"] == observer and f"observed by {observer}" in text(summary)
    assert summary["observer_cpu_pct"] >= 0 and f"observer    {observer}, CPU" in text(summary)
    assert summary["connected"] == 6 and summary["sent"] == summary["received"] == 12, summary
    assert summary["lost"] == 0 and summary["duplicates"] == 0, summary
