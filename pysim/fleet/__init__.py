"""``pysim fleet``: many scripted modules against one cloud, sharded over processes.

Each device is an ICA module model driven by a scripted TE (authenticate, connect,
subscribe to its own topic, publish at a fixed rate and receive its own messages back
through the broker); the shards are processes, each running its devices on one event
loop. See docs/fleet.md."""

from .runner import FleetOptions, FleetSummary, run_fleet

__all__ = ["FleetOptions", "FleetSummary", "run_fleet"]
