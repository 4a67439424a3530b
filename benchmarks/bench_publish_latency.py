"""TE-to-subscriber publish latency through the module and the cloud, against the
115200-baud wire time of the command line.

A Python TE (``pysim.te.AtClient``) drives an ``IcaModule`` that is online to the
in-process cloud (AUTH, CONN, ``+IMQTTSTATE:2``); a paho subscriber logged in as
the service user (TCP_NODELAY) listens on the device's telemetry topic. Each
sample is the time from the moment the TE writes
``AT+IMQTTPUB="<topic>",<qos>,"<payload>"\\r`` into the module (stamped just
before ``IcaModule.feed``, not when the module answers) to the moment paho's
network thread receives the message. Samples run one at a time: the next one
starts when the message has arrived and the module's ``+IMQTTPUB:<id>,0`` result
is in. Payloads are telemetry JSON with a sequence number and a seeded
temperature.
"""

from __future__ import annotations

import asyncio
import json
import random
import time

from benchlib import (Figure, Report, latency_details, median, parse_args, reproduce_command,
                      stamp_arrivals, wire_seconds)

from peripherals.ica import IcaModule, ModuleConfig
from pysim.cloud import Cloud
from pysim.peers import service_client
from pysim.te import AtClient

BAUD = 115200
SEED = 20240601
PK, DN, SECRET = "a1benchPK", "bench-device-01", "bench-secret-01"
TOPIC = f"/{PK}/{DN}/user/telemetry"


def at_string(text: str) -> str:
    """A quoted AT string parameter: backslash and quote escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class TimedTe:
    """An AtClient on a module whose every write is stamped with ``time.monotonic()``."""

    def __init__(self, module: IcaModule) -> None:
        self.module = module
        self.last_write = 0.0
        self.at = AtClient(self._write)
        module.on_output = self.at.feed

    def _write(self, data: bytes) -> None:
        self.last_write = time.monotonic()
        self.module.feed(data)


async def go_online(at: AtClient) -> None:
    await at.expect_ok("ATE0")
    await at.expect_ok(f'AT+IMQTTAUTH="{PK}","{DN}","{SECRET}"')
    auth = await at.wait_urc("+IMQTTAUTH")
    if auth.text != "+IMQTTAUTH:OK":
        raise RuntimeError(f"MQTT auth failed: {auth.text}")
    await at.expect_ok("AT+IMQTTCONN")
    state = await at.wait_urc("+IMQTTSTATE")
    if state.text != "+IMQTTSTATE:2":
        raise RuntimeError(f"MQTT not connected: {state.text}")


async def sample(te: TimedTe, subscriber, arrivals: dict[bytes, float], qos: int, seq: int,
                 rng: random.Random) -> tuple[float, int]:
    """One publish; (latency s, command line length in bytes)."""
    payload = json.dumps({"seq": seq, "temp": round(rng.uniform(15.0, 30.0), 1)}, separators=(",", ":"))
    command = f"AT+IMQTTPUB={at_string(TOPIC)},{qos},{at_string(payload)}"
    response = await te.at.expect_ok(command)
    written = te.last_write
    packet_id = response.line("+IMQTTPUB").fields[0]
    result = await te.at.wait_urc("+IMQTTPUB", lambda line: line.fields[0] == packet_id)
    if result.fields[1:] != ["0"]:
        raise RuntimeError(f"publish {seq} failed: {result.text}")
    message = await subscriber.next_message()
    if message.payload != payload.encode():
        raise RuntimeError(f"subscriber got {message.payload!r}, expected {payload!r}")
    return arrivals.pop(message.payload) - written, len(command) + 1  # + CR


async def measure(quick: bool) -> list[Figure]:
    count, warmup = (20, 3) if quick else (300, 30)
    rng = random.Random(SEED)
    cloud = Cloud()
    await cloud.start()
    module = subscriber = None
    try:
        cloud.registry.add(PK, DN, SECRET)
        config = ModuleConfig(echo=False)
        config.use_cloud(cloud.addresses)
        module = IcaModule(config, events=cloud.events)
        await module.start()
        te = TimedTe(module)
        subscriber = await service_client(cloud, "bench-subscriber")
        arrivals = stamp_arrivals(subscriber)
        if await subscriber.subscribe(TOPIC, 1) != [1]:
            raise RuntimeError("subscriber refused")
        await go_online(te.at)
        figures = []
        seq = 0
        for qos in (0, 1):
            latencies, lengths = [], []
            for i in range(warmup + count):
                seq += 1
                latency, length = await sample(te, subscriber, arrivals, qos, seq, rng)
                if i >= warmup:
                    latencies.append(latency)
                    lengths.append(length)
            wire = wire_seconds(round(median(lengths)), BAUD)
            figures.append(Figure(
                name=f"QoS {qos}: TE write -> subscriber",
                value=median(latencies) * 1e3, unit="ms",
                reference=wire * 1e3,
                reference_what=f"{BAUD}-baud wire time of the {round(median(lengths))}-byte command line",
                ratio_meaning="median / wire time; below 1: module + cloud add less than the UART costs",
                samples=count, samples_what=f"publishes, one at a time, after {warmup} warm-up ones; median",
                details=latency_details(latencies)))
        return figures
    finally:
        if subscriber is not None:
            await subscriber.close()
        if module is not None:
            await module.stop()
        await cloud.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__.splitlines()[0], argv)
    report = Report("bench_publish_latency", "TE-to-subscriber MQTT publish latency (module + cloud)",
                    reproduce_command(__file__, args.quick))
    report.figures = asyncio.run(measure(args.quick))
    report.notes.append(f"payloads: telemetry JSON, seq + temperature from random.Random({SEED})")
    report.emit(args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
