"""Run a fleet: the broker (in-process cloud or mosquitto), the shard processes, live
progress and the summary."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import queue as queue_module
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import psutil

from pysim.cloud import Cloud

from .device import fleet_device
from .mosquitto import Mosquitto
from .shard import shard_main

BROKERS = ("inprocess", "mosquitto")


@dataclass
class FleetOptions:
    devices: int = 10
    shards: int = 0              # 0: one per CPU core (at most one per device)
    seconds: float = 10.0        # publishing time
    rate: float = 1.0            # messages per second per device
    qos: int = 1
    broker: str = "inprocess"    # inprocess | mosquitto


@dataclass
class FleetSummary:
    devices: int
    shards: int
    broker: str
    connected: int
    sent: int
    received: int
    lost: int
    latency_ms: dict[str, float]             # p50, p90, p99, max of publish -> receive
    cpu_percent_per_device: float            # of one core, the shards' CPU over the run
    rss_mb_per_device: float
    broker_cpu_percent: float                # of one core
    seconds: float
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.connected == self.devices and self.lost == 0

    def text(self) -> str:
        lat = self.latency_ms
        return "\n".join([
            f"fleet: {self.devices} devices in {self.shards} shards against {self.broker}, {self.seconds:.1f} s",
            f"  connected {self.connected}/{self.devices}   sent {self.sent}   received {self.received}   "
            f"lost {self.lost}",
            f"  latency ms: p50 {lat['p50']:.1f}  p90 {lat['p90']:.1f}  p99 {lat['p99']:.1f}  max {lat['max']:.1f}",
            f"  per device: CPU {self.cpu_percent_per_device:.2f} % of a core, memory {self.rss_mb_per_device:.2f} MB;"
            f" broker CPU {self.broker_cpu_percent:.1f} % of a core",
            *(f"  error: {e}" for e in self.errors[:5])])

    def to_json(self) -> dict:
        return {**asdict(self), "ok": self.ok}


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": 0.0, "p90": 0.0, "p99": 0.0, "max": 0.0}
    ms = sorted(v * 1000 for v in values)
    cuts = statistics.quantiles(ms, n=100, method="inclusive") if len(ms) > 1 else [ms[0]] * 99
    return {"p50": cuts[49], "p90": cuts[89], "p99": cuts[98], "max": ms[-1]}


@contextlib.asynccontextmanager
async def _broker(options: FleetOptions):
    """(MQTT URL, the process whose CPU is the broker's) for the fleet's devices."""
    devices = [fleet_device(i) for i in range(options.devices)]
    if options.broker == "mosquitto":
        mosquitto = Mosquitto(devices)
        async with mosquitto as url:
            yield url, psutil.Process(mosquitto.process.pid)
    else:
        async with Cloud(tls=False) as cloud:
            for creds in devices:
                cloud.registry.add(creds.product_key, creds.device_name, creds.device_secret)
            yield cloud.addresses["mqtt"], psutil.Process()


async def run_fleet(options: FleetOptions, on_progress: Callable[[dict], None] | None = None) -> FleetSummary:
    """Run the fleet and return its summary; ``on_progress`` gets totals about once a second."""
    if options.broker not in BROKERS:
        raise ValueError(f"broker must be one of {', '.join(BROKERS)}, not {options.broker!r}")
    shards = max(1, min(options.shards or os.cpu_count() or 1, options.devices))
    context = multiprocessing.get_context("spawn")
    progress = context.Queue()
    async with _broker(options) as (url, broker_process):
        broker_cpu = broker_process.cpu_times()
        started = time.monotonic()
        start_at = time.time() + 1 + options.devices / 100    # devices online before the first message
        processes = [context.Process(target=shard_main, daemon=True, name=f"fleet-shard-{s}", args=(
            s, list(range(s, options.devices, shards)), url, start_at, options.seconds, options.rate,
            options.qos, progress)) for s in range(shards)]
        for process in processes:
            process.start()
        latest: dict[int, dict] = {}
        results: list[dict] = []
        try:
            while len(results) < shards:
                try:
                    item = await asyncio.to_thread(progress.get, True, 0.5)
                except queue_module.Empty:
                    if not any(p.is_alive() for p in processes) and progress.empty():
                        break                      # a shard died without its result
                    continue
                if item.get("done"):
                    results.append(item)
                else:
                    latest[item["shard"]] = item
                    if on_progress is not None:
                        on_progress({k: sum(v[k] for v in latest.values()) for k in ("connected", "sent", "received")}
                                    | {"devices": options.devices})
        finally:
            for process in processes:
                process.join(timeout=10)
                if process.is_alive():
                    process.kill()
                    process.join()
        elapsed = time.monotonic() - started
        cpu = broker_process.cpu_times()
        broker_cpu_seconds = (cpu.user + cpu.system) - (broker_cpu.user + broker_cpu.system)
    devices = [d for r in results for d in r["devices"]]
    missing = options.devices - len(devices)
    sent = sum(d["sent"] for d in devices)
    received = sum(d["received"] for d in devices)
    errors = [d["error"] for d in devices if d["error"]] + [f"{missing} devices lost with their shard"] * bool(missing)
    return FleetSummary(
        devices=options.devices, shards=shards, broker=options.broker,
        connected=sum(d["connected"] for d in devices), sent=sent, received=received, lost=sent - received,
        latency_ms=_percentiles([x for d in devices for x in d["latencies"]]),
        cpu_percent_per_device=100 * sum(r["cpu_seconds"] for r in results) / elapsed / options.devices,
        rss_mb_per_device=sum(r["rss_bytes"] for r in results) / 2**20 / options.devices,
        broker_cpu_percent=100 * broker_cpu_seconds / elapsed, seconds=elapsed, errors=errors)
