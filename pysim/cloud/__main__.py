"""Run the cloud on its own: ``python -m pysim.cloud --device PK:DN:SECRET ...``.

The first stdout line is the addresses JSON
(``{"mqtt": "mqtt://H:P", "coap": "coap://H:P", "http": "http://H:P"}``), then one
line per cloud event as it happens. The service user's password goes to stderr.
SIGINT or SIGTERM stops it cleanly (exit code 0).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

from .cloud import Cloud


def device_spec(text: str) -> tuple[str, str, str]:
    parts = text.split(":", 2)
    if len(parts) != 3 or not all(parts):
        raise argparse.ArgumentTypeError(f"expected PK:DN:SECRET, got {text!r}")
    return parts[0], parts[1], parts[2]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pysim.cloud", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--mqtt-port", type=int, default=0)
    parser.add_argument("--coap-port", type=int, default=0)
    parser.add_argument("--http-port", type=int, default=0)
    parser.add_argument("--http-token-ttl", type=float, default=172800)
    parser.add_argument("--service-password", default=None, help="default: random")
    parser.add_argument("--device", type=device_spec, action="append", default=[], metavar="PK:DN:SECRET")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    cloud = Cloud(args.host, args.mqtt_port, args.coap_port, args.http_port,
                  http_token_ttl=args.http_token_ttl, service_password=args.service_password)
    for pk, dn, secret in args.device:
        cloud.registry.add(pk, dn, secret)
    async with cloud:
        print(json.dumps(cloud.addresses), flush=True)
        print(f"service password: {cloud.service_password}", file=sys.stderr, flush=True)
        cloud.events.listeners.append(lambda event: print(event, flush=True))
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    asyncio.run(serve(parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
