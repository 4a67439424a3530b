"""``pysim experiment``: the resilience matrix, or a sweep described by a file.

    pysim experiment resilience [--kinds net.loss,uart.drop] [--severities low,high] [--out DIR]
    pysim experiment FILE [--out DIR] [--repeats N]

Registered in pysim/cli.py with :func:`add_parser`; :func:`main` runs it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pysim.faults import KINDS
from pysim.help_formatter import HelpFormatter

EXIT_USAGE = 2


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "experiment", help="resilience matrix or a parameter sweep (docs/experiments.md)",
        formatter_class=HelpFormatter,
        description="`resilience`: the demo firmware under every fault kind at three severities. "
                    "FILE: a sweep (JSON or YAML) over a parameter grid, of a Python TE publishing (scenario: publish) or of a firmware in the emulator (scenario: firmware), with CSV, plots and an HTML report.")
    p.add_argument("what", metavar="resilience|FILE", help="`resilience` or a sweep file")
    p.add_argument("--out", type=Path, default=None,
                   help="output directory (default: experiments/<name>-<time> under the current directory)")
    p.add_argument("--seed", type=int, default=1, help="seed of every fault's random generator")
    p.add_argument("--kinds", default="all", help="resilience: fault kinds, comma separated")
    p.add_argument("--severities", default="low,medium,high", help="resilience: severities, comma separated")
    p.add_argument("--hold", type=float, default=3.0, help="resilience: seconds each fault stays on")
    p.add_argument("--window", type=float, default=8.0, help="resilience: seconds to wait for recovery")
    p.add_argument("--repeats", type=int, default=None, help="sweep: runs per grid point (default: the file's)")


def main(args: argparse.Namespace) -> int:
    import asyncio

    try:
        if args.what == "resilience":
            return asyncio.run(_resilience(args))
        return asyncio.run(_sweep(args))
    except KeyboardInterrupt:
        return 130
    except (ValueError, FileNotFoundError) as error:
        print(f"pysim experiment: {error}", file=sys.stderr)
        return EXIT_USAGE


async def _resilience(args: argparse.Namespace) -> int:
    from . import resilience
    from .progress import Progress

    kinds = list(KINDS) if args.kinds == "all" else [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise ValueError(f"unknown fault kind(s) {', '.join(unknown)}; known: {', '.join(KINDS)}")
    levels = [s.strip() for s in args.severities.split(",") if s.strip()]
    bad = [s for s in levels if s not in resilience.LEVELS]
    if bad or not levels:
        raise ValueError(f"severities must be among {', '.join(resilience.LEVELS)}")
    out = _out_dir(args.out, "resilience")
    progress = Progress(len(kinds) * len(levels), "resilience")
    cells = await resilience.run_matrix(kinds, levels, hold=args.hold, window=args.window, seed=args.seed,
                                        progress=progress)
    recovered = sum(c.recovered for c in cells)
    progress.done(f"{recovered} of {len(cells)} cells recovered")
    resilience.write_csv(cells, out / "resilience.csv")
    text = resilience.table(cells)
    (out / "resilience.md").write_text(text + "\n")
    print(text)
    print(f"\nwritten: {out / 'resilience.csv'}, {out / 'resilience.md'}")
    return 0


async def _sweep(args: argparse.Namespace) -> int:
    from . import sweep

    path = Path(args.what)
    if not path.is_file():
        raise FileNotFoundError(f"no sweep file {path} (or say `resilience`)")
    plan = sweep.load_plan(path)
    if args.repeats is not None:
        plan.repeats = args.repeats
    out = _out_dir(args.out, plan.name)
    result = await sweep.run_plan(plan, out, seed=args.seed)
    print(f"written: {', '.join(str(p) for p in result.files)}")
    return 0


def _out_dir(out: Path | None, name: str) -> Path:
    import time

    out = out or Path("experiments") / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True, exist_ok=True)
    return out
