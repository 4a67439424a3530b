"""``pysim run`` as a CI runner: one firmware run judged by its console, a scenario
and its exit code, with a verdict for people (summary), CI (JSON, JUnit XML) and a
trace file.

    result = await run_firmware(session, RunChecks(expect_text=["READY"], timeout=30))
    result.outcome      # "pass", "fail" or "timeout"

A run ends as soon as its outcome is known:

* a ``fail_text`` line on the console: fail, at once;
* the scenario's first failing step: fail;
* everything asked for done (the scenario's steps, every ``expect_text`` seen): pass;
* nothing asked for: the firmware's exit code decides (0 pass, else fail);
* the firmware exits before an ``expect_text`` was seen: fail;
* ``timeout`` seconds pass first: timeout.
"""

from __future__ import annotations

import asyncio
import re
import time
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pysim.expect import BufferedLine
from pysim.scenario import FAILED, NOT_RUN, PASSED, Scenario, ScenarioPlayer, StepResult

PASS, FAIL, TIMEOUT = "pass", "fail", "timeout"


@dataclass
class RunChecks:
    """What the run must show."""

    expect_text: list[str] = field(default_factory=list)   # substrings every one of which must appear
    fail_text: list[str] = field(default_factory=list)     # substrings that fail the run at once
    scenario: Scenario | None = None
    timeout: float = 60.0
    skip_faults: bool = False


@dataclass
class RunResult:
    outcome: str
    reason: str
    firmware_exit_code: int | None = None
    seconds: float = 0.0
    expect_text: dict[str, bool] = field(default_factory=dict)
    fail_text_seen: str | None = None
    scenario: str | None = None
    steps: list[StepResult] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.outcome == PASS

    def as_dict(self, exit_code: int | None = None) -> dict[str, Any]:
        data = asdict(self)
        data["passed"] = self.passed
        if exit_code is not None:
            data["exit_code"] = exit_code
        return data

    def summary(self) -> str:
        lines = [f"verdict: {self.outcome.upper()} ({self.reason})",
                 f"firmware exit code: {self.firmware_exit_code if self.firmware_exit_code is not None else 'still running'}"]
        if self.scenario:
            lines.append(f"scenario {self.scenario}:")
        for step in self.steps:
            detail = f": {step.detail}" if step.detail and step.status != PASSED else ""
            lines.append(f"  step {step.index:2d} {step.status:7s} {step.description}{detail}")
        for text, seen in self.expect_text.items():
            lines.append(f"  expect-text {text!r}: {'seen' if seen else 'NOT seen'}")
        for key, value in self.facts.items():
            lines.append(f"  {key}: {value}")
        lines.append(f"  run time: {self.seconds:.2f} s")
        return "\n".join(lines)


class _Watch:
    """Console listener: which expect-texts were seen, and the first fail-text."""

    def __init__(self, checks: RunChecks) -> None:
        self.seen = {text: False for text in checks.expect_text}
        self.fail_patterns = [(text, re.compile(re.escape(text))) for text in checks.fail_text]
        if checks.scenario is not None:
            self.fail_patterns += [(text, re.compile(text)) for text in checks.scenario.fail_text]
        self.failed: str | None = None
        self.all_seen = asyncio.Event()
        self.fail_seen = asyncio.Event()
        if all(self.seen.values()):
            self.all_seen.set()

    def line(self, line: BufferedLine) -> None:
        for text, seen in self.seen.items():
            if not seen and text in line.text:
                self.seen[text] = True
        if self.seen and all(self.seen.values()):
            self.all_seen.set()
        if self.failed is None:
            for text, pattern in self.fail_patterns:
                if pattern.search(line.text):
                    self.failed = f"fail-text {text!r} on the console: {line.text!r}"
                    self.fail_seen.set()
                    break


async def run_firmware(session: Any, checks: RunChecks) -> RunResult:
    """Judge a started session by ``checks``; the caller stops the session."""
    started = time.monotonic()
    scenario = checks.scenario
    watch = _Watch(checks)
    for line in session.console.lines:
        watch.line(line)
    session.console.listeners.append(watch.line)
    player = ScenarioPlayer(scenario, session, skip_faults=checks.skip_faults) if scenario else None
    tasks: dict[str, asyncio.Future[Any]] = {
        "fail": asyncio.ensure_future(watch.fail_seen.wait()),
        "exit": asyncio.ensure_future(session.wait_exit(None)),
        "expect": asyncio.ensure_future(watch.all_seen.wait()),
    }
    if player is not None:
        tasks["scenario"] = asyncio.ensure_future(player.play())
    deadline = started + checks.timeout
    outcome, reason = TIMEOUT, f"no verdict within {checks.timeout:g} s"
    try:
        while True:
            remaining = deadline - time.monotonic()
            pending = [t for t in tasks.values() if not t.done()]
            if remaining <= 0 or not pending:
                break
            await asyncio.wait(pending, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            verdict = _decide(tasks, watch, checks, player)
            if verdict is not None:
                outcome, reason = verdict
                break
        if outcome == TIMEOUT:
            reason = _timeout_reason(checks, watch, player)
    finally:
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
        if watch.line in session.console.listeners:
            session.console.listeners.remove(watch.line)
    code = tasks["exit"].result() if tasks["exit"].done() and not tasks["exit"].cancelled() else None
    result = RunResult(outcome, reason, firmware_exit_code=code, seconds=time.monotonic() - started,
                       expect_text=dict(watch.seen), fail_text_seen=watch.failed)
    if player is not None:
        result.scenario = scenario.name
        result.steps = player.result.steps
        result.facts = player.result.facts
    return result


def _decide(tasks: dict[str, asyncio.Future[Any]], watch: _Watch, checks: RunChecks,
            player: ScenarioPlayer | None) -> tuple[str, str] | None:
    """The outcome once it is known, else None."""
    if watch.failed:
        return FAIL, watch.failed
    scenario_task = tasks.get("scenario")
    if scenario_task is not None and scenario_task.done():
        failure = scenario_task.result().failure
        if failure is not None:
            return FAIL, f"step {failure.index} ({failure.description}, line {failure.line}) failed: {failure.detail}"
    scenario_done = scenario_task is None or scenario_task.done()
    expect_done = watch.all_seen.is_set()
    exit_task = tasks["exit"]
    if checks.expect_text or scenario_task is not None:
        if scenario_done and expect_done:
            return PASS, "every check passed"
        if exit_task.done() and not expect_done and (scenario_task is None or scenario_done):
            missing = [text for text, seen in watch.seen.items() if not seen]
            return FAIL, f"the firmware exited with {exit_task.result()} before {missing[0]!r} was seen on the console"
        return None
    if exit_task.done():
        code = exit_task.result()
        return (PASS, "the firmware exited with 0") if code == 0 else (FAIL, f"the firmware exited with {code}")
    return None


def _timeout_reason(checks: RunChecks, watch: _Watch, player: ScenarioPlayer | None) -> str:
    waiting = []
    if player is not None and player.current is not None:
        step = player.current
        waiting.append(f"step {step.index} ({step.description}, line {step.line})")
    waiting += [f"expect-text {text!r}" for text, seen in watch.seen.items() if not seen]
    if not waiting:
        waiting.append("the firmware's exit")
    return f"timed out after {checks.timeout:g} s waiting for {', '.join(waiting)}"


def write_junit(path: Path, result: RunResult, *, name: str, trace: str) -> None:
    """A JUnit XML file: one test case per scenario step, expect-text and fail-text check,
    and one for the run as a whole; the trace as the suite's system-out."""
    cases: list[tuple[str, str | None, str | None]] = []   # (name, failure message, skipped)
    for step in result.steps:
        label = f"step {step.index:02d} {step.description} (line {step.line})"
        if step.status == FAILED:
            cases.append((label, step.detail, None))
        elif step.status == NOT_RUN:
            cases.append((label, None, "not run"))
        else:
            cases.append((label, None, None))
    for text, seen in result.expect_text.items():
        cases.append((f"expect-text {text!r}", None if seen else "not seen on the console", None))
    if result.fail_text_seen:
        cases.append(("fail-text", result.fail_text_seen, None))
    cases.append(("run", None if result.passed else f"{result.outcome}: {result.reason}", None))
    suite = ET.Element("testsuite", name=name, tests=str(len(cases)),
                       failures=str(sum(1 for c in cases if c[1])), skipped=str(sum(1 for c in cases if c[2])),
                       time=f"{result.seconds:.3f}")
    for case_name, failure, skipped in cases:
        case = ET.SubElement(suite, "testcase", classname=name, name=case_name)
        if failure:
            ET.SubElement(case, "failure", message=failure.splitlines()[0][:500]).text = failure
        elif skipped:
            ET.SubElement(case, "skipped", message=skipped)
    ET.SubElement(suite, "system-out").text = trace
    root = ET.Element("testsuites")
    root.append(suite)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
