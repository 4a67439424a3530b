"""Scenario files: the schema's errors name the file, the line and what is wrong."""

from __future__ import annotations

import pytest

from pysim.scenario import STEPS, ScenarioError, Step, builtin_scenario, load_scenario, parse_scenario, register_step
from pysim.scenario.schema import Field


def error_of(text: str) -> str:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "s.yaml")
    return str(caught.value)


@pytest.mark.parametrize("text, message", [
    ("", "s.yaml:1: empty scenario: expected a mapping with `steps:`"),
    ("- a\n", "s.yaml:1: a scenario is a mapping with `steps:`, not a seq"),
    ("name: x\n", "s.yaml:1: scenario: missing field 'steps'"),
    ("steps: []\n", "s.yaml:1: `steps` must be a non-empty list of steps"),
    ("steps:\n  - wait: x\n", "s.yaml:2: step 1: unknown step kind 'wait'; known: wait_console,"),
    ("steps:\n  - {wait_console: x, delay: 1}\n", "s.yaml:2: step 1: a step is a mapping with one key"),
    ("steps:\n  - delay: 1\n  - wait_console:\n      regex: x\n      timout: 3\n",
     "s.yaml:5: step 2 (wait_console): unknown field 'timout'; fields: regex, timeout"),
    ("steps:\n  - wait_console: {timeout: 3}\n", "s.yaml:2: step 1 (wait_console): missing field 'regex'"),
    ("steps:\n  - wait_console: '(unclosed'\n",
     "s.yaml:2: step 1 (wait_console): field 'regex': not a valid regular expression"),
    ("steps:\n  - wait_console: {regex: x, timeout: soon}\n",
     "s.yaml:2: step 1 (wait_console): field 'timeout': expected a number, got str 'soon'"),
    ("steps:\n  - delay: -1\n", "s.yaml:2: step 1 (delay): field 'seconds': must be at least 0, got -1"),
    ("steps:\n  - publish: {topic: t, qos: 3}\n", "s.yaml:2: step 1 (publish): field 'qos': must be one of 0, 1, 2, got 3"),
    ("steps:\n  - push_ota: {version: '1'}\n", "s.yaml:2: step 1 (push_ota): give exactly one of `size` and `file`"),
    ("steps:\n  - inject_fault: {fault: melt}\n", "s.yaml:2: step 1 (inject_fault): unknown fault 'melt'; known:"),
    ("steps:\n  - inject_fault: {fault: corrupt_ota_block}\n",
     "s.yaml:2: step 1 (inject_fault): missing field 'block'"),
    ("timeout: 0\nsteps:\n  - delay: 1\n", "s.yaml:1: scenario: field 'timeout': must be at least 0.001"),
    ("steps:\n  - delay: [1\n", "s.yaml:3: not valid YAML"),
])
def test_schema_errors_name_file_line_and_problem(text, message):
    assert error_of(text).startswith(message)


def test_a_missing_file_is_one_clear_error(tmp_path):
    with pytest.raises(ScenarioError, match=r"nope.yaml: cannot read the scenario: No such file"):
        load_scenario(tmp_path / "nope.yaml")


def test_shorthand_defaults_and_placeholders():
    scenario = parse_scenario("name: n\nfail_text: ['PANIC']\nsteps:\n  - wait_console: '^READY'\n"
                              "  - expect_message: /${pk}/${dn}/up\n", "s.yaml")
    wait, message = scenario.steps
    assert (wait.args, wait.line) == ({"regex": "^READY", "timeout": 10.0}, 4)
    assert message.args == {"topic": "/${pk}/${dn}/up", "payload": None, "timeout": 10.0}
    assert scenario.fail_text == ["PANIC"] and scenario.name == "n"


def test_the_shipped_demo_scenario_is_valid():
    scenario = load_scenario(builtin_scenario("demo"))
    assert scenario.name == "demo" and scenario.steps[-1].kind == "wait_exit"


def test_the_step_table_takes_new_kinds():
    class Beep(Step):
        kind = "beep_for_test"
        main = "times"
        fields = {"times": Field("int", required=True)}

        async def run(self, ctx):
            return "beep" * self.args["times"]

    register_step(Beep)
    try:
        step, = parse_scenario("steps:\n  - beep_for_test: 2\n", "s.yaml").steps
        assert isinstance(step, Beep) and step.args == {"times": 2}
        with pytest.raises(ValueError, match="registered already"):
            register_step(Beep)
    finally:
        del STEPS["beep_for_test"]
