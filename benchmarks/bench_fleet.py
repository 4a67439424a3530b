"""Fleet capacity: the most scripted modules held at 1 message/s/device with zero loss,
against the in-process broker (amqtt) and mosquitto side by side, on this machine.

Each step runs ``pysim fleet`` (pysim.fleet.run_fleet) with N devices, each an ICA module
model driven by a scripted TE that publishes QoS 1 to its own topic at 1 message/s and
receives it back through the broker, sharded over one process per core. N doubles
from the first step until a step loses a message or fails to connect a device; the
figure is the last N that held. The in-process figure's reference is mosquitto's,
measured in the same run (ratio < 1: the in-process broker holds fewer); mosquitto's
reference is the issue's goal for this machine, 10,000 scripted modules.
"""

from __future__ import annotations

import asyncio

from benchlib import Figure, Report, parse_args, reproduce_command

from pysim.fleet import FleetOptions, run_fleet
from pysim.fleet.mosquitto import MosquittoUnavailable

GOAL = 10_000


async def sweep(broker: str, sizes: list[int], seconds: float) -> tuple[int, list[str], dict]:
    """(most devices held, one line per step, the details of the last step that held)."""
    best, lines, details = 0, [], {}
    for n in sizes:
        summary = await run_fleet(FleetOptions(devices=n, seconds=seconds, rate=1.0, qos=1, broker=broker))
        lat = summary.latency_ms
        lines.append(f"{broker} {n} devices: connected {summary.connected}, sent {summary.sent}, lost "
                     f"{summary.lost}, p99 {lat['p99']:.0f} ms, CPU/device {summary.cpu_percent_per_device:.2f} %,"
                     f" RSS/device {summary.rss_mb_per_device:.1f} MB, broker CPU {summary.broker_cpu_percent:.0f} %")
        if not summary.ok:
            break
        best = n
        details = {"p99 latency ms at that size": f"{lat['p99']:.0f}",
                   "CPU per device % of a core": f"{summary.cpu_percent_per_device:.2f}",
                   "memory per device MB": f"{summary.rss_mb_per_device:.1f}",
                   "broker CPU % of a core": f"{summary.broker_cpu_percent:.0f}"}
    return best, lines, details


async def measure(quick: bool) -> Report:
    sizes, seconds = ([2, 4], 2.0) if quick else ([50, 100, 200, 400, 800, 1600, 3200], 10.0)
    report = Report("bench_fleet", "most scripted modules at 1 msg/s/device with zero loss",
                    reproduce_command(__file__, quick))
    inprocess, lines, in_details = await sweep("inprocess", sizes, seconds)
    try:
        mosquitto, more, mq_details = await sweep("mosquitto", sizes, seconds)
    except MosquittoUnavailable as error:
        report.skipped = str(error)
        return report
    lines += more
    what = f"steps of {seconds:g} s, N = {', '.join(map(str, sizes))} until one loses or fails to connect"
    report.figures.append(Figure(
        "in-process broker (amqtt)", float(inprocess), "devices", float(max(mosquitto, 1)),
        "mosquitto in the same run", "in-process / mosquitto", len(sizes), what, in_details))
    report.figures.append(Figure(
        "mosquitto (password + ACL from the registry)", float(mosquitto), "devices", float(GOAL),
        "the goal for this machine", "fraction of the goal", len(sizes), what, mq_details))
    report.notes += lines
    return report


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__.splitlines()[0], argv)
    asyncio.run(measure(args.quick)).emit(args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
