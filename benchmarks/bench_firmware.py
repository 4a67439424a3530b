"""The demo firmware in QEMU: boot-to-MQTT-connected time and firmware-publish-to-
subscriber latency, against the 115200-baud wire time of the AT bytes involved.

The demo is built into a temporary directory with ``TELEMETRY_MS=100`` and
``DEMO_EXIT_AFTER=0`` (it runs until stopped) and run by ``pysim.session.Session``
(in-process cloud, module, QEMU, UART link unpaced).

Boot to connected, one fresh session a run: from spawning QEMU
(``Session.t_spawn``) to the module reporting ``+IMQTTSTATE:2`` to the firmware
(the UART record carrying it), split at the firmware's ``BOOT`` console line. Its
reference is what a real 115200-baud UART would need to carry the AT bytes of that
exchange (the longer direction's byte count, 10 bits a byte); no connect time of
a real module is known here, so the wire is the yardstick.

Telemetry latency, one more session: from the firmware's
``AT+IMQTTPUB="/<pk>/<dn>/user/telemetry",1,"{...}"\\r`` reaching the module (the
UART record holding its CR) to a paho subscriber (service user, TCP_NODELAY)
receiving that message (stamped in paho's network thread), matched by the
telemetry's ``seq``; reference: the 115200-baud wire time of that command line.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchlib import (REPO, Figure, Report, latency_details, median, parse_args, reproduce_command,
                      stamp_arrivals, wire_seconds)

from pysim.peers import service_client
from pysim.session import DEMO_DEVICE, Session, SessionOptions
from pysim.uart import TA_TO_TE, TE_TO_TA, UartRecord

BAUD = 115200
TELEMETRY_MS = 100
PK, DN, _ = DEMO_DEVICE
TELEMETRY_TOPIC = f"/{PK}/{DN}/user/telemetry"
CONNECTED = b"+IMQTTSTATE:2\r\n"
TIMEOUT = 30.0


def missing_tools() -> str | None:
    missing = [tool for tool in ("qemu-system-arm", "arm-none-eabi-gcc", "make") if shutil.which(tool) is None]
    return f"needs {', '.join(missing)}" if missing else None


def build_demo(build_dir: Path) -> Path:
    subprocess.run(["make", "-s", "-C", str(REPO / "firmware"), f"BUILD={build_dir}",
                    f"TELEMETRY_MS={TELEMETRY_MS}", "DEMO_EXIT_AFTER=0", f"{build_dir}/demo.elf"],
                   check=True, capture_output=True)
    return build_dir / "demo.elf"


def stream(records: list[UartRecord], direction: str) -> tuple[bytes, list[tuple[int, float]]]:
    """The bytes delivered in ``direction`` and, per record, (end offset, time)."""
    data = bytearray()
    ends = []
    for record in records:
        if record.direction == direction:
            data += record.data
            ends.append((len(data), record.t))
    return bytes(data), ends


def time_at(ends: list[tuple[int, float]], offset: int) -> float:
    """When the byte at ``offset`` was delivered."""
    return next(t for end, t in ends if end > offset)


@dataclass
class BootRun:
    spawn_to_boot: float
    boot_to_connected: float
    te_bytes: int          # TE->TA bytes up to connected
    ta_bytes: int          # TA->TE bytes up to connected


async def boot_once(elf: Path, workdir: Path) -> BootRun:
    session = Session(SessionOptions(firmware=elf, workdir=workdir))
    try:
        await session.start()
        await session.link.wait_for(TA_TO_TE, CONNECTED, TIMEOUT)
        boot = await session.events.wait_for(
            lambda e: e.kind == "console.line" and e.detail["line"].startswith("BOOT "), TIMEOUT)
        records = list(session.link.records)
        ta, ta_ends = stream(records, TA_TO_TE)
        connected = time_at(ta_ends, ta.index(CONNECTED) + len(CONNECTED) - 1)
        te_bytes = sum(len(r.data) for r in records if r.direction == TE_TO_TA and r.t <= connected)
        ta_bytes = ta.index(CONNECTED) + len(CONNECTED)
        return BootRun(boot.t - session.t_spawn, connected - boot.t, te_bytes, ta_bytes)
    finally:
        await session.stop()


async def telemetry_latencies(elf: Path, workdir: Path, count: int) -> tuple[list[float], list[int]]:
    """(latencies s, command line lengths) of ``count`` telemetry messages."""
    session = Session(SessionOptions(firmware=elf, workdir=workdir))
    subscriber = None
    try:
        await session.start()
        subscriber = await service_client(session.cloud, "bench-telemetry")
        arrivals = stamp_arrivals(subscriber)
        if await subscriber.subscribe(TELEMETRY_TOPIC, 1) != [1]:
            raise RuntimeError("subscriber refused")
        received = [await subscriber.next_message(TIMEOUT) for _ in range(count)]
        te, te_ends = stream(list(session.link.records), TE_TO_TA)
    finally:
        if subscriber is not None:
            await subscriber.close()
        await session.stop()
    sent: dict[int, tuple[float, int]] = {}   # seq -> (time the line's CR arrived, line length)
    start = 0
    for end in (i for i, b in enumerate(te) if b == 0x0D):
        line = te[start:end + 1]
        if line.startswith(b"AT+IMQTTPUB=") and TELEMETRY_TOPIC.encode() in line:
            seq = re.search(rb'seq\\?"\s*:\s*(\d+)', line)
            if seq:
                sent[int(seq.group(1))] = (time_at(te_ends, end), len(line))
        start = end + 1
    latencies, lengths = [], []
    for message in received:
        seq = json.loads(message.payload)["seq"]
        if seq not in sent:
            raise RuntimeError(f"telemetry seq {seq} reached the subscriber but its AT line was not seen")
        t_line, length = sent[seq]
        latencies.append(arrivals[message.payload] - t_line)
        lengths.append(length)
    return latencies, lengths


async def measure(quick: bool, build_dir: Path) -> list[Figure]:
    runs, telemetry = (1, 5) if quick else (5, 30)
    elf = build_demo(build_dir)
    boots = [await boot_once(elf, build_dir) for _ in range(runs)]
    latencies, lengths = await telemetry_latencies(elf, build_dir, telemetry)

    te_bytes = median([b.te_bytes for b in boots])
    ta_bytes = median([b.ta_bytes for b in boots])
    wire = wire_seconds(round(max(te_bytes, ta_bytes)), BAUD)
    wire_what = (f"{BAUD}-baud wire time of the boot-to-connect AT exchange: "
                 f"{te_bytes:g} bytes TE->TA, {ta_bytes:g} bytes TA->TE, the longer direction")
    total = [b.spawn_to_boot + b.boot_to_connected for b in boots]
    line_length = round(median(lengths))
    return [
        Figure(name="QEMU spawn -> connected (+IMQTTSTATE:2 at the firmware)",
               value=median(total) * 1e3, unit="ms", reference=wire * 1e3, reference_what=wire_what,
               ratio_meaning="median / wire time; the spawn-to-BOOT part has no wire counterpart",
               samples=runs, samples_what="fresh sessions (cloud, module, QEMU each); median",
               details={"spawn->BOOT median": median([b.spawn_to_boot for b in boots]) * 1e3,
                        "min": min(total) * 1e3, "max": max(total) * 1e3}),
        Figure(name="BOOT line -> connected",
               value=median([b.boot_to_connected for b in boots]) * 1e3, unit="ms",
               reference=wire * 1e3, reference_what=wire_what,
               ratio_meaning="median / wire time; above 1: the AT steps wait for more than the UART",
               samples=runs, samples_what="fresh sessions (the same runs); median",
               details={"min": min(b.boot_to_connected for b in boots) * 1e3,
                        "max": max(b.boot_to_connected for b in boots) * 1e3}),
        Figure(name="firmware telemetry AT+IMQTTPUB at the module -> subscriber, QoS 1",
               value=median(latencies) * 1e3, unit="ms",
               reference=wire_seconds(line_length, BAUD) * 1e3,
               reference_what=f"{BAUD}-baud wire time of the {line_length}-byte command line",
               ratio_meaning="median / wire time; below 1: module + cloud add less than the UART costs",
               samples=len(latencies),
               samples_what=f"telemetry messages (TELEMETRY_MS={TELEMETRY_MS}) of one session; median",
               details=latency_details(latencies)),
    ]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__.splitlines()[0], argv)
    report = Report("bench_firmware", "demo firmware in QEMU: boot to MQTT connected, telemetry latency",
                    reproduce_command(__file__, args.quick))
    report.skipped = missing_tools()
    if report.skipped is None:
        with tempfile.TemporaryDirectory(prefix="bench-firmware-") as build_dir:
            report.figures = asyncio.run(measure(args.quick, Path(build_dir)))
        report.notes.append(f"demo built with TELEMETRY_MS={TELEMETRY_MS} DEMO_EXIT_AFTER=0; "
                            "UART unpaced (Session baud=None), QEMU without icount")
    report.emit(args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
