"""What one telemetry publish of a scripted fleet module costs in CPU, against the same
publish made by the module's own MQTT client with no AT layer in between.

A fleet's scripted device (``pysim fleet --scripted``, ``pysim/fleet/shard.py``) is a
Python TE (``pysim.te.AtClient``) driving an ``IcaModule``: each telemetry message is an
``AT+IMQTTPUB`` line the TE formats, the module's AT engine parses and answers, the
module's MQTT client sends (QoS 1) and whose PUBACK turns into a ``+IMQTTPUB:<id>,0``
URC the TE reads. How many modules a core holds at 1 msg/s is 1 / this cost.

Figure: one shard (``run_shard``, in this process, its default event loop) of
``MODULES`` modules publishing QoS 1 to mosquitto at ``RATE`` msg/s each for
``SECONDS`` s: the shard's CPU time / publishes (connecting included, a small part).
Reference, measured in the same run: the same number of devices publishing the same
payloads at the same rate through ``peripherals.ica.net.mqtt_client.MqttClient``
directly (QoS 1, each publish awaiting its PUBACK), i.e. the network half alone. The
ratio says how much the TE and the AT layer multiply a publish's cost.
"""

from __future__ import annotations

import asyncio
import random
import resource
import time

from benchlib import Figure, Report, parse_args, reproduce_command

from peripherals.ica.devauth import mqtt_connect_fields
from peripherals.ica.net.mqtt_client import MqttClient
from pysim.fleet import Mosquitto
from pysim.fleet.plan import ShardSpec, fleet_devices
from pysim.fleet.shard import run_shard, telemetry, uvloop_available
from pysim.loop_thread import LoopThread
from pysim.peers import host_port

MODULES, RATE, SECONDS = 50, 40.0, 10.0


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def direct_publishes(devices, url: str, rate: float, seconds: float, loop: str) -> tuple[float, int]:
    """(CPU s, publishes) of the devices publishing through MqttClient alone."""
    host, port = host_port(url)
    per_device = max(1, round(rate * seconds))

    async def device(d, rng: random.Random) -> int:
        client_id, username, password = mqtt_connect_fields(d.credentials)
        client = MqttClient(host, port, client_id=client_id, username=username, password=password)
        await client.connect()
        event_loop = asyncio.get_running_loop()
        due = event_loop.time() + rng.uniform(0, 1 / rate)
        try:
            for seq in range(1, per_device + 1):
                if (delay := due - event_loop.time()) > 0:
                    await asyncio.sleep(delay)
                due += 1 / rate
                await client.publish(d.topic, telemetry(seq, time.time()), 1)
        finally:
            await client.disconnect()
        return per_device

    async def main() -> tuple[float, int]:
        rng = random.Random(1)
        before = cpu_seconds()
        counts = await asyncio.gather(*(device(d, rng) for d in devices))
        return cpu_seconds() - before, sum(counts)

    if loop == "uvloop":
        import uvloop
        return uvloop.run(main())
    return asyncio.run(main())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__.splitlines()[0], argv)
    modules, seconds = (5, 1.0) if args.quick else (MODULES, SECONDS)
    report = Report("bench_fleet_publish_cost", "CPU per telemetry publish of a scripted fleet module",
                    reproduce_command(__file__, args.quick))
    report.skipped = Mosquitto.why_unavailable()
    if report.skipped is None:
        loop = "uvloop" if uvloop_available() else "asyncio"
        devices = fleet_devices(modules, 0)
        broker_loop = LoopThread("bench-broker")
        broker = Mosquitto([d.credentials for d in devices])
        broker_loop.run(broker.start(), 60)
        try:
            shard = run_shard(ShardSpec(0, devices, {"mqtt": broker.url}, rate=RATE, duration=seconds, qos=1,
                                        loop=loop))
            sent = sum(len(r["sent"]) for r in shard["devices"].values())
            errors = [r["error"] for r in shard["devices"].values() if r["error"]]
            direct_cpu, direct_count = direct_publishes(devices, broker.url, RATE, seconds, loop)
        finally:
            broker_loop.run(broker.stop(), 60)
            broker_loop.close()
        if errors or not sent:
            report.skipped = f"the shard did not publish: {errors[:1] or 'nothing sent'}"
        else:
            per_at = shard["cpu_s"] / sent * 1e6
            per_direct = direct_cpu / direct_count * 1e6
            report.figures.append(Figure(
                "AT+IMQTTPUB through TE, AT engine and module", per_at, "us/publish", per_direct,
                "the same publishes through the module's MqttClient alone",
                "how many times a publish costs with the TE and AT layer", sent,
                f"publishes ({modules} modules x {RATE:g}/s x {seconds:g} s, QoS 1, mosquitto, {loop})",
                details={"modules per core at 1 msg/s": f"{1e6 / per_at:,.0f}",
                         "shard wall s": f"{shard['wall_s']:.1f}"}))
            report.notes.append("the figure includes each module's AUTH and CONN (a few % of the total)")
    report.emit(args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
