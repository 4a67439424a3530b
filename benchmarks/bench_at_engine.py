"""AT engine throughput on one core, against the command rate of a 921600-baud UART.

The module model (``IcaModule.feed``: the sans-I/O ``AtEngine`` plus the edge that
drains its output to ``on_output``) is fed command lines in a tight loop, with no
sockets and no event loop, echo off (ATE0). Two workloads:

* ``AT\\r`` -> ``\\r\\nOK\\r\\n``;
* a mix of what a TE asks between publishes: ``AT+IMQTTSTATE?``, ``AT+IMQTTPARA?``
  (four lines back), ``AT+IMQTTPARA="TIMEOUT",5`` and ``AT``;

each fed whole lines at a time and one byte at a time (what a UART interrupt
handler may hand over). The figure is commands per second of CPU time of the one
thread that runs it (so other load on the machine does not count against it);
the wall-clock rate is in the details. The reference is the rate a 921600-baud
UART can carry those commands at (10 bits a byte, the longer direction of each
command). Every run checks that the module answered each command exactly.
"""

from __future__ import annotations

import time

from benchlib import Figure, Report, median, parse_args, reproduce_command, wire_seconds

from peripherals.ica import IcaModule, ModuleConfig

BAUD = 921600
SIMPLE = [b"AT\r"]
MIX = [b"AT+IMQTTSTATE?\r", b"AT+IMQTTPARA?\r", b'AT+IMQTTPARA="TIMEOUT",5\r', b"AT\r"]


def fresh_module() -> tuple[IcaModule, bytearray]:
    """A module with echo off whose output collects in the returned buffer."""
    module = IcaModule(ModuleConfig(echo=False))
    out = bytearray()
    module.on_output = out.extend
    return module, out


def answers(commands: list[bytes]) -> list[bytes]:
    """What the module answers to each command, from a module of its own."""
    module, out = fresh_module()
    result = []
    for line in commands:
        out.clear()
        module.feed(line)
        result.append(bytes(out))
    return result


def line_rate(commands: list[bytes], replies: list[bytes]) -> float:
    """Commands per second a UART at BAUD carries: each command costs its longer direction."""
    seconds = sum(wire_seconds(max(len(c), len(r)), BAUD) for c, r in zip(commands, replies))
    return len(commands) / seconds


def run_once(commands: list[bytes], rounds: int, bytewise: bool) -> tuple[float, float]:
    """Feed ``rounds`` times the list of commands to a fresh module; (CPU s, wall s)."""
    module, out = fresh_module()
    if bytewise:
        pieces = [bytes((b,)) for b in b"".join(commands)]
    else:
        pieces = list(commands)
    feed = module.feed
    cpu0, wall0 = time.thread_time(), time.perf_counter()
    for _ in range(rounds):
        for piece in pieces:
            feed(piece)
    cpu, wall = time.thread_time() - cpu0, time.perf_counter() - wall0
    expected = b"".join(answers(commands)) * rounds
    if out != expected:
        raise AssertionError(f"module answered {bytes(out[:200])!r}..., expected {expected[:200]!r}...")
    return cpu, wall


def measure(name: str, commands: list[bytes], bytewise: bool, runs: int, per_run: int) -> Figure:
    rounds = max(1, per_run // len(commands))
    run_once(commands, max(1, rounds // 10), bytewise)  # warm-up
    results = [run_once(commands, rounds, bytewise) for _ in range(runs)]
    count = rounds * len(commands)
    cpu_rates = [count / cpu for cpu, _ in results]
    wall_rates = [count / wall for _, wall in results]
    replies = answers(commands)
    return Figure(
        name=name,
        value=median(cpu_rates),
        unit="commands/s",
        reference=line_rate(commands, replies),
        reference_what=f"{BAUD}-baud UART line rate, 10 bits/byte, "
                       f"{sum(max(len(c), len(r)) for c, r in zip(commands, replies)) / len(commands):g}"
                       " bytes/command in the longer direction",
        ratio_meaning="measured / line rate: how many times faster than the wire",
        samples=runs,
        samples_what=f"runs of {count} commands (median run; CPU time of one thread)",
        details={"min run": min(cpu_rates), "max run": max(cpu_rates),
                 "wall-clock median": median(wall_rates)},
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__.splitlines()[0], argv)
    runs, per_run = (3, 1_000) if args.quick else (7, 10_000)
    report = Report("bench_at_engine", "AT engine throughput on one core (IcaModule.feed, no sockets)",
                    reproduce_command(__file__, args.quick))
    for label, commands in (("AT", SIMPLE), ("mix", MIX)):
        report.figures.append(measure(f"{label}, whole lines", commands, False, runs, per_run))
        report.figures.append(measure(f"{label}, one byte at a time", commands, True, runs, per_run))
    report.notes.append("mix = " + ", ".join(repr(c.decode()) for c in MIX))
    report.notes.append("each run starts a fresh module: every command adds an event to its EventLog, "
                        "and the rate falls as that log grows (see benchmarks/README.md)")
    report.emit(args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
