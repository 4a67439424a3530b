"""Fleet limits: the most scripted modules and the most emulated devices held at 1
message per device per second with zero loss, in-process cloud (amqtt) and mosquitto
side by side.

A stepped search per (kind, broker): fleets of 10, 30, 100, 300, 1000, 3000, 5000, 10000,
15000, 20000 scripted modules (emulated: 4, 8, 16, 32, 64, 100 demo firmwares in QEMU), each
publishing QoS 1 at 1 msg/s for ``DURATION`` s (``pysim.fleet``, shards = cores). A
step holds when every device connected, nothing was lost or failed (an independent
observer counts: mosquitto_sub, or paho without it), p99 latency is at most 1 s and
(scripted) p99 of how late a publish left after its due time is at most 1 s too (a shard
short of CPU falls behind its schedule, which latency alone does not show); the search stops at the first step that does not hold or when the time budget is
spent. Each figure is the largest step held; its reference is the same figure for the
other broker, measured in the same run. Details: per step, p99 latency, CPU and
memory per device, the broker's CPU.
"""

from __future__ import annotations

import asyncio
import time

from benchlib import Figure, Report, parse_args, reproduce_command

from pysim.fleet import Fleet, FleetOptions, Mosquitto

SCRIPTED_STEPS = (10, 30, 100, 300, 1000, 3000, 5000, 10000, 15000, 20000)
EMULATED_STEPS = (4, 8, 16, 32, 64, 100)
DURATION = 10.0
P99_LIMIT_MS = 1000.0
BUDGET_S = 240.0          # per search: the full run stays under ~20 min


def holds(summary: dict) -> bool:
    p99 = summary["latency_ms"]["p99"]
    late = summary["late_ms"]["p99"]     # scripted: publishes left on schedule (None: emulated)
    wanted = summary["devices"] * max(1, round(summary["duration_s"] * summary["rate"]))
    return (summary["connected"] == summary["devices"] and summary["lost"] == 0 and summary["failed"] == 0
            and summary["device_errors"] == 0 and summary["sent"] == wanted
            and p99 is not None and p99 <= P99_LIMIT_MS and (late is None or late <= P99_LIMIT_MS))


def search(kind: str, broker: str, steps: tuple[int, ...], duration: float, budget: float,
           shards: int | None = None) -> tuple[int, dict, list]:
    """(most devices held, its summary, per-step lines)."""
    best, best_summary, lines = 0, {}, []
    started = time.monotonic()
    for n in steps:
        if time.monotonic() - started > budget:
            lines.append(f"{n}: not tried (time budget of {budget:g} s spent)")
            break
        options = FleetOptions(scripted=n if kind == "scripted" else 0, emulated=n if kind == "emulated" else 0,
                               broker=broker, duration=duration, drain_timeout=5.0,
                               connect_concurrency=50)
        if shards:
            options.shards = shards
        summary = asyncio.run(Fleet(options).run())
        ok = holds(summary)
        lat = summary["latency_ms"]
        line = (f"{n}: {'held' if ok else 'NOT held'}; connected {summary['connected']}, sent {summary['sent']}, "
                f"lost {summary['lost']}, failed {summary['failed']}, p50 {lat['p50']} ms, p99 {lat['p99']} ms, "
                f"late p99 {summary['late_ms']['p99']} ms, "
                f"CPU/device {summary['cpu_per_device_pct']:.3g}%, memory/device "
                f"{summary['memory_per_device_kb']:.0f} KiB, broker CPU {summary['broker_cpu_pct']:.3g}% "
                f"RSS {summary['broker_rss_mb']:.0f} MiB")
        if not ok and summary["first_errors"]:
            line += f"; first error: {next(iter(summary['first_errors'].values()))}"
        print(f"  [{kind} on {broker}] {line}", flush=True)
        lines.append(line)
        if not ok:
            break
        best, best_summary = n, summary
    return best, best_summary, lines


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__.splitlines()[0], argv)
    report = Report("bench_fleet", "fleet limits at 1 msg/device/s, zero loss: in-process cloud vs mosquitto",
                    reproduce_command(__file__, args.quick))
    report.skipped = Mosquitto.why_unavailable()
    if report.skipped is None:
        kinds = {"scripted": (5,)} if args.quick else {"scripted": SCRIPTED_STEPS, "emulated": EMULATED_STEPS}
        duration = 1.0 if args.quick else DURATION
        for kind, steps in kinds.items():
            found = {broker: search(kind, broker, steps, duration, BUDGET_S, 1 if args.quick else None)
                     for broker in ("inprocess", "mosquitto")}
            for broker, other in (("inprocess", "mosquitto"), ("mosquitto", "inprocess")):
                best, summary, lines = found[broker]
                reference = found[other][0]
                details: dict[str, float | str] = {f"step {line.split(':')[0]}": line.split(": ", 1)[1]
                                                   for line in lines}
                if summary:
                    details.update({"at the limit": f"CPU per device {summary['cpu_per_device_pct']:.3g}% of a core, "
                                                    f"memory per device {summary['memory_per_device_kb']:.0f} KiB, "
                                                    f"broker CPU {summary['broker_cpu_pct']:.3g}% of a core, "
                                                    f"p99 {summary['latency_ms']['p99']} ms"})
                report.figures.append(Figure(
                    name=f"{kind} devices held, {broker}", value=max(best, 0.001), unit="devices",
                    reference=max(reference, 0.001), reference_what=f"the same search on {other}, this run",
                    ratio_meaning=f"{broker} / {other}: above 1, {broker} holds more",
                    samples=len(lines), samples_what=f"fleet steps of {duration:g} s at 1 msg/device/s, QoS 1",
                    details=details))
        report.notes.append("held: every device connected, 0 lost, 0 failed, p99 <= 1 s; "
                            "shards = cores; the machine's other load counts too")
    report.emit(args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
