"""``pysim``: the command line.

    pysim cloud  [--device PK:DN:SECRET]...            the cloud alone
    pysim module --listen tcp:HOST:PORT|pty [--cloud URL] [--device PK:DN:SECRET]...
    pysim run    [--firmware ELF] [--emulator qemu|renode] [--baud N] ...   the demo

``cloud`` and ``module`` print one JSON object with the addresses they serve as
their first stdout line, then a readable trace; Ctrl-C or SIGTERM stops them.
``run`` prints a live trace and a summary, and exits 0 when the scenario passed.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Awaitable, Callable

from peripherals.ica import Faults, IcaModule, ModuleConfig, parse_cloud_spec
from pysim.attach import open_pty, serve_tcp
from pysim.fleet import cli as fleet_cli
from pysim.cloud import Cloud
from pysim.events import EventLog
from pysim.trace import TraceWriter

EXIT_SCENARIO_FAILED = 1
EXIT_USAGE = 2
EXIT_SETUP = 3
EXIT_INTERRUPTED = 130


def device_spec(text: str) -> tuple[str, str, str]:
    parts = text.split(":", 2)
    if len(parts) != 3 or not all(parts):
        raise argparse.ArgumentTypeError(f"expected PK:DN:SECRET, got {text!r}")
    return parts[0], parts[1], parts[2]


def listen_spec(text: str) -> tuple[str, str, int]:
    if text == "pty":
        return ("pty", "", 0)
    parts = text.split(":")
    if len(parts) == 3 and parts[0] == "tcp" and parts[2].isdigit():
        return ("tcp", parts[1] or "127.0.0.1", int(parts[2]))
    raise argparse.ArgumentTypeError(f"expected tcp:HOST:PORT or pty, got {text!r}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pysim", description="ICA AT module co-simulation")
    sub = parser.add_subparsers(dest="command", required=True)

    def add_cloud_ports(p: argparse.ArgumentParser) -> None:
        p.add_argument("--host", default="127.0.0.1", help="address the in-process cloud binds")
        p.add_argument("--mqtt-port", type=int, default=0, help="0: a free port")
        p.add_argument("--coap-port", type=int, default=0)
        p.add_argument("--http-port", type=int, default=0)
        p.add_argument("--http-token-ttl", type=float, default=172800, help="HTTP token lifetime, s")
        p.add_argument("--device", type=device_spec, action="append", default=[], metavar="PK:DN:SECRET",
                       help="register a device in the cloud (repeatable)")

    p = sub.add_parser("cloud", help="run the cloud alone")
    add_cloud_ports(p)
    p.add_argument("--service-password", default=None, help="the service user's password (default: random)")

    p = sub.add_parser("module", help="run one module (and the cloud unless --cloud is given)")
    p.add_argument("--listen", type=listen_spec, required=True, metavar="tcp:HOST:PORT|pty")
    p.add_argument("--cloud", default=None, metavar="URL",
                   help="external services instead of the in-process cloud: a JSON address map as "
                        "`pysim cloud` prints, or mqtt://H:P,coap://H:P,http://H:P")
    add_cloud_ports(p)
    p.add_argument("--nv", type=Path, default=None, help="non-volatile store file (default: memory only)")
    p.add_argument("--no-echo", action="store_true", help="start with ATE0")
    p.add_argument("--no-urc-ok", action="store_true", help="no OK after receive URCs (DECISIONS §11)")
    p.add_argument("--corrupt-ota-block", type=int, action="append", default=[], metavar="N",
                   help="fault: corrupt OTA block N on the UART the first time it is sent")
    p.add_argument("--corrupt-ota-image", action="store_true",
                   help="fault: corrupt downloaded images so the TE's MD5 check fails")

    p = sub.add_parser("run", help="the demo: cloud + module + firmware in an emulator, headless")
    p.add_argument("--firmware", type=Path, default=None, help="ELF to run (default: the demo, built if missing)")
    p.add_argument("--board", default="netduinoplus2")
    p.add_argument("--emulator", default=None, choices=["qemu", "renode", "auto"])
    p.add_argument("--baud", type=int, default=None, help="pace the UART at this baud rate")
    p.add_argument("--timeout", type=float, default=90.0, help="seconds the scenario may take")
    p.add_argument("--scenario", choices=["demo", "exit-code"], default=None,
                   help="demo: play the cloud's half of the demo; exit-code: only wait for the "
                        "firmware's exit code (default: demo for the demo firmware)")
    p.add_argument("--ota-size", type=int, default=64 * 1024, help="bytes of the OTA image the demo announces")
    p.add_argument("--corrupt-ota-block", type=int, action="append", default=None, metavar="N",
                   help="fault: corrupt OTA block N once (default for the demo: block 1)")
    p.add_argument("--corrupt-ota-image", action="store_true",
                   help="fault: corrupt the image so the firmware's MD5 check fails")
    p.add_argument("--no-faults", action="store_true", help="inject no fault")
    p.add_argument("--quiet", action="store_true", help="no live trace, only the summary")
    p.add_argument("--trace-file", type=Path, default=None, help="also write the trace to this file")
    p.add_argument("--json", type=Path, default=None, metavar="FILE",
                   help="write the verdict as JSON (passed, exit code, reason, steps, facts) for CI")
    fleet_cli.add_parser(sub)   # pysim fleet (pysim/fleet/cli.py)
    return parser


async def until_signalled(body: Callable[[asyncio.Event], Awaitable[int]]) -> int:
    """Run ``body(stop)``; SIGINT/SIGTERM set ``stop`` (the body then ends cleanly)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        return await body(stop)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def make_cloud(args: argparse.Namespace, **extra) -> Cloud:
    cloud = Cloud(args.host, args.mqtt_port, args.coap_port, args.http_port,
                  http_token_ttl=args.http_token_ttl, **extra)
    for pk, dn, secret in args.device:
        cloud.registry.add(pk, dn, secret)
    return cloud


def print_line(text: str) -> None:
    print(text, flush=True)


async def cmd_cloud(args: argparse.Namespace, stop: asyncio.Event) -> int:
    cloud = make_cloud(args, service_password=args.service_password)
    async with cloud:
        print_line(json.dumps(cloud.addresses))
        print(f"service password: {cloud.service_password}", file=sys.stderr, flush=True)
        cloud.events.listeners.append(TraceWriter(print_line).event)
        await stop.wait()
    return 0


async def cmd_module(args: argparse.Namespace, stop: asyncio.Event) -> int:
    trace = TraceWriter(print_line)
    cloud = None
    if args.cloud:
        try:
            addresses = parse_cloud_spec(args.cloud)
        except (ValueError, json.JSONDecodeError) as error:
            print(f"pysim module: bad --cloud: {error}", file=sys.stderr)
            return EXIT_USAGE
    else:
        cloud = make_cloud(args)
        await cloud.start()
        addresses = cloud.addresses
    config = ModuleConfig(nv_path=args.nv, echo=not args.no_echo, urc_ok=not args.no_urc_ok,
                          faults=Faults(corrupt_ota_blocks=set(args.corrupt_ota_block),
                                        corrupt_ota_image=args.corrupt_ota_image))
    config.use_cloud(addresses)
    module = IcaModule(config, events=cloud.events if cloud else EventLog())
    await module.start()
    kind, host, port = args.listen
    server = close_pty = None
    try:
        if kind == "tcp":
            server, listen = await serve_tcp(module, host, port, listener=trace.uart)
        else:
            path, close_pty = open_pty(module, listener=trace.uart)
            listen = f"pty:{path}"
        print_line(json.dumps({"listen": listen, **addresses}))
        module.events.listeners.append(trace.event)
        await stop.wait()
    finally:
        if server is not None:
            server.close()
            await server.wait_closed()
        if close_pty is not None:
            close_pty()
        await module.stop()
        if cloud is not None:
            await cloud.stop()
        trace.flush()
    return 0


def ensure_demo_firmware(firmware: Path) -> None:
    """Build the demo ELF when it is missing (the Makefile's job, done here for `pysim run` alone)."""
    if firmware.is_file():
        return
    root = Path(__file__).resolve().parents[1]
    if shutil.which("arm-none-eabi-gcc") is None:
        raise FileNotFoundError(f"{firmware} is missing and arm-none-eabi-gcc is not installed: "
                                "run `make run` (it installs gcc-arm-none-eabi) or build the firmware")
    subprocess.run(["make", "-s", "-C", str(root / "firmware")], check=True)


async def cmd_run(args: argparse.Namespace, stop: asyncio.Event) -> int:
    from pysim.session import DEMO_FIRMWARE, DemoScenario, Session, SessionOptions

    demo = args.firmware is None or args.firmware.resolve() == DEMO_FIRMWARE
    scenario = args.scenario or ("demo" if demo else "exit-code")
    if demo:
        ensure_demo_firmware(DEMO_FIRMWARE)
    blocks = set() if args.no_faults else set(args.corrupt_ota_block if args.corrupt_ota_block is not None
                                              else ([1] if scenario == "demo" else []))
    trace_file = args.trace_file.open("w") if args.trace_file else None

    def sink(line: str) -> None:
        if not args.quiet:
            print_line(line)
        if trace_file:
            trace_file.write(line + "\n")

    session = Session(SessionOptions(firmware=args.firmware, board=args.board,
                                     emulator=None if args.emulator == "auto" else args.emulator,
                                     baud=args.baud, trace=sink,
                                     faults=Faults(corrupt_ota_blocks=blocks,
                                                   corrupt_ota_image=args.corrupt_ota_image and not args.no_faults)))
    try:
        await session.start()
        if scenario == "demo":
            work = asyncio.ensure_future(DemoScenario(session, ota_size=args.ota_size, timeout=args.timeout).run())
        else:
            work = asyncio.ensure_future(session.wait_exit(args.timeout))
        stopper = asyncio.ensure_future(stop.wait())
        await asyncio.wait([work, stopper], return_when=asyncio.FIRST_COMPLETED)
        if not work.done():
            work.cancel()
            print("pysim run: interrupted; stopping everything", file=sys.stderr)
            return EXIT_INTERRUPTED
        stopper.cancel()
        result = work.result()
    except Exception as error:
        print(f"pysim run: could not start: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_SETUP
    finally:
        await session.stop()
        if trace_file:
            trace_file.close()
    if args.json:
        verdict = (dataclasses.asdict(result) if scenario == "demo" else
                   {"exit_code": result, "passed": result == 0,
                    "reason": "firmware still running" if result is None else f"firmware exited with {result}"})
        args.json.write_text(json.dumps(verdict, indent=1, default=str) + "\n")
    if scenario == "demo":
        print_line("")
        print_line(result.summary())
        if not result.passed:
            print(f"pysim run: FAIL: {result.reason}", file=sys.stderr)
        return 0 if result.passed else EXIT_SCENARIO_FAILED
    if result is None:
        print(f"pysim run: FAIL: firmware still running after {args.timeout:g} s", file=sys.stderr)
        return EXIT_SCENARIO_FAILED
    print_line(f"firmware exit code: {result}")
    return 0 if result == 0 else EXIT_SCENARIO_FAILED


COMMANDS = {"cloud": cmd_cloud, "module": cmd_module, "run": cmd_run,
            "fleet": lambda args, stop: fleet_cli.main(args)}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = COMMANDS[args.command]
    try:
        return asyncio.run(until_signalled(lambda stop: command(args, stop)))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
