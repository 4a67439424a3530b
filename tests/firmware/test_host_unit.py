"""Runs the firmware's host unit tests (the ICA AT client library, built with gcc)."""
import shutil
import subprocess
from pathlib import Path

import pytest

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"


@pytest.mark.skipif(shutil.which("gcc") is None or shutil.which("make") is None,
                    reason="needs gcc and make")
def test_ica_at_host_unit_tests_pass():
    result = subprocess.run(["make", "-s", "-C", str(FIRMWARE), "host-test"],
                            capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    last = result.stdout.strip().splitlines()[-1]
    assert last.endswith(" 0 failed"), output
