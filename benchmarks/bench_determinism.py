"""Run-to-run determinism of the demo's AT timing, with and without QEMU's -icount,
and the firmware's telemetry period under load.

AT timing: the demo (``firmware/build/demo.elf``, the cloud's half played by
``pysim.experiment.demo.play_demo``, 4 KiB OTA image) runs several times in each mode; for every AT line
the firmware sends (the same n-th line in every run), the time from its first ``AT``
is taken on the host (the UART record holding the line's CR). The spread of a line is
the standard deviation of that time across runs; the figure is the median spread
over all lines, with ``-icount shift=auto`` (virtual time tied to instructions,
aligned to real time) and with ``shift=7,sleep=off`` (virtual time runs on while the
guest sleeps: it no longer follows the host clock). The reference is the same spread without icount, measured in
the same run. ``details`` says how many runs sent exactly the same AT sequence as the
first (content and order).

Telemetry period under load: N copies of the demo built to publish every 250 ms
(``TELEMETRY_MS=250``, ``DEMO_EXIT_AFTER=0``) run at once on this machine; the figure
is the mean host-time interval between consecutive telemetry commands of each
firmware, over a few seconds, in each mode; the
reference is the nominal 250 ms. The ratio is how much slower the firmware's clock
runs than it believes (SysTick losing ticks when QEMU is starved of CPU).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

from benchlib import REPO, Figure, Report, median, parse_args, reproduce_command

from pysim.experiment.demo import play_demo
from pysim.session import DEMO_FIRMWARE, Session, SessionOptions
from pysim.uart import TE_TO_TA

MODES = {"no icount": None, "icount shift=auto": "shift=auto", "icount shift=7,sleep=off": "shift=7,sleep=off"}
TELEMETRY_MS = 250
TELEMETRY_LINE = re.compile(rb'AT\+IMQTTPUB="[^"]*/user/telemetry"')


def te_lines(session: Session) -> list[tuple[float, bytes]]:
    """(time, line) of each line the firmware sent, time of the chunk holding its CR."""
    out, current = [], bytearray()
    assert session.link is not None
    for record in session.link.records:
        if record.direction != TE_TO_TA:
            continue
        for byte in record.data:
            current.append(byte)
            if byte == 0x0D:
                out.append((record.t, bytes(current)))
                current.clear()
    return out


async def demo_run(icount: str | None, workdir: Path) -> list[tuple[float, bytes]]:
    session = Session(SessionOptions(icount=icount, workdir=workdir))
    try:
        await session.start()
        verdict = await play_demo(session, ota_size=4096, timeout=60)
        lines = te_lines(session)
    finally:
        await session.stop()
    if not verdict.passed:
        raise RuntimeError(f"demo failed ({icount or 'no icount'}): {verdict.summary()}")
    return lines


def spread_ms(runs: list[list[tuple[float, bytes]]]) -> tuple[float, int]:
    """Median over line positions of the std dev (ms) of their time since the first AT;
    and how many runs sent the first run's exact AT sequence."""
    n = min(len(r) for r in runs)
    spreads = []
    for i in range(n):
        times = [(r[i][0] - r[0][0]) * 1000 for r in runs]
        spreads.append(statistics.pstdev(times))
    same = sum(1 for r in runs if [line for _, line in r] == [line for _, line in runs[0]])
    return median(spreads), same


def build_fast_demo(build: Path) -> Path:
    subprocess.run(["make", "-s", "-C", str(REPO / "firmware"), f"BUILD={build}", f"TELEMETRY_MS={TELEMETRY_MS}",
                    "DEMO_EXIT_AFTER=0", f"{build}/demo.elf"], check=True, capture_output=True)
    return build / "demo.elf"


async def telemetry_periods(firmware: Path, icount: str | None, copies: int, seconds: float,
                            workdir: Path) -> tuple[list[float], int]:
    """Telemetry intervals (ms) of the firmwares that reached their main loop, and how many did not."""
    sessions = [Session(SessionOptions(firmware=firmware, icount=icount, workdir=workdir / f"{icount}-{i}"))
                for i in range(copies)]
    for i, s in enumerate(sessions):
        (workdir / f"{icount}-{i}").mkdir(parents=True, exist_ok=True)
    try:
        await asyncio.gather(*(s.start() for s in sessions))
        ready = await asyncio.gather(*(s.wait_console(r"^STEP http_request ok", 60) for s in sessions),
                                     return_exceptions=True)
        await asyncio.sleep(seconds)       # the measurement window itself
        periods = []
        for s, got_there in zip(sessions, ready):
            if isinstance(got_there, BaseException):
                continue                   # gave up before its main loop (a step timed out under load)
            times = [t for t, line in te_lines(s) if TELEMETRY_LINE.search(line)]
            periods += [(b - a) * 1000 for a, b in zip(times, times[1:])]
        return periods, sum(isinstance(r, BaseException) for r in ready)
    finally:
        await asyncio.gather(*(s.stop() for s in sessions), return_exceptions=True)


async def main_async(quick: bool) -> Report:
    report = Report("bench_determinism", "run-to-run AT timing spread and telemetry period, with and without icount",
                    reproduce_command(__file__, quick))
    if shutil.which("qemu-system-arm") is None or not DEMO_FIRMWARE.is_file():
        report.skipped = "needs qemu-system-arm and firmware/build/demo.elf (make firmware)"
        return report
    runs_per_mode = 2 if quick else 5
    copies, seconds = (2, 2.0) if quick else (8, 6.0)
    with tempfile.TemporaryDirectory(prefix="bench-determinism-") as tmp:
        workdir = Path(tmp)
        spreads = {}
        for mode, icount in MODES.items():
            runs = [await demo_run(icount, workdir) for _ in range(runs_per_mode)]
            spreads[mode] = spread_ms(runs)
        plain, same_plain = spreads["no icount"]
        for mode in list(MODES)[1:]:
            counted, same_counted = spreads[mode]
            report.figures.append(Figure(
                f"AT timing spread across runs, {mode}", counted, "ms", plain,
                "the same spread without icount, this run", "below 1: icount makes the AT timing steadier",
                runs_per_mode, "demo runs per mode; median over AT lines of the std dev of their time since the first AT",
                {"identical AT sequences with it": f"{same_counted}/{runs_per_mode}",
                 "identical AT sequences without icount": f"{same_plain}/{runs_per_mode}"}))
        firmware = build_fast_demo(workdir / "build")
        for mode, icount in MODES.items():
            periods, failed = await telemetry_periods(firmware, icount, copies, seconds, workdir)
            if not periods:
                report.notes.append(f"{mode}: no firmware reached its main loop under this load")
                continue
            report.figures.append(Figure(
                f"telemetry period with {copies} firmwares at once, {mode}", statistics.mean(periods), "ms",
                float(TELEMETRY_MS), "the period the firmware believes it keeps (TELEMETRY_MS)",
                "above 1: the firmware's clock falls behind real time", len(periods),
                f"intervals between telemetry commands, {copies} firmwares, {seconds:g} s",
                {"max": max(periods), "median": median(periods),
                 "firmwares that gave up before their main loop": f"{failed}/{copies}"}))
    report.notes.append("Host clock timings: with icount the guest's own clock is exact by construction; "
                        "what varies is when the host lets QEMU run. docs/determinism.md explains.")
    return report


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    asyncio.run(main_async(args.quick)).emit(args.json)


if __name__ == "__main__":
    main()
