"""Faults from a scenario file: every kind is an inject_fault fault, through the same parser."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from pysim.faults import KINDS
from pysim.scenario import FAULTS, ScenarioError, parse_scenario
from pysim.session import DEMO_FIRMWARE


def test_every_kind_is_a_scenario_fault_with_its_parameters():
    for kind, spec in KINDS.items():
        assert kind in FAULTS and set(spec.params) <= set(FAULTS[kind].fields)
    assert FAULTS["net.down"].fields["service"].choices == ("all", "mqtt", "mqtts", "coap", "http")


def test_a_bad_fault_field_is_refused_when_the_file_is_read():
    with pytest.raises(ScenarioError, match="service"):
        parse_scenario("steps:\n  - inject_fault: {fault: net.down, service: ftp}\n", "x.yaml")


@pytest.mark.skipif(shutil.which("qemu-system-arm") is None or not DEMO_FIRMWARE.is_file(),
                    reason="needs qemu-system-arm and firmware/build/demo.elf (make firmware)")
def test_scenario_injects_module_and_network_faults(tmp_path):
    scenario = tmp_path / "cme.yaml"
    scenario.write_text(
        "name: cme-on-publish\nsteps:\n"
        "  - wait_console: {regex: '^STEP http_request ok', timeout: 30}\n"
        "  - inject_fault: {fault: net.latency, ms: 20, service: mqtt}\n"
        "  - inject_fault: {fault: module.cme, cmd: +IMQTTPUB, error: 30}\n"
        "  - wait_console: {regex: '^LOG telemetry \\d+ lost \\+CME ERROR:30$', timeout: 30}\n")
    run = subprocess.run([sys.executable, "-m", "pysim.cli", "run", "--quiet", "--scenario", str(scenario),
                          "--trace-file", str(tmp_path / "trace.txt")], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "inject_fault module.cme" in run.stdout
    trace = (tmp_path / "trace.txt").read_text()
    assert "fault.net.on" in trace and "+CME ERROR:30" in trace
