"""A small sweep end to end (real module, cloud, fault proxy and paho subscriber), its
CSV, plots and HTML report, the report opened in headless Chromium."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pysim.experiment.progress import Progress
from pysim.experiment.sweep import load_plan, run_plan

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LANE_COLOURS = {"TE": (0x2A, 0x7A, 0xB8), "TA": (0xD9, 0x82, 0x2B), "cloud": (0x3A, 0x9A, 0x4A)}


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    import asyncio

    out = tmp_path_factory.mktemp("sweep")
    plan_file = out / "plan.yaml"
    plan_file.write_text("name: small\nmessages: 4\nrepeats: 1\n"
                         "grid:\n  baud: [115200]\n  latency_ms: [0, 40]\n  payload: [32]\n")
    plan = load_plan(plan_file)
    progress = Progress(2, "sweep", live=False, stream=open(out / "progress.txt", "w"))
    result = asyncio.run(run_plan(plan, out, seed=1, progress=progress))
    progress.stream.close()
    return out, result


def test_csv_and_latency_follow_the_grid(sweep):
    out, result = sweep
    rows = list(csv.DictReader((out / "runs.csv").open()))
    assert [(r["latency_ms"], r["sent"], r["delivered"], r["error"]) for r in rows] == [
        ("0", "4", "4", ""), ("40", "4", "4", "")]
    messages = list(csv.DictReader((out / "messages.csv").open()))
    by_point = {lat: [float(m["e2e_ms"]) for m in messages if m["latency_ms"] == lat] for lat in ("0", "40")}
    assert min(by_point["40"]) >= 40          # 40 ms one way on the PUBLISH's path to the subscriber
    assert min(by_point["0"]) < 40
    assert len(messages) == 8 and all(m["delivered"] == "True" for m in messages)
    assert (out / "progress.txt").read_text().startswith("sweep: 2/2 in ")   # quiet: one line at the end


def test_plots_are_pngs(sweep):
    out, _ = sweep
    for name in ("latency.png", "throughput.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_is_self_contained(sweep):
    page = (out := sweep[0] / "report.html").read_text()
    assert not re.search(r'(src|href)="(https?:)?//', page)      # nothing fetched
    assert page.count("data:image/png;base64,") == 2


def chromium(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--no-first-run", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'chromium-profile'}", *args],
        capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (make deps installs it)")
def test_report_in_headless_chromium(sweep, tmp_path):
    from PIL import Image

    out, result = sweep
    url = (out / "report.html").resolve().as_uri()
    dom = chromium("--dump-dom", url, tmp_path=tmp_path).stdout
    drawn = re.findall(r'class="ev lane-(TE|TA|cloud)"', dom)
    lanes = {lane: drawn.count(lane) for lane in LANE_COLOURS}
    assert all(n > 0 for n in lanes.values()), lanes
    assert lanes["TE"] >= 4 + 2                # AUTH, CONN and one AT+IMQTTPUB per message
    assert re.search(r"showing [\d.]+ s to [\d.]+ s, \d+ events", dom)
    assert '<option value="0">baud=115200 lat=0 len=32</option>' in dom
    shot = tmp_path / "report.png"
    chromium("--window-size=1200,700", f"--screenshot={shot}", url, tmp_path=tmp_path)
    image = Image.open(shot).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 20)
    assert len(colours) > 50                   # not blank
    present = {name: sum(n for n, rgb in colours if rgb == colour) for name, colour in LANE_COLOURS.items()}
    assert all(n > 20 for n in present.values()), present     # each lane's events were painted


def test_bad_sweep_files_fail_with_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("grid:\n  speed: [1]\n")
    run = subprocess.run([sys.executable, "-m", "pysim.cli", "experiment", str(bad)], capture_output=True, text=True)
    assert run.returncode == 2
    assert run.stderr.strip().count("\n") == 0 and "unknown grid parameter(s) speed" in run.stderr
    run = subprocess.run([sys.executable, "-m", "pysim.cli", "experiment", str(tmp_path / "nope.yaml")],
                         capture_output=True, text=True)
    assert run.returncode == 2 and "no sweep file" in run.stderr


def test_progress_draws_on_a_terminal_only():
    import io

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True
    tty, log = Tty(), io.StringIO()
    for stream in (tty, log):
        p = Progress(4, "sweep", stream=stream, live=None if stream is log else True)
        p.advance(note="a")
        p.advance(note="b")
        p.done()
    assert "\r" in tty.getvalue() and "[############............] 2/4 b" in tty.getvalue()
    assert log.getvalue().count("\n") == 1 and "\r" not in log.getvalue()
