"""The example project's scenario (examples/scenarios/smoke.yaml) against its firmware:
write_console reaches a firmware that reads its console, wait_exit sees its exit code."""

from __future__ import annotations

from pathlib import Path

from pysim.runner import RunChecks, run_firmware
from pysim.scenario import load_scenario
from pysim.session import Session, SessionOptions

ROOT = Path(__file__).resolve().parents[2]
DEVICE = ("a1thermoPK", "thermostat-01", "thermo-secret-01")


async def test_smoke_scenario_writes_the_console_and_sees_the_exit(thermostat_elf, tmp_path):
    scenario = load_scenario(ROOT / "examples" / "scenarios" / "smoke.yaml")
    session = Session(SessionOptions(firmware=thermostat_elf, device=DEVICE, workdir=tmp_path))
    await session.start()
    try:
        result = await run_firmware(session, RunChecks(scenario=scenario, timeout=60))
    finally:
        await session.stop()
    assert result.passed, result.summary()
    assert result.firmware_exit_code == 5
    kinds = [step.kind for step in result.steps]
    assert kinds.count("write_console") == 2 and kinds[-1] == "wait_exit"
    trace = "\n".join(session.trace_lines)
    assert 'TE->TA AT+IMQTTPUB="/a1thermoPK/thermostat-01/user/temp",1,' in trace   # typed on the console
    assert "console BYE" in trace
