"""Scenario files: a firmware test as YAML steps (see docs/scenarios.md).

    scenario = load_scenario("smoke.yaml")            # ScenarioError: FILE:LINE: what is wrong
    result = await ScenarioPlayer(scenario, session).play()

``STEPS`` is the table of step kinds (``register_step`` adds one), ``FAULTS`` the
table of faults the ``inject_fault`` step knows (``register_fault`` adds one).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from .loader import Scenario, load_scenario, parse_scenario
from .player import FAILED, NOT_RUN, PASSED, ScenarioPlayer, ScenarioResult, StepResult
from .schema import Field, ScenarioError
from .steps import FAULTS, STEPS, FaultKind, Step, StepContext, register_fault, register_step


def builtin_scenario(name: str) -> Path:
    """The path of a scenario shipped with the package (``pysim/scenarios/<name>.yaml``)."""
    return Path(str(resources.files("pysim") / "scenarios" / f"{name}.yaml"))


__all__ = [
    "FAILED", "FAULTS", "NOT_RUN", "PASSED", "STEPS", "FaultKind", "Field", "Scenario", "ScenarioError",
    "ScenarioPlayer", "ScenarioResult", "Step", "StepContext", "StepResult", "builtin_scenario",
    "load_scenario", "parse_scenario", "register_fault", "register_step",
]
