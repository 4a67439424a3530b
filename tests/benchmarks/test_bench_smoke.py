"""Smoke tests of the benchmarks: each still runs (``--quick``) and prints its result
block. They check the output's form and its arithmetic, never the speed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


REPO = Path(__file__).resolve().parents[2]
VENV_PYTHON = REPO / ".venv" / "bin" / "python"
PYTHON = str(VENV_PYTHON if VENV_PYTHON.exists() else Path(sys.executable))
HAS_QEMU_TOOLS = all(shutil.which(t) for t in ("qemu-system-arm", "arm-none-eabi-gcc", "make"))

# benchmark -> how many figures its block has
FIGURES = {"bench_at_engine": 4, "bench_publish_latency": 2, "bench_firmware": 3,
           "bench_startup": 1,  # --quick --backend qemu: one board (Renode's start-up alone takes ~15 s)
           "bench_fleet": 2,    # --quick: scripted modules only, in-process and mosquitto
           "bench_observer": 1, "bench_fleet_publish_cost": 1}
EXTRA_ARGS = {"bench_startup": ["--backend", "qemu"]}
NUMBER = r"-?[\d,]+(?:\.\d+)?(?:e[+-]\d+)?"


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PYTHON, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout)


def number(text: str) -> float:
    return float(text.replace(",", ""))


def check_block(output: str, name: str, result: dict) -> None:
    """The printed block of ``name`` has its header, machine, command and, per figure,
    figure / reference / ratio / samples lines that agree with the JSON result."""
    assert re.search(rf"^=== {name}: .+ ===$", output, re.M), output
    assert re.search(r"^machine:\s+\d+ cores, \S+ \d+\.\d+", output, re.M), output
    assert re.search(rf"^command:\s+\S*python\S* benchmarks/{name}\.py --quick( --backend \S+)?$", output, re.M), output
    figures = re.findall(rf"^  figure:\s+({NUMBER}) (\S+)$", output, re.M)
    references = re.findall(rf"^  reference:\s+({NUMBER}) (\S+) \(.+\)$", output, re.M)
    ratios = re.findall(rf"^  ratio:\s+({NUMBER}) \(.+\)$", output, re.M)
    samples = re.findall(r"^  samples:\s+(\d+) \S", output, re.M)
    assert len(figures) == len(references) == len(ratios) == len(samples) == FIGURES[name], output
    assert len(result["figures"]) == FIGURES[name]
    for fig, (value, unit), (reference, ref_unit), ratio, count in zip(
            result["figures"], figures, references, ratios, samples):
        assert unit == ref_unit == fig["unit"]
        assert fig["value"] > 0 and fig["reference"] > 0
        assert number(value) == pytest.approx(fig["value"], rel=0.01, abs=0.01)
        assert number(ratio) == pytest.approx(fig["value"] / fig["reference"], rel=0.01)
        assert int(count) == fig["samples"] > 0


@pytest.mark.parametrize("name", ["bench_at_engine", "bench_publish_latency",
                                  pytest.param("bench_firmware", marks=pytest.mark.qemu),
                                  pytest.param("bench_startup", marks=pytest.mark.qemu), "bench_fleet",
                                  "bench_observer", "bench_fleet_publish_cost"])
def test_benchmark_quick_prints_its_result_block(name, tmp_path):
    result_file = tmp_path / "result.json"
    proc = run(f"benchmarks/{name}.py", "--quick", *EXTRA_ARGS.get(name, []), "--json", str(result_file))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(result_file.read_text())
    assert result["benchmark"] == name
    if name in ("bench_firmware", "bench_startup") and not HAS_QEMU_TOOLS:
        assert re.search(r"^skipped:\s+needs ", proc.stdout, re.M), proc.stdout
        pytest.skip(result["skipped"])
    assert result["skipped"] is None
    check_block(proc.stdout, name, result)


def test_run_all_summarises_and_fails_on_a_crashed_benchmark(tmp_path):
    crash = tmp_path / "bench_crash.py"
    crash.write_text("raise RuntimeError('this benchmark crashes')\n")
    proc = run("benchmarks/run_all.py", "--quick", "--json", str(tmp_path / "all.json"),
               "bench_at_engine", str(crash))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "=== bench_at_engine: " in proc.stdout
    assert "=== bench_crash: FAILED (exit code 1) ===" in proc.stdout
    summary = proc.stdout.split("=== summary")[1]
    rows = [line for line in summary.splitlines() if line.startswith("bench_")]
    assert [row.split()[0] for row in rows] == ["bench_at_engine"] * 4 + ["bench_crash"]
    assert "FAILED: exit code 1" in rows[-1]
    assert "bench_crash" in proc.stderr
    assert [r["benchmark"] for r in json.loads((tmp_path / "all.json").read_text())] == ["bench_at_engine"]


def test_run_all_exits_0_when_every_benchmark_ran():
    proc = run("benchmarks/run_all.py", "--quick", "bench_publish_latency")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = [line for line in proc.stdout.split("=== summary")[1].splitlines() if line.startswith("bench_")]
    assert len(rows) == FIGURES["bench_publish_latency"]
