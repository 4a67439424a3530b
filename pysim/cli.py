"""``pysim``: the command line.

    pysim cloud  [--device PK:DN:SECRET]...            the cloud alone
    pysim module --listen tcp:HOST:PORT|pty [--cloud URL] [--device PK:DN:SECRET]...
    pysim run    [--firmware ELF] [--expect-text T] [--scenario FILE] ...   a CI run of a firmware

``cloud`` and ``module`` print one JSON object with the addresses they serve as
their first stdout line, then a readable trace; Ctrl-C or SIGTERM stops them.
``run`` prints a live trace and a verdict; its exit code says how it ended
(``EXIT_CODES``, docs/runner.md). Every error is one line on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import json
import logging
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Awaitable, Callable

from peripherals.ica import Faults, IcaModule, ModuleConfig, parse_cloud_spec
from peripherals.ica.profiles import PROFILES
from pysim import boards_command
from pysim.attach import open_pty, serve_tcp
from pysim.fleet import cli as fleet_cli
from pysim.cloud import Cloud
from pysim.events import EventLog
from pysim.help_formatter import HelpFormatter
from pysim.trace import TraceWriter

from pysim import replay as replay_cli
from pysim.experiment import cli as experiment_cli

# subcommands kept in their own modules: add_parser(subparsers) and main(args) -> int
EXTERNAL = {"experiment": experiment_cli, "replay": replay_cli}

EXIT_PASS = 0
EXIT_FAILED = 1
EXIT_SCENARIO_FAILED = EXIT_FAILED
EXIT_USAGE = 2
EXIT_SETUP = 3
EXIT_TIMEOUT = 42            # as Wokwi's CLI; --timeout-exit-code changes it
EXIT_INTERRUPTED = 130
EXIT_CODES = {
    EXIT_PASS: "passed",
    EXIT_FAILED: "failed: a fail-text, a failing scenario step, an expect-text never seen, a non-zero firmware exit",
    EXIT_USAGE: "bad command line or scenario file",
    EXIT_SETUP: "could not start: no emulator, no or bad firmware, port in use, broker unreachable",
    EXIT_TIMEOUT: "timed out (--timeout; the code is --timeout-exit-code)",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C, SIGTERM)",
}

RUN_EXAMPLES = """examples:
  pysim run                                         the demo firmware and its scenario
  pysim run --firmware build/app.elf --expect-text "READY" --fail-text "PANIC" --timeout 20
  pysim run --firmware build/app.elf --scenario tests/smoke.yaml --junit report.xml --json verdict.json
  pysim run --firmware build/app.elf --device a1PK:dev1:secret1 --cloud mqtt://127.0.0.1:1883

exit codes:
""" + "\n".join(f"  {code:3d}  {meaning}" for code, meaning in EXIT_CODES.items())


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
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
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
    p.add_argument("--no-urc-ok", action="store_true", help="no OK after receive URCs (docs/module-behaviour.md §11)")
    # compatibility profiles (peripherals/ica/profiles.py, docs/ARCHITECTURE.md)
    p.add_argument("--profile", choices=sorted(PROFILES), default="spec",
                   help="behave as the MCU-side clients of Alibaba's SDK 2.x (sdk2) or 3.x (sdk3) need "
                        "(default: spec)")
    p.add_argument("--corrupt-ota-block", type=int, action="append", default=[], metavar="N",
                   help="fault: corrupt OTA block N on the UART the first time it is sent")
    p.add_argument("--corrupt-ota-image", action="store_true",
                   help="fault: corrupt downloaded images so the TE's MD5 check fails")

    for module in EXTERNAL.values():            # subcommands in their own modules
        module.add_parser(sub)

    p = sub.add_parser("run", formatter_class=HelpFormatter, epilog=RUN_EXAMPLES,
                       help="run a firmware against the module and a cloud and judge it (CI runner)",
                       description="Boot a firmware in an emulator wired to the module model and a cloud, "
                                   "check its console, play a scenario, and exit with a code that says how "
                                   "the run ended.")
    what = p.add_argument_group("what to run")
    what.add_argument("--firmware", type=Path, default=None, metavar="ELF",
                      help="the firmware to run (default: the demo, built if missing)")
    what.add_argument("--board", default="netduinoplus2",
                      help="a board name (netduinoplus2, netduino2, stm32vldiscovery, ...) or the path of a "
                           "board description .json (docs/boards.md)")
    what.add_argument("--emulator", default="auto", choices=["qemu", "renode", "auto"],
                      help="emulator backend; auto: QEMU, else Renode")
    what.add_argument("--baud", type=int, default=None, help="pace the UART at this baud rate (default: unpaced)")
    what.add_argument("--device", type=device_spec, action="append", default=[], metavar="PK:DN:SECRET",
                      help="the firmware's device credentials, registered in the cloud; more are registered too "
                           "(repeatable; default: the demo's a1demoPK:demo-device-01:...)")
    cloud = p.add_argument_group("the cloud")
    cloud.add_argument("--cloud", default=None, metavar="URL",
                       help="an external broker/servers instead of the in-process cloud, e.g. "
                            "mqtt://127.0.0.1:1883 (mosquitto) or a JSON address map as `pysim cloud` prints")
    cloud.add_argument("--host", default="127.0.0.1", help="address the in-process cloud binds")
    cloud.add_argument("--mqtt-port", type=int, default=0, help="in-process cloud's MQTT port (0: a free one)")
    cloud.add_argument("--coap-port", type=int, default=0, help="in-process cloud's CoAP port (0: a free one)")
    cloud.add_argument("--http-port", type=int, default=0, help="in-process cloud's HTTP port (0: a free one)")
    checks = p.add_argument_group("what passes")
    checks.add_argument("--expect-text", action="append", default=[], metavar="TEXT",
                        help="pass once every such text was seen on the console (repeatable)")
    checks.add_argument("--fail-text", action="append", default=[], metavar="TEXT",
                        help="fail at once when this text is seen on the console (repeatable)")
    checks.add_argument("--scenario", default=None, metavar="FILE",
                        help="a scenario file to play (docs/scenarios.md); `none` for none "
                             "(default: the demo scenario for the demo firmware, else none)")
    checks.add_argument("--timeout", type=float, default=90.0, metavar="S", help="seconds the run may take")
    checks.add_argument("--timeout-exit-code", type=int, default=EXIT_TIMEOUT, metavar="N",
                        help="exit code when the run times out")
    what.add_argument("--profile", choices=sorted(PROFILES), default="spec",
                      help="module behaviour: the spec (docs/module-behaviour.md), or what the MCU-side clients "
                           "of Alibaba's SDK 2.x (sdk2) or 3.x (sdk3) need")
    faults = p.add_argument_group("faults")
    faults.add_argument("--corrupt-ota-block", type=int, action="append", default=[], metavar="N",
                        help="corrupt OTA block N on the UART the first time it is sent (repeatable)")
    faults.add_argument("--corrupt-ota-image", action="store_true",
                        help="corrupt downloaded images so the firmware's MD5 check fails")
    faults.add_argument("--no-faults", action="store_true", help="skip the scenario's inject_fault steps")
    # ---- faults, capture, determinism (issue 9: docs/faults.md, docs/determinism.md) ----
    faults.add_argument("--fault", action="append", default=[], metavar="SPEC",
                        help="inject a fault from the start, LINK.KIND[:param=value,...] (repeatable; "
                             "`pysim run --list-faults` lists every kind and its defaults)")
    faults.add_argument("--list-faults", action="store_true", help="list the fault kinds and exit")
    faults.add_argument("--seed", type=int, default=1, help="seed of every fault's random generator")
    faults.add_argument("--capture", type=Path, default=None, metavar="FILE",
                        help="write every link's bytes with their times to FILE (JSON lines; `pysim replay` reads it)")
    faults.add_argument("--icount", default=None, metavar="SPEC",
                        help="QEMU instruction counting, the -icount value: `auto` (shift=auto) or e.g. "
                             "`shift=7,align=off,sleep=off` (docs/determinism.md)")
    # ---- end of the faults block ----
    out = p.add_argument_group("output")
    out.add_argument("--quiet", action="store_true", help="no live trace, only the verdict")
    out.add_argument("--trace-file", type=Path, default=None, metavar="FILE", help="write the trace to this file")
    out.add_argument("--json", type=Path, default=None, metavar="FILE",
                     help="write the verdict as JSON (outcome, exit code, reason, steps, checks)")
    out.add_argument("--junit", type=Path, default=None, metavar="FILE",
                     help="write a JUnit XML report (a test case per step and check; the trace as system-out)")
    add_contract_and_debug_options(p)
    boards_command.add_parser(sub)
    fleet_cli.add_parser(sub)   # pysim fleet (pysim/fleet/cli.py)
    return parser


# ---- `pysim run`: firmware contract and debugger options (boards helper) ----------------------
# The contract (docs/firmware-contract.md) says which UART is which, when the firmware is
# ready and where the verdict comes from; unset options take the board's, then the demo's.
def add_contract_and_debug_options(p: argparse.ArgumentParser) -> None:
    from pysim.contract import READY_KINDS, VERDICT_KINDS, Ready, Verdict
    g = p.add_argument_group("firmware contract (default: the board's, else BOOT line, USART1 AT, "
                             "USART2 console, semihosting exit code)")
    g.add_argument("--at-uart", default=None, metavar="USARTn", help="the UART carrying AT to the module")
    g.add_argument("--console-uart", default=None, metavar="USARTn|none", help="the firmware's console UART")
    g.add_argument("--ready", default=None, type=_contract_type(Ready.parse), metavar="|".join(READY_KINDS),
                   help="when the firmware is ready: a console line matches, its first AT byte, or at once")
    g.add_argument("--verdict", default=None, type=_contract_type(Verdict.parse), metavar="|".join(VERDICT_KINDS),
                   help="where the result comes from: the semihosting exit code, a console line "
                        "(group `code` or `result`), or only the runner's expect/fail texts")
    g = p.add_argument_group("debugger (docs/debugging.md)")
    g.add_argument("--gdb", type=int, default=None, metavar="PORT",
                   help="serve GDB on 127.0.0.1:PORT (gdb-multiarch ELF -ex 'target remote :PORT')")
    g.add_argument("--gdb-wait", action="store_true", help="with --gdb: hold the CPU until GDB continues it")


def _contract_type(parse):
    def convert(text: str) -> str:
        from pysim.contract import ContractError
        try:
            parse(text)
        except ContractError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
        return text
    return convert


def contract_options(args: argparse.Namespace) -> dict:
    """SessionOptions fields from the contract and debugger options of `pysim run`."""
    from pysim.contract import FirmwareContract
    from pysim.emulators import Board
    if args.gdb_wait and args.gdb is None:
        raise ValueError("--gdb-wait needs --gdb PORT")
    Board.load(args.board).with_wiring(args.at_uart, args.console_uart)  # BoardError (a ValueError): one line
    return {"contract": FirmwareContract.of(at_uart=args.at_uart, console_uart=args.console_uart, ready=args.ready,
                                            verdict=args.verdict),
            "gdb_port": args.gdb, "gdb_wait": args.gdb_wait}


async def print_failure_report(session, result) -> None:
    """Print the crash or hang report (pysim/postmortem.py) when the run timed out or the
    firmware faulted; before the session stops."""
    from pysim import postmortem
    emulator = session.emulator
    if emulator is None or result.passed:
        return
    code = result.firmware_exit_code
    faulted = code is not None and postmortem.wanted(code, session.console_lines, emulator.output)
    if result.outcome == "timeout" or faulted:
        print_line((await session.postmortem(result.reason)).text())   # stdout: stderr keeps its one line
# ---- end of the contract and debugger options ---------------------------------------------


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
    config = ModuleConfig(nv_path=args.nv, echo=not args.no_echo, urc_ok=not args.no_urc_ok, profile=args.profile,
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


def package_version() -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version
        return version("ica-pysim")
    except PackageNotFoundError:
        from pysim import __version__
        return __version__


def ensure_demo_firmware(firmware: Path) -> None:
    """Build the demo ELF when it is missing (the Makefile's job, done here for `pysim run` alone)."""
    if firmware.is_file():
        return
    root = Path(__file__).resolve().parents[1]
    if not (root / "firmware" / "Makefile").is_file():
        raise FileNotFoundError("no --firmware given and the demo firmware is not here (it comes with a source "
                                "checkout): name your ELF with --firmware")
    if shutil.which("arm-none-eabi-gcc") is None:
        raise FileNotFoundError(f"{firmware} is missing and arm-none-eabi-gcc is not installed: "
                                "run `make run` (it installs gcc-arm-none-eabi) or build the firmware")
    done = subprocess.run(["make", "-s", "-C", str(root / "firmware")], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"building the demo firmware failed: {one_line(done.stderr or done.stdout)}")


def one_line(error: BaseException | str) -> str:
    """An error as one line: its first line, and the last line of an emulator's output after it."""
    text = str(error) if isinstance(error, str) else (str(error) or type(error).__name__)
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return type(error).__name__ if isinstance(error, BaseException) else "unknown error"
    head = lines[0].removesuffix("; its output:").removesuffix(":")
    return head if len(lines) == 1 else f"{head} ({lines[-1]})"


def setup_error(error: BaseException) -> str:
    """What could not start, in one line."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, OSError) and cause.errno == errno.EADDRINUSE or "address already in use" in str(cause):
            return f"a port is in use: {one_line(cause)} (choose another, or 0 for a free one)"
        cause = cause.__cause__ or cause.__context__
    return one_line(error)


async def cmd_run(args: argparse.Namespace, stop: asyncio.Event) -> int:
    from pysim.runner import RunChecks, run_firmware, write_junit
    from pysim.scenario import ScenarioError, builtin_scenario, load_scenario
    from pysim.session import DEMO_DEVICE, DEMO_FIRMWARE, Session, SessionOptions, check_firmware

    def fail(code: int, message: str) -> int:
        print(f"pysim run: {message}", file=sys.stderr, flush=True)
        return code

    if args.list_faults:
        from pysim.faults import describe_kinds
        print_line(describe_kinds())
        return EXIT_PASS
    from pysim.faults import FaultSpecError, parse_fault
    try:
        for spec in args.fault:
            parse_fault(spec)
    except FaultSpecError as error:
        return fail(EXIT_USAGE, f"bad --fault: {error}")
    demo = args.firmware is None or args.firmware.resolve() == DEMO_FIRMWARE
    scenario_path = args.scenario or (str(builtin_scenario("demo")) if demo and not args.expect_text else "none")
    try:
        scenario = None if scenario_path == "none" else load_scenario(scenario_path)
    except ScenarioError as error:
        return fail(EXIT_USAGE, str(error))
    cloud = None
    if args.cloud:
        try:
            cloud = parse_cloud_spec(args.cloud)
        except (ValueError, json.JSONDecodeError) as error:
            return fail(EXIT_USAGE, f"bad --cloud: {error}")
    try:
        debug_and_contract = contract_options(args)
    except ValueError as error:
        return fail(EXIT_USAGE, str(error))
    demo_firmware = SessionOptions(board=args.board).firmware_path
    try:
        if demo:
            ensure_demo_firmware(demo_firmware)
        check_firmware(args.firmware or demo_firmware)
    except (OSError, RuntimeError, ValueError) as error:
        return fail(EXIT_SETUP, one_line(error))
    trace_file = None
    if args.trace_file:
        try:
            trace_file = args.trace_file.open("w")
        except OSError as error:
            return fail(EXIT_SETUP, f"cannot write the trace file: {error.strerror}: {args.trace_file}")

    def sink(line: str) -> None:
        if not args.quiet:
            print_line(line)

    devices = args.device or [DEMO_DEVICE]
    session = Session(SessionOptions(firmware=args.firmware, board=args.board, **debug_and_contract,
                                     emulator=None if args.emulator == "auto" else args.emulator,
                                     baud=args.baud, trace=sink, device=devices[0], cloud=cloud,
                                     cloud_ports=(args.host, args.mqtt_port, args.coap_port, args.http_port),
                                     module={"profile": args.profile},
                                     faults=Faults(corrupt_ota_blocks=set(args.corrupt_ota_block),
                                                   corrupt_ota_image=args.corrupt_ota_image),
                                     fault_specs=args.fault, seed=args.seed, capture=args.capture,
                                     fault_proxy=scenario_needs_proxy(scenario),
                                     icount="shift=auto" if args.icount == "auto" else args.icount))
    if args.quiet:   # no live trace: an OTA transfer still shows as a progress line on a terminal
        from pysim.experiment.progress import OtaProgress
        session.events.listeners.append(OtaProgress())
    checks = RunChecks(expect_text=args.expect_text, fail_text=args.fail_text, scenario=scenario,
                       timeout=args.timeout, skip_faults=args.no_faults)
    started = asyncio.ensure_future(_start_and_run(session, devices, checks, run_firmware))
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait([started, stopper], return_when=asyncio.FIRST_COMPLETED)
        if not started.done():
            started.cancel()
            await asyncio.gather(started, return_exceptions=True)
            return fail(EXIT_INTERRUPTED, "interrupted; everything stopped")
        try:
            result = started.result()
        except SetupFailed as failed:
            code = fail(EXIT_SETUP, f"could not start: {setup_error(failed.error)}")
            if session.startup_report is not None:   # the firmware never got ready: where it was
                print_line(session.startup_report.text())   # stdout: stderr keeps its one line
            return code
    finally:
        stopper.cancel()
        await session.stop()
        if trace_file:
            trace_file.write("\n".join(session.trace_lines) + "\n")
            trace_file.close()
    code = {"pass": EXIT_PASS, "fail": EXIT_FAILED}.get(result.outcome, args.timeout_exit_code)
    if args.json:
        args.json.write_text(json.dumps(result.as_dict(code), indent=1, default=str) + "\n")
    if args.junit:
        write_junit(args.junit, result, name=f"pysim run {Path(args.firmware or DEMO_FIRMWARE).name}",
                    trace="\n".join(session.trace_lines))
    print_line("")
    print_line(result.summary())
    if not result.passed:
        print(f"pysim run: {result.outcome.upper()}: {result.reason}", file=sys.stderr, flush=True)
    return code


def scenario_needs_proxy(scenario) -> bool:
    """A scenario that injects a network fault needs the fault proxy from the start."""
    return scenario is not None and any(
        step.kind == "inject_fault" and str(step.args.get("fault", "")).startswith("net.") for step in scenario.steps)


class SetupFailed(Exception):
    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


async def _start_and_run(session, devices, checks, run_firmware):
    try:
        await session.start()
    except Exception as error:
        raise SetupFailed(error) from error
    if session.cloud is not None:
        for device in devices[1:]:
            session.cloud.registry.add(*device)
    result = await run_firmware(session, checks)
    await print_failure_report(session, result)
    return result


COMMANDS = {"cloud": cmd_cloud, "module": cmd_module, "run": cmd_run,
            "boards": lambda args, stop: boards_command.main(args),
            "fleet": lambda args, stop: fleet_cli.main(args, stop, interrupted_code=EXIT_INTERRUPTED)}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in EXTERNAL:
        return EXTERNAL[args.command].main(args)
    command = COMMANDS[args.command]
    # libraries (amqtt, aiocoap) log their own tracebacks on errors we report in one line
    logging.getLogger().addHandler(logging.NullHandler())
    try:
        return asyncio.run(until_signalled(lambda stop: command(args, stop)))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as error:   # one line, never a traceback
        print(f"pysim {args.command}: {one_line(error)}", file=sys.stderr, flush=True)
        return EXIT_SETUP


if __name__ == "__main__":
    sys.exit(main())
