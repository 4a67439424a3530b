"""``pysim fleet``: the command line of pysim.fleet (registered in pysim/cli.py)."""

from __future__ import annotations

import argparse
import json
import sys

from .mosquitto import MosquittoUnavailable
from .runner import BROKERS, FleetOptions, run_fleet


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "fleet", help="run N scripted modules against one cloud, sharded over processes",
        description="Run N devices (ICA module models driven by a scripted TE) against one broker; "
                    "each publishes at --rate to its own topic and receives it back. Prints live "
                    "progress, then a summary (connected, sent, received, lost, latency "
                    "percentiles, CPU and memory per device).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--devices", type=int, default=10, help="number of devices")
    p.add_argument("--shards", type=int, default=0, help="processes (0: one per CPU core)")
    p.add_argument("--seconds", type=float, default=10.0, help="publishing time")
    p.add_argument("--rate", type=float, default=1.0, help="messages per second per device")
    p.add_argument("--qos", type=int, choices=(0, 1, 2), default=1, help="MQTT QoS of the messages")
    p.add_argument("--broker", choices=BROKERS, default="inprocess",
                   help="the in-process cloud, or mosquitto started with a password and ACL file")
    p.add_argument("--json", type=argparse.FileType("w"), default=None, metavar="FILE",
                   help="also write the summary as JSON ('-' for stdout)")
    p.add_argument("--quiet", action="store_true", help="no live progress line")


async def main(args: argparse.Namespace) -> int:
    if args.devices < 1 or args.seconds <= 0 or args.rate <= 0:
        print("pysim fleet: --devices, --seconds and --rate must be positive", file=sys.stderr)
        return 2

    def progress(totals: dict) -> None:
        if not args.quiet:
            print(f"\rconnected {totals['connected']}/{totals['devices']}  sent {totals['sent']}  "
                  f"received {totals['received']}", end="", file=sys.stderr, flush=True)

    options = FleetOptions(devices=args.devices, shards=args.shards, seconds=args.seconds, rate=args.rate,
                           qos=args.qos, broker=args.broker)
    try:
        summary = await run_fleet(options, progress)
    except MosquittoUnavailable as error:
        print(f"pysim fleet: {error}", file=sys.stderr)
        return 2
    if not args.quiet:
        print(file=sys.stderr)
    print(summary.text())
    if args.json is not None:
        json.dump(summary.to_json(), args.json, indent=1)
        args.json.write("\n")
        args.json.flush()
    return 0 if summary.ok else 1
