"""Start-up time of each emulator backend: from spawning the emulator to the first
byte the firmware sends on the AT UART.

For each backend (``--backend NAME``, repeatable; default: every backend installed
here, see ``pysim.emulators.BACKENDS``) and each board it can run (``--board``,
repeatable; default: every shipped board), one fresh emulator a run boots the
demo firmware built for that board (``firmware/build/<board>/demo.elf``); the time
is taken from just before ``Emulator.start`` (which spawns the process and connects
its serial ports) to the first byte read from the AT UART (the demo's first
``AT``). No module and no cloud: only the emulator and the firmware's boot.

Reference, measured in the same run: the backend's executable started with
``--version`` until it exits (loading the emulator alone, no machine, no
firmware), so the ratio says how many times that launch the whole boot costs. A
backend without an executable of its own (Renode in process through pyrenode3) is
left to ``bench_renode_startup.py``, which measures it in child processes.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchlib import REPO, Figure, Report, median, reproduce_command

from pysim.emulators import BACKENDS, Board
from pysim.emulators.board import BoardError, board_names, built_app

RUNS, QUICK_RUNS = 10, 2
SLOW_RUNS = {"renode": 3}  # a Renode start takes seconds: fewer runs keep `make bench` within its timeout
TIMEOUT = 60.0


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="2 runs of the first board on the first backend: does it still work?")
    parser.add_argument("--json", metavar="FILE", type=Path, help="also write the result as JSON to FILE")
    parser.add_argument("--backend", action="append", choices=sorted(BACKENDS), default=None,
                        help="measure this backend (repeatable; default: every installed one)")
    parser.add_argument("--board", action="append", default=None,
                        help="measure this board (repeatable; default: every shipped board)")
    return parser.parse_args(argv)


def build(board: str) -> Path:
    subprocess.run(["make", "-s", "-C", str(REPO / "firmware"), "APP=demo", f"BOARD={board}"],
                   check=True, capture_output=True)
    return built_app(REPO / "firmware", board, "demo")


def supports(backend: str, board: Board) -> bool:
    if backend != "renode":
        return True
    try:
        board.require_renode()
    except BoardError:
        return False
    return True


async def first_at_byte(backend: str, elf: Path, board: Board) -> float:
    """Seconds from spawning the emulator to the firmware's first byte on the AT UART."""
    emulator = BACKENDS[backend](startup_timeout=TIMEOUT)
    try:
        t0 = time.monotonic()
        await emulator.start(elf, board)
        assert emulator.uart is not None
        first = await asyncio.wait_for(emulator.uart.reader.read(1), TIMEOUT)
        elapsed = time.monotonic() - t0
        if not first:
            raise RuntimeError(f"{backend}: the AT UART closed before the first byte; {emulator.output[-300:]}")
        return elapsed
    finally:
        await emulator.stop()


def launch_alone(command: str) -> float:
    """Seconds to start ``command --version`` and see it exit."""
    t0 = time.monotonic()
    subprocess.run([command, "--version"], check=True, capture_output=True, timeout=TIMEOUT)
    return time.monotonic() - t0


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    report = Report("bench_startup", "emulator start-up: spawn to the firmware's first AT byte",
                    reproduce_command(__file__, args.quick))
    # in-process backends (no executable to spawn, e.g. pyrenode3) are bench_renode_startup.py's
    backends = args.backend or [name for name, cls in BACKENDS.items()
                                if cls.available() and cls.command() is not None]
    missing = [f"{name}: {BACKENDS[name].why_unavailable()}" for name in backends if not BACKENDS[name].available()]
    backends = [name for name in backends if BACKENDS[name].available()]
    if shutil.which("arm-none-eabi-gcc") is None or not backends:
        report.skipped = "; ".join(missing) or "needs arm-none-eabi-gcc to build the demo"
        report.emit(args.json)
        return 0
    report.notes += [f"not measured: {why}" for why in missing]
    boards = [Board.load(name) for name in (args.board or board_names())]
    for backend in backends[:1] if args.quick else backends:
        command = BACKENDS[backend].command()
        runs = QUICK_RUNS if args.quick else SLOW_RUNS.get(backend, RUNS)
        if command is None:  # in process (pyrenode3): benchmarks/bench_renode_startup.py, in child processes
            report.notes.append(f"{backend}: runs in process, no executable to launch: see bench_renode_startup.py")
            continue
        reference = median([launch_alone(command) for _ in range(runs)])
        wanted = [b for b in boards if supports(backend, b)]
        skipped = [b.name for b in boards if b not in wanted]
        if skipped:
            report.notes.append(f"{backend}: no Renode files for {', '.join(skipped)}")
        for board in wanted[:1] if args.quick else wanted:
            elf = build(board.name)
            times = [asyncio.run(first_at_byte(backend, elf, board)) for _ in range(runs)]
            report.figures.append(Figure(
                name=f"{backend}, {board.name}", value=median(times) * 1e3, unit="ms",
                reference=reference * 1e3, reference_what=f"`{Path(command).name} --version`, spawn to exit",
                ratio_meaning="boot to the first AT byte costs this many launches of the bare emulator",
                samples=runs, samples_what="fresh emulators, median",
                details={"min": min(times) * 1e3, "max": max(times) * 1e3}))
    report.emit(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
