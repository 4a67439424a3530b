"""What every benchmark shares: its command line, the machine, statistics, and the
result block it prints (and, with ``--json FILE``, writes).

A benchmark measures one or more :class:`Figure` s; each has a reference it is
compared to and the ratio ``value / reference``. The block is meant to be read by
people and checked by the smoke tests: every figure has ``figure:``,
``reference:``, ``ratio:`` and ``samples:`` lines; the block has ``machine:`` and
``command:`` lines.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:   # the scripts run as `python benchmarks/x.py`, also without `pip install -e .`
    sys.path.insert(1, str(REPO))
BITS_PER_BYTE = 10  # UART frame: start bit, 8 data bits, stop bit


def wire_seconds(nbytes: int, baud: int) -> float:
    """Time a UART at ``baud`` needs to carry ``nbytes`` (10 bits a byte)."""
    return nbytes * BITS_PER_BYTE / baud


def parse_args(description: str, argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true",
                        help="tiny counts: checks that the benchmark works, its figures mean little")
    parser.add_argument("--json", metavar="FILE", type=Path, help="also write the result as JSON to FILE")
    return parser.parse_args(argv)


def machine() -> dict[str, str | int]:
    return {
        "cores": os.cpu_count() or 0,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "system": f"{platform.system()} {platform.release()} {platform.machine()}",
    }


def reproduce_command(script: str, quick: bool) -> str:
    """The command that reproduces a run, from the repository root."""
    python = Path(sys.executable)
    try:
        shown = str(python.absolute().relative_to(REPO))
    except ValueError:
        shown = str(python)
    words = [shown, f"benchmarks/{Path(script).name}"] + (["--quick"] if quick else [])
    return shlex.join(words)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


@dataclass
class Figure:
    """One measured figure and what it is compared to."""

    name: str              # e.g. "AT, whole lines"
    value: float
    unit: str              # e.g. "commands/s", "ms"
    reference: float       # in the same unit
    reference_what: str    # what the reference is, in words
    ratio_meaning: str     # how to read value / reference
    samples: int
    samples_what: str      # e.g. "runs of 20000 commands, median run"
    details: dict[str, float | str] = field(default_factory=dict)  # more numbers (floats in ``unit``)

    @property
    def ratio(self) -> float:
        return self.value / self.reference


@dataclass
class Report:
    benchmark: str         # script name without .py
    title: str
    command: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None     # why nothing was measured

    def lines(self) -> list[str]:
        out = [f"=== {self.benchmark}: {self.title} ==="]
        m = machine()
        out.append(f"machine:   {m['cores']} cores, {m['python']}, {m['system']}")
        out.append(f"command:   {self.command}")
        if self.skipped:
            out.append(f"skipped:   {self.skipped}")
        for fig in self.figures:
            out.append(f"[{fig.name}]")
            out.append(f"  figure:    {fmt(fig.value)} {fig.unit}")
            out.append(f"  reference: {fmt(fig.reference)} {fig.unit} ({fig.reference_what})")
            out.append(f"  ratio:     {fig.ratio:.3g} ({fig.ratio_meaning})")
            out.append(f"  samples:   {fig.samples} {fig.samples_what}")
            if fig.details:
                out.append("  details:   " + ", ".join(
                    f"{k} {fmt(v)} {fig.unit}" if isinstance(v, float) else f"{k} {v}"
                    for k, v in fig.details.items()))
        out += [f"note:      {note}" for note in self.notes]
        return out

    def emit(self, json_path: Path | None) -> None:
        print("\n".join(self.lines()), flush=True)
        if json_path is not None:
            data = {"benchmark": self.benchmark, "title": self.title, "command": self.command,
                    "machine": machine(), "skipped": self.skipped, "notes": self.notes,
                    "figures": [dict(asdict(fig), ratio=fig.ratio) for fig in self.figures]}
            json_path.write_text(json.dumps(data, indent=2) + "\n")


def fmt(value: float) -> str:
    """Three significant digits (all of the integer part), no exponent for everyday magnitudes."""
    if value == 0 or 0.01 <= abs(value) < 1e7:
        digits = max(0, 2 - int(math.floor(math.log10(abs(value))))) if value else 0
        return f"{value:,.{digits}f}"
    return f"{value:.3e}"


def latency_details(seconds: list[float]) -> dict[str, float | str]:
    """min, p90, p99 and max of latencies given in seconds, in ms."""
    return {"min": min(seconds) * 1e3, "p90": percentile(seconds, 90) * 1e3,
            "p99": percentile(seconds, 99) * 1e3, "max": max(seconds) * 1e3}


def stamp_arrivals(peer) -> dict[bytes, float]:
    """Stamp each message a ``pysim.peers.PahoClient`` receives with ``time.monotonic()``
    in paho's network thread, as it arrives (before the hop to the event loop).
    Returns the dict payload -> arrival time that fills as messages come."""
    arrivals: dict[bytes, float] = {}
    forward = peer.client.on_message

    def on_message(client, userdata, message) -> None:
        arrivals[bytes(message.payload)] = time.monotonic()
        forward(client, userdata, message)

    peer.client.on_message = on_message
    return arrivals
