"""What a fleet is made of: its devices (credentials, kind) and the shards that run them.

Everything here is plain data that pickles, so a shard can run in another process or on
another machine (``pysim.fleet.distributed``)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from pysim.devauth import DeviceCredentials

SCRIPTED = "scripted"   # an IcaModule driven by a Python TE (AtClient), no UART
EMULATED = "emulated"   # the demo firmware in QEMU, wired to an IcaModule by a UART link
PRODUCT_KEY = "a1fleetPK"


@dataclass(frozen=True)
class FleetDevice:
    index: int
    kind: str
    product_key: str
    device_name: str
    device_secret: str

    @property
    def credentials(self) -> DeviceCredentials:
        return DeviceCredentials(self.product_key, self.device_name, self.device_secret)

    @property
    def topic(self) -> str:
        """Where its telemetry goes (the demo firmware's topic)."""
        return f"/{self.product_key}/{self.device_name}/user/telemetry"


def fleet_devices(scripted: int, emulated: int, seed: str = "") -> list[FleetDevice]:
    """``scripted`` + ``emulated`` devices named ``fleet-s00000`` / ``fleet-e00000``. Secrets
    are derived from the name (and ``seed``): an emulated device's secret is compiled into
    its firmware, so the same name keeps the same (cached) build. These are simulation
    credentials, not secrets worth keeping."""
    devices = []
    for kind, count, letter in ((SCRIPTED, scripted, "s"), (EMULATED, emulated, "e")):
        for i in range(count):
            name = f"fleet-{letter}{i:05d}"
            secret = hashlib.sha256(f"pysim-fleet:{seed}:{name}".encode()).hexdigest()[:20]
            devices.append(FleetDevice(len(devices), kind, PRODUCT_KEY, name, secret))
    return devices


@dataclass
class ShardSpec:
    """One shard: its devices, the cloud they use and the load they make."""
    index: int
    devices: list[FleetDevice]
    cloud: dict[str, str]                  # the module's address map (mqtt, coap, http)
    rate: float = 1.0                      # messages per device per second
    duration: float = 10.0                 # seconds each device publishes
    qos: int = 1
    connect_concurrency: int = 100         # scripted devices connecting at once in this shard
    boot_concurrency: int = 4              # emulated devices starting (boot to first telemetry) at once
    firmware: dict[str, str] = field(default_factory=dict)   # device name -> ELF (emulated devices)
    emulator: str = "qemu"
    boot_timeout: float = 60.0
    loop: str = "auto"                     # the shard's event loop: auto (uvloop if installed) | asyncio | uvloop

    @property
    def messages_per_device(self) -> int:
        return max(1, round(self.duration * self.rate))


def split(devices: list[FleetDevice], shards: int) -> list[list[FleetDevice]]:
    """Deal devices over ``shards`` (round robin, so each gets its share of each kind)."""
    shards = max(1, min(shards, len(devices) or 1))
    return [devices[i::shards] for i in range(shards)]
