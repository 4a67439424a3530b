"""Runs robot/renode_demo.robot (the demo firmware under Renode) and checks every test in it
ran and passed; test_robot_suites.py leaves that suite (tag ``renode``) to this test."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from robot.api import ExecutionResult
from robot.api import TestSuiteBuilder as SuiteBuilder   # not collected by pytest as a test class

from pysim.emulators import RenodeEmulator

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "robot" / "renode_demo.robot"

pytestmark = [
    pytest.mark.renode,
    pytest.mark.skipif(not RenodeEmulator.available(), reason=str(RenodeEmulator.why_unavailable())),
    pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="needs arm-none-eabi-gcc (make deps)"),
]


def test_renode_demo_suite_passes(tmp_path):
    subprocess.run(["make", "-s", "-C", str(ROOT / "firmware"), "build/demo.elf"], check=True, capture_output=True)
    run = subprocess.run([sys.executable, "-m", "robot", "--outputdir", str(tmp_path), "--consolewidth", "100",
                          str(SUITE)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    stats = ExecutionResult(str(tmp_path / "output.xml")).statistics.total
    assert (stats.failed, stats.skipped) == (0, 0)
    assert stats.passed == SuiteBuilder().build(str(SUITE)).test_count > 0
