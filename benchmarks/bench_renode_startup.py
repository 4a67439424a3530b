"""Renode start-up: spawn to the firmware's first AT byte, Renode as a process (robot-server
control, socket UARTs) and Renode in process through pyrenode3, against QEMU.

Each sample is a fresh Python process that starts one emulator with the demo firmware
(``firmware/build/demo.elf``, which sends ``AT`` first after booting) and times from
``Emulator.start()`` being called to the first byte arriving on the AT UART socket.
No module answers: the first byte is all that is timed. A fresh process a sample keeps
pyrenode3's one-time load of Renode into the interpreter inside its figure (it cannot
be unloaded) and contains mono's crash at interpreter exit (docs/renode.md).

Figures: the Renode process backend against QEMU, and pyrenode3 against the Renode
process backend, both measured in this run. Reports ``skipped:`` without Renode.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

from benchlib import REPO, Figure, Report, median, parse_args, reproduce_command

ELF = REPO / "firmware" / "build" / "demo.elf"
CHILD_TIMEOUT = 300.0  # s for one sample (Renode under mono is slow on a loaded machine)


async def first_at_byte(backend: str) -> float:
    from pysim.emulators import get_emulator

    emulator = get_emulator(backend)
    t0 = time.monotonic()
    try:
        await emulator.start(ELF)
        assert emulator.uart is not None
        await asyncio.wait_for(emulator.uart.reader.read(1), CHILD_TIMEOUT)
        return time.monotonic() - t0
    finally:
        await emulator.stop()


def child(backend: str) -> None:
    """One sample, printed as JSON; ends with os._exit: mono, once hosted, crashes at exit."""
    seconds = asyncio.run(first_at_byte(backend))
    print(json.dumps({"backend": backend, "seconds": seconds}), flush=True)
    sys.stderr.flush()
    os._exit(0)


def sample(backend: str) -> float:
    import tempfile
    # a crashing mono writes mono_crash.* files into its working directory: not the checkout's
    with tempfile.TemporaryDirectory(prefix="bench-renode-") as cwd:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
        run = subprocess.run([sys.executable, __file__, "--child", backend], capture_output=True, text=True,
                             timeout=CHILD_TIMEOUT, cwd=cwd, env=env)
    for line in run.stdout.splitlines():
        if line.startswith("{"):
            return json.loads(line)["seconds"]
    raise RuntimeError(f"{backend} sample failed (rc {run.returncode}):\n{run.stdout[-2000:]}{run.stderr[-2000:]}")


def missing() -> str | None:
    from pysim.emulators import PyRenode3Emulator, QemuEmulator, RenodeEmulator

    reasons = [cls.why_unavailable() for cls in (QemuEmulator, RenodeEmulator, PyRenode3Emulator)]
    if any(reasons):
        return "; ".join(filter(None, reasons))
    if subprocess.run(["make", "-s", "-C", str(REPO / "firmware"), "build/demo.elf"], capture_output=True).returncode:
        return "the demo firmware does not build (make -C firmware)"
    return None


def measure(quick: bool) -> list[Figure]:
    runs = 1 if quick else 3
    times: dict[str, list[float]] = {"qemu": [], "renode": [], "pyrenode3": []}
    for _ in range(runs):  # interleaved, so machine load hits every backend alike
        for backend in times:
            times[backend].append(sample(backend))
    ms = {backend: [t * 1e3 for t in values] for backend, values in times.items()}
    what = "fresh processes, interleaved with the other backends; median"

    def spread(values: list[float]) -> dict[str, float | str]:
        return {"min": min(values), "max": max(values)}

    return [
        Figure(name="Renode process (robot server, socket UARTs): spawn -> first AT byte",
               value=median(ms["renode"]), unit="ms", reference=median(ms["qemu"]),
               reference_what="QEMU spawn -> first AT byte, median of the same run",
               ratio_meaning="how many times longer than QEMU Renode takes to reach the firmware's first AT byte",
               samples=runs, samples_what=what, details=spread(ms["renode"])),
        Figure(name="Renode in process (pyrenode3): load -> first AT byte",
               value=median(ms["pyrenode3"]), unit="ms", reference=median(ms["renode"]),
               reference_what="Renode process backend spawn -> first AT byte, median of the same run",
               ratio_meaning="below 1: in-process Renode starts faster than the Renode process",
               samples=runs, samples_what=what, details=spread(ms["pyrenode3"])),
    ]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        child(argv[1])
    args = parse_args(__doc__.splitlines()[0], argv)
    report = Report("bench_renode_startup", "Renode start-up: process vs in process (pyrenode3) vs QEMU",
                    reproduce_command(__file__, args.quick))
    report.skipped = missing()
    if report.skipped is None:
        report.figures = measure(args.quick)
        report.notes.append("demo.elf on netduinoplus2 (platforms/netduinoplus2.repl); no module attached; "
                            "Renode 1.15.1 on Debian's mono 6.8")
    report.emit(args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
