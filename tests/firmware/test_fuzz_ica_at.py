"""A short seeded pass of the firmware AT library's libFuzzer target (ASan + UBSan).

`make -C firmware fuzz FUZZ_SECONDS=N` is the long run; this pass replays the committed
seed corpus and 20,000 mutated inputs with a fixed seed, and fails on any crash,
sanitizer report or broken invariant.
"""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"


@pytest.mark.skipif(shutil.which("clang") is None or shutil.which("make") is None,
                    reason="needs clang with libFuzzer and make: `make deps` installs clang libclang-rt-dev")
def test_ica_at_fuzz_short_seeded_pass(tmp_path):
    result = subprocess.run(["make", "-s", "-C", str(FIRMWARE), "fuzz", "FUZZ_RUNS=20000", "FUZZ_SEED=1",
                             f"FUZZ_WORK={tmp_path}"],
                            capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    executed = re.search(r"fuzz_ica_at: (\d+) inputs executed, 0 failures", output)
    assert executed and int(executed.group(1)) >= 20000, output
