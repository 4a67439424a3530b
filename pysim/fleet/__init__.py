"""Fleets: many devices (scripted modules, emulated firmwares) against one cloud,
sharded over processes; see docs/fleet.md."""

from .mosquitto import Mosquitto, MosquittoUnavailable
from .plan import EMULATED, SCRIPTED, FleetDevice, ShardSpec, fleet_devices
from .runner import Fleet, FleetError, FleetOptions, run_fleet
from .shard import run_shard

__all__ = ["EMULATED", "SCRIPTED", "Fleet", "FleetDevice", "FleetError", "FleetOptions", "Mosquitto",
           "MosquittoUnavailable", "ShardSpec", "fleet_devices", "run_fleet", "run_shard"]
