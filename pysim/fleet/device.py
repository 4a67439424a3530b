"""One fleet device: a module model and its scripted TE (sans-I/O module, asyncio edge)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from peripherals.ica import IcaModule, ModuleConfig
from peripherals.ica.devauth import DeviceCredentials
from pysim.te import AtClient

STARTUP_TIMEOUT = 60.0


@dataclass
class DeviceStats:
    connected: bool = False
    sent: int = 0
    received: int = 0
    latencies: list[float] = field(default_factory=list)   # seconds, publish -> own receive
    error: str = ""


def fleet_device(index: int, product_key: str = "a1fleet") -> DeviceCredentials:
    """The credentials of fleet device ``index`` (the same in every process)."""
    return DeviceCredentials(product_key, f"dev{index:05d}", f"fleet-secret-{index:05d}")


async def run_device(index: int, mqtt_url: str, start_at: float, seconds: float, rate: float, qos: int,
                     stats: DeviceStats) -> None:
    """Bring the device online, publish ``rate`` messages/s from ``start_at`` for ``seconds``,
    and count what comes back. Never raises: a failure is kept in ``stats.error``."""
    creds = fleet_device(index)
    module = IcaModule(ModuleConfig(name=f"fleet{index}", echo=False, mqtt_url=mqtt_url))
    at = AtClient(module.feed, default_timeout=STARTUP_TIMEOUT)
    module.on_output = at.feed
    topic = f"/{creds.product_key}/{creds.device_name}/user/fleet"
    try:
        await at.expect_ok(f'AT+IMQTTAUTH="{creds.product_key}","{creds.device_name}","{creds.device_secret}"')
        if (await at.wait_urc("+IMQTTAUTH")).text != "+IMQTTAUTH:OK":
            raise ConnectionError("MQTT authentication failed")
        await at.expect_ok("AT+IMQTTCONN")
        if (await at.wait_urc("+IMQTTSTATE")).text != "+IMQTTSTATE:2":
            raise ConnectionError("MQTT connection refused")
        await at.expect_ok(f'AT+IMQTTSUB="{topic}",{qos}')
        await at.wait_urc("+IMQTTSUB")
        stats.connected = True
        loop = asyncio.get_running_loop()
        total = int(seconds * rate)
        for k in range(total):
            delay = start_at + k / rate - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            await at.expect_ok(f'AT+IMQTTPUB="{topic}",{qos},"{k} {loop.time():.6f}"')
            stats.sent += 1
            _take(at, stats, loop)
        deadline = loop.time() + 5
        while stats.received < stats.sent and loop.time() < deadline:
            await asyncio.sleep(0.05)
            _take(at, stats, loop)
    except Exception as error:      # one device failing is counted, never stops the fleet
        stats.error = f"{type(error).__name__}: {error}"[:200]
    finally:
        _take(at, stats, asyncio.get_running_loop())
        await module.stop()


def _take(at: AtClient, stats: DeviceStats, loop: asyncio.AbstractEventLoop) -> None:
    """Count the device's own messages back and drop every other URC (memory stays flat)."""
    now = loop.time()
    for line in at.urcs:
        if line.name == "+IMQTTRCVPUB" and line.payload:
            stats.received += 1
            stats.latencies.append(now - float(line.payload.split()[1]))
    at.urcs.clear()
    at.raw.clear()
