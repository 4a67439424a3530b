"""Playing a scenario's steps against a running session, one after the other."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from .loader import Scenario
from .steps import Step, StepContext

PASSED, FAILED, NOT_RUN = "passed", "failed", "not run"


@dataclass
class StepResult:
    index: int
    kind: str
    line: int
    description: str
    status: str = NOT_RUN
    detail: str = ""
    seconds: float = 0.0


@dataclass
class ScenarioResult:
    name: str
    steps: list[StepResult] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(step.status == PASSED for step in self.steps)

    @property
    def failure(self) -> StepResult | None:
        return next((step for step in self.steps if step.status == FAILED), None)


class ScenarioPlayer:
    """Plays ``scenario`` against ``session``; ``result`` is filled in as steps end, so a
    caller that cancels the play (a run's timeout) still has what was done."""

    def __init__(self, scenario: Scenario, session: Any, *, skip_faults: bool = False) -> None:
        self.scenario = scenario
        self.result = ScenarioResult(scenario.name, [StepResult(s.index, s.kind, s.line, s.describe())
                                                     for s in scenario.steps])
        self.context = StepContext(session, skip_faults=skip_faults, facts=self.result.facts)
        self.current: StepResult | None = None

    async def play(self) -> ScenarioResult:
        """Run the steps in order; stop at the first that fails."""
        for step, record in zip(self.scenario.steps, self.result.steps):
            self.current = record
            started = time.monotonic()
            try:
                record.detail = await self._run(step)
                record.status = PASSED
            except asyncio.CancelledError:
                record.detail = "cancelled"
                raise
            except (AssertionError, TimeoutError, ConnectionError, RuntimeError, OSError, ValueError) as error:
                record.status, record.detail = FAILED, str(error) or type(error).__name__
                return self.result
            finally:
                record.seconds = time.monotonic() - started
        self.current = None
        return self.result

    async def _run(self, step: Step) -> str:
        return await step.run(self.context)
