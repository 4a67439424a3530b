"""Fleet shards as tasks of a Dask cluster (``dask.distributed``): past one machine.

Each shard is one task running :func:`pysim.fleet.shard.run_shard` in a worker
process (one asyncio loop a task); the workers must reach the cloud's addresses (an
external mosquitto) and have this package installed. Without a scheduler address a
``LocalCluster`` of ``shards`` worker processes (one thread each) is started and
stopped here. A task that raises, or whose worker dies, is reported as that shard's
failure (``retries=0``: a shard never runs twice, which would send its messages twice).

An interrupted fleet (``stop`` set: SIGINT, SIGTERM) sets a cluster-wide
``distributed.Event``: every running shard task stops early as a shard process does on
SIGTERM (its devices cancelled, modules closed, emulators stopped) and returns its
partial result; tasks that do not end within ``STOP_GRACE`` s are cancelled.

Dask rather than Ray: pure Python wheels of a few MB (Ray's are hundreds), plain
functions as tasks, and a ``LocalCluster`` that starts in a second for tests.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from .plan import ShardSpec
from .shard import run_shard

STOP_GRACE = 15.0    # after a stop: how long shard tasks may take to return their partial results


def _shard_task(spec: ShardSpec, stop_event: str) -> dict[str, Any]:
    """What a worker runs: the shard, stopping early once ``stop_event`` is set."""
    from dask.distributed import Event
    return run_shard(spec, stop_wait=Event(stop_event).wait)


def run_shards_on_dask(specs: list[ShardSpec], address: str | None, workers: int,
                       stop: threading.Event | None = None) -> tuple[dict[int, dict[str, Any]], dict[int, str]]:
    """Run every shard as a task; (results by shard, failures by shard)."""
    from dask.distributed import Client, Event, LocalCluster, wait

    cluster = None
    if address is None:
        cluster = LocalCluster(n_workers=max(1, workers), threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=50)
    client = Client(address or cluster)
    results: dict[int, dict[str, Any]] = {}
    failures: dict[int, str] = {}
    run = uuid.uuid4().hex
    try:
        futures = {client.submit(_shard_task, spec, f"pysim-fleet-stop-{run}", key=f"pysim-fleet-shard-{spec.index}-{run}",
                                 pure=False, retries=0): spec.index for spec in specs}
        pending, deadline = set(futures), None
        while pending:
            if deadline is None and stop is not None and stop.is_set():
                Event(f"pysim-fleet-stop-{run}", client=client).set()
                deadline = time.monotonic() + STOP_GRACE
            if deadline is not None and time.monotonic() > deadline:
                client.cancel(list(pending))
                for future in pending:
                    failures[futures[future]] = f"interrupted: no result within {STOP_GRACE:g} s of the stop"
                break
            try:
                done, pending = wait(pending, timeout=0.25, return_when="FIRST_COMPLETED")
            except TimeoutError:     # nothing finished in 0.25 s
                continue
            for future in done:
                index = futures[future]
                try:
                    results[index] = future.result()
                except Exception as error:   # the task raised, or its worker died
                    failures[index] = f"{type(error).__name__}: {error}"
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return results, failures
