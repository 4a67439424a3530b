"""Run every benchmark (``benchmarks/bench_*.py``), each in its own process, print
its result block, then a summary table of all figures.

    .venv/bin/python benchmarks/run_all.py [--quick] [--json FILE] [BENCHMARK ...]

BENCHMARK: a script name (``bench_at_engine``, with or without ``.py``) or path;
default: all of them.

Exits 1 when a benchmark crashed, hung (``--timeout``) or gave no result; a slow
figure is never a failure.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from benchlib import REPO, fmt, machine

HERE = Path(__file__).resolve().parent


def benchmarks(names: list[str]) -> list[Path]:
    """The scripts named (names or paths), or every ``bench_*.py`` here."""
    if not names:
        return sorted(HERE.glob("bench_*.py"))
    scripts = []
    for name in names:
        path = Path(name) if name.endswith(".py") and Path(name).is_file() else HERE / f"{Path(name).stem}.py"
        if not path.is_file():
            raise SystemExit(f"run_all: no benchmark {name!r} (have: {', '.join(p.stem for p in benchmarks([]))})")
        scripts.append(path.resolve())
    return scripts


def run_one(script: Path, quick: bool, timeout: float, out_dir: Path) -> tuple[dict | None, str]:
    """Run one benchmark; (its JSON result or None, why it failed)."""
    result_file = out_dir / f"{script.stem}.json"
    argv = [sys.executable, str(script), "--json", str(result_file)]
    if quick:
        argv.append("--quick")
    try:
        proc = subprocess.run(argv, cwd=REPO, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"no result within {timeout:g} s"
    if proc.returncode != 0:
        return None, f"exit code {proc.returncode}"
    if not result_file.is_file():
        return None, "exit 0 but no result written"
    return json.loads(result_file.read_text()), ""


def summary(results: dict[str, dict | None], failures: dict[str, str]) -> list[str]:
    rows = [("benchmark", "figure", "value", "reference", "ratio", "samples")]
    for name, result in results.items():
        if result is None:
            rows.append((name, f"FAILED: {failures[name]}", "", "", "", ""))
        elif result["skipped"]:
            rows.append((name, f"skipped: {result['skipped']}", "", "", "", ""))
        else:
            for fig in result["figures"]:
                rows.append((name, fig["name"], f"{fmt(fig['value'])} {fig['unit']}",
                             f"{fmt(fig['reference'])} {fig['unit']}", f"{fig['ratio']:.3g}",
                             str(fig["samples"])))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="run every benchmark and summarise")
    parser.add_argument("--quick", action="store_true", help="pass --quick to each benchmark")
    parser.add_argument("--json", metavar="FILE", type=Path, help="write all results as one JSON list")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds a benchmark may take")
    parser.add_argument("names", nargs="*", metavar="BENCHMARK", help="run only these (names or paths)")
    args = parser.parse_args(argv)

    results: dict[str, dict | None] = {}
    failures: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="bench-results-") as out_dir:
        for script in benchmarks(args.names):
            result, why = run_one(script, args.quick, args.timeout, Path(out_dir))
            results[script.stem] = result
            if result is None:
                failures[script.stem] = why
                print(f"=== {script.stem}: FAILED ({why}) ===", flush=True)
            print(flush=True)
    m = machine()
    print(f"=== summary ({m['cores']} cores, {m['python']}{', --quick' if args.quick else ''}) ===")
    print("\n".join(summary(results, failures)))
    if args.json is not None:
        args.json.write_text(json.dumps([r for r in results.values() if r is not None], indent=2) + "\n")
    if failures:
        print(f"\n{len(failures)} benchmark(s) failed: {', '.join(failures)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
