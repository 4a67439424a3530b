"""The short seeded pass of the coverage-guided fuzzers (the long run is ``make fuzz``):
each runs a fixed number of inputs from its committed corpus and prints its counts."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytest.importorskip("atheris")

FUZZERS = [("fuzz.fuzz_at_engine", "at_engine", ["-dict=fuzz/at.dict"]),
           ("fuzz.fuzz_mqtt_codec", "mqtt_codec", [])]


@pytest.mark.parametrize("module, corpus, extra", FUZZERS)
def test_short_seeded_pass(tmp_path, module, corpus, extra):
    work = tmp_path / "work"
    shutil.copytree(ROOT / "fuzz" / "corpus" / corpus, work)
    result = subprocess.run([sys.executable, "-m", module, "-runs=400", "-seed=1", *extra,
                             f"-artifact_prefix={tmp_path}/", str(work)],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    counts = re.search(r"^fuzz_\w+: (\d+) inputs.*0 invariant failures", result.stdout, re.M)
    assert counts and int(counts.group(1)) == 400, result.stdout[-1000:]
