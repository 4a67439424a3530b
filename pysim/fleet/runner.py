"""``run_fleet``: a cloud, an independent subscriber and the shards that run the devices,
then the accounting (:mod:`pysim.fleet.summary`).

Shards run in processes of their own (``multiprocessing``, spawn: one asyncio loop a
process, one process a core by default) or as tasks of a Dask cluster
(``executor="dask"``, :mod:`pysim.fleet.distributed`). A shard that dies (a crash, a
kill) takes only its own devices with it: they are reported as lost with the shard,
its emulators are killed, the others run on.

``run(stop)``: once ``stop`` is set (``pysim fleet`` sets it on SIGINT and SIGTERM) the
fleet stops early and cleanly: a firmware build under way is killed, each shard is told
to stop (SIGTERM to a shard process, a cluster event to a Dask task) and returns its
partial result (its modules closed, its emulators stopped), a shard that does not end
within ``STOP_GRACE`` s is killed with its emulators, then the subscriber, mosquitto and
the in-process cloud are stopped; the summary says ``"interrupted": true``.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .mosquitto import Mosquitto
from .plan import EMULATED, FleetDevice, ShardSpec, fleet_devices, split
from pysim.orphans import signal_when_parent_dies
from .shard import LOOPS, proc_usage, raise_fd_limit, run_shard, uvloop_available
from .arrivals import Arrivals
from .mosquitto_sub import MosquittoSubObserver
from .subscriber import FleetSubscriber
from .summary import summarise

ROOT = Path(__file__).resolve().parents[2]
BROKERS = ("inprocess", "mosquitto")
OBSERVERS = ("auto", "mosquitto_sub", "paho")     # auto: mosquitto_sub when installed, else paho
STOP_GRACE = 15.0    # after a stop: how long shards may take to return their partial results


class FleetError(RuntimeError):
    """The fleet could not start (one line)."""


class Interrupted(Exception):
    """The fleet's stop was set (inside ``Fleet.run`` only)."""


@dataclass
class FleetOptions:
    scripted: int = 10
    emulated: int = 0
    broker: str = "inprocess"              # inprocess (pysim.cloud, amqtt) | mosquitto
    rate: float = 1.0                      # messages per device per second
    duration: float = 10.0                 # seconds each device publishes
    qos: int = 1
    shards: int = field(default_factory=lambda: os.cpu_count() or 1)
    connect_concurrency: int = 100         # scripted devices connecting at once, per shard
    boot_concurrency: int = 4              # emulated devices starting at once, per shard
    drain_timeout: float = 10.0            # after the shards: how long the subscriber may still wait
    executor: str = "processes"            # processes | dask
    dask_address: str | None = None        # a running scheduler; None: a LocalCluster of `shards` workers
    seed: str = ""
    loop: str = "auto"                     # shards' event loop: auto (uvloop if installed) | asyncio | uvloop
    observer: str = "auto"                 # who counts arrivals: auto | mosquitto_sub | paho (OBSERVERS)

    def check(self) -> None:
        if self.scripted < 0 or self.emulated < 0 or self.scripted + self.emulated == 0:
            raise FleetError("a fleet needs at least one device (--scripted N, --emulated N)")
        if self.broker not in BROKERS:
            raise FleetError(f"unknown broker {self.broker!r}: choose {' or '.join(BROKERS)}")
        if self.rate <= 0 or self.duration <= 0:
            raise FleetError("--rate and --duration must be above 0")
        if self.qos not in (0, 1):
            raise FleetError("--qos must be 0 or 1")
        if self.loop not in LOOPS:
            raise FleetError(f"unknown event loop {self.loop!r}: choose {', '.join(LOOPS)}")
        if self.loop == "uvloop" and not uvloop_available():
            raise FleetError("--loop uvloop: uvloop is not installed (pip install ica-pysim[fast])")
        if self.executor not in ("processes", "dask"):
            raise FleetError(f"unknown executor {self.executor!r}: choose processes or dask")
        if self.observer not in OBSERVERS:
            raise FleetError(f"unknown observer {self.observer!r}: choose {', '.join(OBSERVERS)}")
        if self.observer == "mosquitto_sub" and not MosquittoSubObserver.available():
            raise FleetError("--observer mosquitto_sub: mosquitto_sub or mosquitto_pub not found "
                             "(install Debian's mosquitto-clients package, or use --observer paho)")

    def observer_for(self, url: str, password: str) -> Arrivals:
        """The fleet's independent observer (not started) on ``url`` as the service user."""
        name = self.observer
        if name == "auto":
            name = "mosquitto_sub" if MosquittoSubObserver.available() else "paho"
        kind = MosquittoSubObserver if name == "mosquitto_sub" else FleetSubscriber
        return kind(url, password, qos=self.qos)


# ---- the firmware of emulated devices ---------------------------------------------------
def firmware_for(devices: list[FleetDevice], build_root: Path | None = None,
                 stop: threading.Event | None = None) -> dict[str, str]:
    """Build (or reuse) the demo firmware of each emulated device: its credentials are
    compiled in, telemetry every second, never exiting. ``firmware/build/fleet/<name>``.
    Once ``stop`` is set the builds under way are killed and :class:`Interrupted` raised."""
    emulated = [d for d in devices if d.kind == EMULATED]
    if not emulated:
        return {}
    if not (ROOT / "firmware" / "Makefile").is_file():
        raise FleetError("emulated devices need the demo firmware's sources (a source checkout)")
    build_root = build_root or ROOT / "firmware" / "build" / "fleet"
    jobs: list[tuple[FleetDevice, subprocess.Popen]] = []
    out: dict[str, str] = {}
    limit = os.cpu_count() or 1
    stop = stop or threading.Event()

    def wait_until(done: Callable[[], bool]) -> None:
        while not done():
            if stop.wait(0.05):
                for _, job in jobs:      # make and its compilers: the job's own process group
                    if job.poll() is None:
                        kill_group(job.pid)
                    job.wait()
                raise Interrupted()

    for device in emulated:
        build = build_root / device.device_name
        out[device.device_name] = str(build / "netduinoplus2" / "demo.elf")
        wait_until(lambda: len([p for _, p in jobs if p.poll() is None]) < limit)
        jobs.append((device, subprocess.Popen(
            ["make", "-s", "-C", str(ROOT / "firmware"), "APP=demo", "BOARD=netduinoplus2", f"BUILD={build}",
             f"ICA_PK={device.product_key}", f"ICA_DN={device.device_name}", f"ICA_SECRET={device.device_secret}",
             "TELEMETRY_MS=1000", "DEMO_EXIT_AFTER=0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)))
    wait_until(lambda: all(p.poll() is not None for _, p in jobs))
    for device, proc in jobs:
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise FleetError(f"building the firmware of {device.device_name} failed: "
                             f"{err.decode(errors='replace').strip().splitlines()[-1:]}")
    return out


# ---- the in-process cloud, in a process of its own ----------------------------------------
def _cloud_main(devices: list[tuple[str, str, str]], conn) -> None:
    logging.disable(logging.CRITICAL)       # amqtt logs its own tracebacks; the summary tells
    raise_fd_limit()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal_when_parent_dies(signal.SIGKILL)     # nothing of the cloud to save once the fleet is gone

    async def serve() -> None:
        from pysim.cloud import Cloud
        cloud = Cloud(tls=False)
        for device in devices:
            cloud.registry.add(*device)
        try:
            await cloud.start()
        except Exception as error:
            conn.send({"error": f"{type(error).__name__}: {error}"})
            return
        conn.send({"addresses": cloud.addresses, "service_password": cloud.service_password})
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)   # until told to stop
        await cloud.stop()

    asyncio.run(serve())


class CloudProcess:
    """``pysim.cloud.Cloud`` (amqtt broker, CoAP, HTTP) in a child process."""

    def __init__(self, devices: list[FleetDevice]) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self.process = context.Process(target=_cloud_main, name="pysim-fleet-cloud", daemon=True,
                                       args=([(d.product_key, d.device_name, d.device_secret) for d in devices],
                                             child))
        self.addresses: dict[str, str] = {}
        self.service_password = ""

    async def start(self, timeout: float = 60.0) -> None:
        self.process.start()
        try:
            ready = await asyncio.to_thread(self._conn.poll, timeout)
            message = self._conn.recv() if ready else {"error": f"no answer within {timeout:g} s"}
        except (EOFError, OSError):
            message = {"error": f"its process ended with exit code {self.process.exitcode}"}
        if "error" in message:
            await self.stop()
            raise FleetError(f"the in-process cloud did not start: {message['error']}")
        self.addresses, self.service_password = message["addresses"], message["service_password"]

    @property
    def pid(self) -> int | None:
        return self.process.pid

    async def stop(self) -> None:
        if self.process.is_alive():
            try:
                self._conn.send("stop")
            except OSError:
                pass
            await asyncio.to_thread(self.process.join, 10)
        if self.process.is_alive():
            self.process.kill()
            await asyncio.to_thread(self.process.join, 5)


# ---- shards in processes ----------------------------------------------------------------
def _shard_main(spec: ShardSpec, out, parent: int) -> None:
    logging.disable(logging.CRITICAL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)     # the parent stops us
    signal_when_parent_dies(signal.SIGTERM)          # ... or its death does (SIGTERM: a clean stop)
    if os.getppid() != parent:                       # it died before that
        return
    try:
        out.put(("result", spec.index, run_shard(spec, lambda p: out.put(("progress", spec.index, p)))))
    except BaseException as error:
        out.put(("failed", spec.index, f"{type(error).__name__}: {error}"))


def kill_pids(pids) -> None:
    """SIGKILL each emulator's process group (an emulator leads its own session)."""
    for pid in pids:
        kill_group(pid)


def kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class Fleet:
    """One run: ``await Fleet(options).run()`` -> the summary dict. ``on_progress(fleet)``
    is called about twice a second (``fleet.progress``: per shard, its last report;
    ``fleet.processes``: the shard processes)."""

    def __init__(self, options: FleetOptions, on_progress: Callable[["Fleet"], Any] | None = None) -> None:
        options.check()
        self.options = options
        self.on_progress = on_progress
        self.devices = fleet_devices(options.scripted, options.emulated, options.seed)
        self.progress: dict[int, dict] = {}
        self.results: dict[int, dict] = {}
        self.failures: dict[int, str] = {}
        self.processes: dict[int, multiprocessing.Process] = {}
        self.subscriber: Arrivals | None = None
        self.started = time.monotonic()
        self.interrupted = threading.Event()    # set once the run's stop is set

    def _check(self) -> None:
        if self.interrupted.is_set():
            raise Interrupted()

    async def run(self, stop: asyncio.Event | None = None) -> dict[str, Any]:
        """Run the fleet to its end (or until ``stop`` is set); the summary."""
        watcher = asyncio.ensure_future(self._watch(stop)) if stop is not None else None
        try:
            return await self._run()
        finally:
            if watcher is not None:
                watcher.cancel()

    async def _watch(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self.interrupted.set()

    async def _run(self) -> dict[str, Any]:
        o = self.options
        cloud = mosquitto = None
        shards_s = 0.0
        try:
            firmware = await asyncio.to_thread(firmware_for, self.devices, None, self.interrupted)
            creds = [d.credentials for d in self.devices]
            self._check()
            if o.broker == "mosquitto":
                mosquitto = Mosquitto(creds)
                try:
                    await mosquitto.start()
                except RuntimeError as error:
                    raise FleetError(str(error)) from None
            self._check()
            if o.broker == "inprocess" or firmware:   # the demo firmware also uses CoAP and HTTP
                cloud = CloudProcess(self.devices)
                await cloud.start()
            self._check()
            broker_url = mosquitto.url if mosquitto else cloud.addresses["mqtt"]
            password = mosquitto.service_password if mosquitto else cloud.service_password
            addresses = {**(cloud.addresses if cloud else {}), "mqtt": broker_url}
            self.subscriber = o.observer_for(broker_url, password)
            try:
                await asyncio.to_thread(self.subscriber.start)
            except (OSError, ConnectionError) as error:
                raise FleetError(str(error)) from None
            specs = [ShardSpec(i, part, addresses, o.rate, o.duration, o.qos, o.connect_concurrency,
                               o.boot_concurrency,
                               {d.device_name: firmware[d.device_name] for d in part if d.kind == EMULATED},
                               loop=o.loop)
                     for i, part in enumerate(split(self.devices, o.shards))]
            self._check()
            t0 = time.monotonic()
            if o.executor == "dask":
                from .distributed import run_shards_on_dask
                self.results, self.failures = await asyncio.to_thread(
                    run_shards_on_dask, specs, o.dask_address, o.shards, self.interrupted)
            else:
                await self._run_processes(specs)
            shards_s = time.monotonic() - t0
            await self._drain()
        except Interrupted:
            pass
        finally:
            broker_pid = mosquitto.pid if mosquitto else cloud.pid if cloud else None
            broker_cpu, broker_rss = proc_usage(broker_pid) if broker_pid else (0.0, 0)
            observer_cpu = self.subscriber.cpu_s() if self.subscriber is not None else 0.0
            if self.subscriber is not None:
                self.subscriber.stop()
            if mosquitto is not None:
                await mosquitto.stop()
            if cloud is not None:
                await cloud.stop()
        return summarise(self.options, self.devices, self.results, self.failures, self.subscriber,
                         shards_s=shards_s, broker_cpu_s=broker_cpu, broker_rss_kb=broker_rss,
                         observer_cpu_s=observer_cpu,
                         wall_s=time.monotonic() - self.started, interrupted=self.interrupted.is_set())

    async def _run_processes(self, specs: list[ShardSpec]) -> None:
        context = multiprocessing.get_context("spawn")
        out = context.Queue()
        for spec in specs:
            process = context.Process(target=_shard_main, args=(spec, out, os.getpid()), name=f"pysim-fleet-shard-{spec.index}",
                                      daemon=True)
            process.start()
            self.processes[spec.index] = process
        try:
            pending = set(self.processes)
            last_tick, deadline = 0.0, None
            while pending:
                if deadline is None and self.interrupted.is_set():
                    for index in pending:     # each shard stops its devices and sends what it has
                        if self.processes[index].is_alive():
                            self.processes[index].terminate()
                    deadline = time.monotonic() + STOP_GRACE
                if deadline is not None and time.monotonic() > deadline:
                    for index in pending:
                        self.failures[index] = f"interrupted: no result within {STOP_GRACE:g} s of the stop"
                    break
                try:
                    kind, index, payload = await asyncio.to_thread(out.get, True, 0.25)
                except queue.Empty:
                    kind = None
                if kind == "progress":
                    self.progress[index] = payload
                elif kind == "result":
                    self.results[index] = payload
                    pending.discard(index)
                elif kind == "failed":
                    self.failures[index] = payload
                    pending.discard(index)
                for index in list(pending):   # died without a word: a crash or a kill
                    process = self.processes[index]
                    if not process.is_alive() and out.empty():
                        self.failures[index] = f"shard process ended with exit code {process.exitcode}"
                        pending.discard(index)
                        kill_pids(self.progress.get(index, {}).get("emulator_pids", []))
                if self.on_progress is not None and time.monotonic() - last_tick >= 0.5:
                    last_tick = time.monotonic()
                    self.on_progress(self)
        finally:
            for index, process in self.processes.items():
                if process.is_alive():
                    process.terminate()
                await asyncio.to_thread(process.join, 1 if self.interrupted.is_set() else 10)
                if process.is_alive():
                    process.kill()
                    await asyncio.to_thread(process.join, 5)
                kill_pids(self.progress.get(index, {}).get("emulator_pids", []))
            out.close()
            out.join_thread()

    def attempted(self) -> int:
        return sum(r["attempted"] for result in self.results.values() for r in result["devices"].values())

    async def _drain(self) -> None:
        """Wait until the subscriber has every attempted message, or nothing came for
        ``drain_timeout`` s."""
        want, last, since = self.attempted(), -1, time.monotonic()
        while self.subscriber.received < want and not self.interrupted.is_set():
            if self.subscriber.received != last:
                last, since = self.subscriber.received, time.monotonic()
            elif time.monotonic() - since > self.options.drain_timeout:
                return
            if self.on_progress is not None:
                self.on_progress(self)
            await asyncio.sleep(0.1)


async def run_fleet(options: FleetOptions, on_progress: Callable[[Fleet], Any] | None = None) -> dict[str, Any]:
    return await Fleet(options, on_progress).run()
