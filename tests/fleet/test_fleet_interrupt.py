"""``pysim fleet`` stopped by SIGTERM (or Ctrl-C at its terminal) mid-run: it exits
promptly with code 130 and its partial summary, and leaves no process (shards, QEMU,
mosquitto, the in-process cloud) and no listening port behind.

The fleet runs as a real subprocess in a session of its own with its stderr on a pty,
so that it shows its live progress line; the signal is sent once that line says every
device is connected."""

from __future__ import annotations

import asyncio
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pysim.fleet import Mosquitto

pytestmark = pytest.mark.skipif(Mosquitto.why_unavailable() is not None, reason=str(Mosquitto.why_unavailable()))
ROOT = Path(__file__).resolve().parents[2]
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable
CONNECTED = re.compile(rb"connected (\d+)/(\d+)")


def children_of() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(ppid, []).append(int(entry))
    return tree


def descendants(pid: int) -> set[int]:
    tree, found, todo = children_of(), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def group(pgid: int) -> dict[int, str]:
    """The live processes of process group ``pgid``, with their command lines."""
    members = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                members[int(entry)] = command(int(entry))
    return members


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"     # a zombie is gone for our purpose
    except OSError:
        return False


def command(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def socket_inodes(pids: set[int]) -> set[str]:
    inodes = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    return inodes


def listening_ports(inodes: set[str] | None = None) -> set[int]:
    """TCP ports in LISTEN (state 0A), of sockets with these inodes (None: any)."""
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and (inodes is None or fields[9] in inodes):
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


class PtyReader:
    """Reads the fleet's stderr (a pty) on a thread; ``wait_for(pattern_check)``."""

    def __init__(self, master: int) -> None:
        self.master = master
        self.data = b""
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while True:
            ready, _, _ = select.select([self.master], [], [], 1.0)
            if not ready:
                continue
            try:
                chunk = os.read(self.master, 4096)
            except OSError:       # EIO: every writer closed the pty
                chunk = b""
            with self.changed:
                self.data += chunk
                self.changed.notify_all()
            if not chunk:
                return

    def wait_for(self, check, timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: check(self.data), timeout)


def all_connected(devices: int):
    def check(data: bytes) -> bool:
        return any(int(a) == int(b) == devices for a, b in CONNECTED.findall(data))
    return check


def start_fleet(args: list[str], total: int) -> tuple[subprocess.Popen, PtyReader, int]:
    """A real ``pysim fleet`` in a session of its own, its stderr on a pty; returns once
    its progress line shows ``total`` devices connected."""
    master, slave = os.openpty()
    fleet = subprocess.Popen([PYTHON, "-m", "pysim.cli", "fleet", *args, "--duration", "600", "--shards", "2"],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL,
                             start_new_session=True)
    os.close(slave)
    reader = PtyReader(master)
    if not reader.wait_for(all_connected(total), timeout=240):
        os.killpg(fleet.pid, signal.SIGKILL)
        fleet.wait()
        pytest.fail(reader.data.decode(errors="replace")[-2000:])
    return fleet, reader, master


def assert_nothing_left(fleet: subprocess.Popen, started: set[int], commands: dict[int, str], ports: set[int]) -> None:
    deadline = time.monotonic() + 15      # the kernel reaps orphans asynchronously; shards stop their QEMUs
    while time.monotonic() < deadline and any(alive(pid) for pid in started):
        time.sleep(0.05)
    left = {pid: commands[pid] for pid in started if alive(pid)}
    for pid in left:                      # leave nothing behind for the next test either
        os.kill(pid, signal.SIGKILL)
    assert not left, left
    assert not group(fleet.pid)           # no process of its group either
    assert not ports & listening_ports(), ports & listening_ports()


@pytest.mark.qemu
@pytest.mark.parametrize("how", ["SIGTERM, mosquitto, QEMU", "Ctrl-C, in-process cloud"])
def test_a_signalled_fleet_stops_promptly_with_130_its_partial_summary_and_nothing_left(how):
    sigterm = how.startswith("SIGTERM")
    devices = ["--scripted", "12", "--emulated", "1", "--broker", "mosquitto"] if sigterm else ["--scripted", "12"]
    total = 13 if sigterm else 12
    fleet, reader, master = start_fleet(devices, total)
    try:
        started = descendants(fleet.pid)
        commands = {pid: command(pid) for pid in started}
        ports = listening_ports(socket_inodes(started | {fleet.pid}))
        assert ports, "the broker's listening port was not found"
        if sigterm:
            assert any("qemu-system" in c for c in commands.values()), commands
            assert any("mosquitto" in c for c in commands.values()), commands
        assert sum("multiprocessing" in c for c in commands.values()) >= 2, commands     # the shards (spawn)

        t0 = time.monotonic()
        if sigterm:
            fleet.send_signal(signal.SIGTERM)
        else:                     # Ctrl-C at a terminal: SIGINT to the whole foreground process group
            os.killpg(fleet.pid, signal.SIGINT)
        out, _ = fleet.communicate(timeout=60)
        took = time.monotonic() - t0
    finally:
        if fleet.poll() is None:
            os.killpg(fleet.pid, signal.SIGKILL)
            fleet.wait()
    reader.thread.join(5)
    os.close(master)
    text = out.decode()
    assert fleet.returncode == 130, text + reader.data.decode(errors="replace")[-2000:]
    assert took < 20, f"took {took:.1f} s to stop"
    assert "INTERRUPTED" in text and f"connected   {total}/{total}" in text, text
    sent = int(re.search(r"sent\s+(\d+)", text).group(1))
    assert sent > 0, text
    assert "Traceback" not in text + reader.data.decode(errors="replace")
    assert_nothing_left(fleet, started, commands, ports)   # QEMU and mosquitto lead sessions of their own


@pytest.mark.qemu
def test_a_fleet_killed_with_sigkill_leaves_no_shard_qemu_broker_or_port():
    """SIGKILL cannot be caught: the shards and mosquitto learn of their parent's death
    (PR_SET_PDEATHSIG: SIGTERM), each shard stops its QEMUs, the in-process cloud ends."""
    fleet, reader, master = start_fleet(["--scripted", "6", "--emulated", "1", "--broker", "mosquitto"], 7)
    started = descendants(fleet.pid)
    commands = {pid: command(pid) for pid in started}
    ports = listening_ports(socket_inodes(started | {fleet.pid}))
    assert any("qemu-system" in c for c in commands.values()) and ports, commands
    fleet.kill()
    fleet.wait()
    reader.thread.join(5)
    os.close(master)
    assert_nothing_left(fleet, started, commands, ports)


def test_a_stopped_dask_fleet_returns_each_shards_partial_result():
    pytest.importorskip("dask.distributed")
    from pysim.fleet import Fleet, FleetOptions

    async def go():
        stop = asyncio.Event()
        fleet = Fleet(FleetOptions(scripted=4, duration=600, broker="mosquitto", shards=2, executor="dask"))
        run = asyncio.ensure_future(fleet.run(stop))
        while not (fleet.subscriber and fleet.subscriber.received >= 8) and not run.done():
            await asyncio.sleep(0.05)        # until messages of the devices arrive
        t0 = time.monotonic()
        stop.set()
        summary = await run
        return summary, time.monotonic() - t0

    summary, took = asyncio.run(go())
    assert summary["interrupted"] and took < 20, (took, summary)
    assert summary["shards"] == 2 and not summary["shard_failures"], summary     # both returned their part
    assert summary["connected"] == 4 and summary["sent"] >= 8, summary
    assert summary["sent"] - summary["received"] <= 4, summary     # at most one in flight a device at the stop
