"""Fleet shards as tasks of a Dask cluster (``dask.distributed``): past one machine.

Each shard is one task running :func:`pysim.fleet.shard.run_shard` in a worker
process (one asyncio loop a task); the workers must reach the cloud's addresses (an
external mosquitto) and have this package installed. Without a scheduler address a
``LocalCluster`` of ``shards`` worker processes (one thread each) is started and
stopped here. A task that raises, or whose worker dies, is reported as that shard's
failure (``retries=0``: a shard never runs twice, which would send its messages twice).

Dask rather than Ray: pure Python wheels of a few MB (Ray's are hundreds), plain
functions as tasks, and a ``LocalCluster`` that starts in a second for tests.
"""

from __future__ import annotations

from typing import Any

from .plan import ShardSpec
from .shard import run_shard


def run_shards_on_dask(specs: list[ShardSpec], address: str | None, workers: int
                       ) -> tuple[dict[int, dict[str, Any]], dict[int, str]]:
    """Run every shard as a task; (results by shard, failures by shard)."""
    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    if address is None:
        cluster = LocalCluster(n_workers=max(1, workers), threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=50)
    client = Client(address or cluster)
    results: dict[int, dict[str, Any]] = {}
    failures: dict[int, str] = {}
    try:
        futures = {client.submit(run_shard, spec, key=f"pysim-fleet-shard-{spec.index}-{id(specs)}",
                                 pure=False, retries=0): spec.index for spec in specs}
        for future in as_completed(futures):
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
