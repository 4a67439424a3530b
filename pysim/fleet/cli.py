"""``pysim fleet``: run N devices against one cloud and print the accounting."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

from .runner import BROKERS, OBSERVERS, Fleet, FleetError, FleetOptions
from .summary import text, write_json

EXAMPLES = """examples:
  pysim fleet --scripted 1000 --duration 10                  1,000 modules, the in-process cloud
  pysim fleet --scripted 5000 --broker mosquitto --json f.json
  pysim fleet --emulated 16 --broker mosquitto               16 demo firmwares in QEMU
  pysim fleet --scripted 200 --executor dask --dask-address tcp://10.0.0.5:8786

exit codes: 0 every connected device's messages arrived and every device connected;
1 something was lost, failed or did not connect; 3 the fleet could not start;
130 interrupted (Ctrl-C, SIGTERM): everything started is stopped, the partial summary printed.
"""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "fleet", help="run many devices (scripted modules, emulated firmwares) against one cloud",
        formatter_class=type("F", (argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter), {}),
        epilog=EXAMPLES,
        description="Run scripted modules (a Python TE per module, many per process) and/or emulated devices "
                    "(the demo firmware in QEMU) sharded over processes against one cloud; an independent "
                    "subscriber counts what arrives. Prints connected/sent/received/lost, latency percentiles, "
                    "CPU and memory per device (docs/fleet.md).")
    p.add_argument("--scripted", type=int, default=10, metavar="N", help="modules driven by a scripted TE")
    p.add_argument("--emulated", type=int, default=0, metavar="N", help="demo firmwares in QEMU")
    p.add_argument("--broker", choices=BROKERS, default="inprocess",
                   help="the in-process cloud (pysim.cloud, amqtt) or Debian's mosquitto with generated "
                        "password and ACL files")
    p.add_argument("--rate", type=float, default=1.0, help="messages per device per second")
    p.add_argument("--duration", type=float, default=10.0, help="seconds each device publishes")
    p.add_argument("--qos", type=int, choices=(0, 1), default=1)
    p.add_argument("--shards", type=int, default=os.cpu_count() or 1, help="processes (or Dask tasks)")
    p.add_argument("--connect-concurrency", type=int, default=100,
                   help="scripted devices connecting at once, per shard")
    p.add_argument("--boot-concurrency", type=int, default=4,
                   help="emulated devices starting (boot to first telemetry) at once, per shard")
    p.add_argument("--drain-timeout", type=float, default=10.0,
                   help="seconds without a new message after which the subscriber stops waiting")
    p.add_argument("--loop", choices=("auto", "asyncio", "uvloop"), default="auto",
                   help="the shards' event loop: auto takes uvloop when it is installed (the fast extra)")
    p.add_argument("--observer", choices=OBSERVERS, default="auto",
                   help="the independent client that counts what arrives: Debian's mosquitto_sub (C, far less CPU "
                        "a message) or paho-mqtt; auto takes mosquitto_sub when it is installed")
    p.add_argument("--executor", choices=("processes", "dask"), default="processes",
                   help="where shards run: local processes, or tasks of a Dask cluster")
    p.add_argument("--dask-address", default=None, metavar="tcp://HOST:PORT",
                   help="a Dask scheduler (default: a local cluster of --shards worker processes)")
    p.add_argument("--json", type=Path, default=None, metavar="FILE", help="write the summary as JSON")
    p.add_argument("--quiet", action="store_true", help="no live progress line (off anyway when not a tty)")


def progress_line(fleet: Fleet) -> str:
    reports = fleet.progress.values()
    connected = sum(r["connected"] for r in reports)
    sent = sum(r["attempted"] for r in reports)
    received = fleet.subscriber.received if fleet.subscriber else 0
    running = len(fleet.processes) - len(fleet.results) - len(fleet.failures)
    return (f"\rfleet {time.monotonic() - fleet.started:6.1f} s: connected {connected}/{len(fleet.devices)}, "
            f"sent {sent}, received {received}, shards running {running}  ")


async def main(args: argparse.Namespace, stop: asyncio.Event | None = None, *, interrupted_code: int) -> int:
    """``pysim fleet``; ``stop`` (set on SIGINT, SIGTERM) ends the fleet early, with exit code
    ``interrupted_code`` (``pysim.cli.EXIT_INTERRUPTED``, as ``pysim run``)."""
    options = FleetOptions(scripted=args.scripted, emulated=args.emulated, broker=args.broker, rate=args.rate,
                           duration=args.duration, qos=args.qos, shards=args.shards,
                           connect_concurrency=args.connect_concurrency,
                           boot_concurrency=args.boot_concurrency, drain_timeout=args.drain_timeout,
                           executor=args.executor, dask_address=args.dask_address, loop=args.loop,
                           observer=args.observer)
    live = sys.stderr.isatty() and not args.quiet

    def show(fleet: Fleet) -> None:
        sys.stderr.write(progress_line(fleet))
        sys.stderr.flush()

    try:
        summary = await Fleet(options, show if live else None).run(stop)
    except FleetError as error:
        print(f"pysim fleet: {error}", file=sys.stderr, flush=True)
        return 3
    if live:
        sys.stderr.write("\n")
    print(text(summary), flush=True)
    if args.json:
        write_json(summary, args.json)
    if summary["interrupted"]:
        return interrupted_code
    ok = summary["lost"] == 0 and summary["connected"] == summary["devices"] and not summary["failed"]
    return 0 if ok else 1
