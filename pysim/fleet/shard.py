"""A fleet shard: one process running its devices on one event loop, reporting progress."""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict

import psutil

from .device import DeviceStats, run_device


def shard_main(shard: int, indexes: list[int], mqtt_url: str, start_at: float, seconds: float,
               rate: float, qos: int, progress) -> None:
    """Process entry point: run the devices, put progress dicts and finally a result dict
    (``{"shard", "devices": [DeviceStats...], "cpu_seconds", "rss_bytes"}``) on ``progress``."""
    stats = [DeviceStats() for _ in indexes]
    process = psutil.Process()

    async def report() -> None:
        while True:
            progress.put({"shard": shard, "connected": sum(s.connected for s in stats),
                          "sent": sum(s.sent for s in stats), "received": sum(s.received for s in stats)})
            await asyncio.sleep(1)

    async def main() -> None:
        reporter = asyncio.create_task(report())
        try:
            await asyncio.gather(*(run_device(i, mqtt_url, start_at, seconds, rate, qos, s)
                                   for i, s in zip(indexes, stats)))
        finally:
            reporter.cancel()

    started = time.process_time()
    asyncio.run(main())
    progress.put({"shard": shard, "done": True, "devices": [asdict(s) for s in stats],
                  "cpu_seconds": time.process_time() - started, "rss_bytes": process.memory_info().rss})
