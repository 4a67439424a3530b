"""The user docs of the runner, the scenario format and the plugin say what the code does."""

from __future__ import annotations

import re
from pathlib import Path

from pysim.cli import EXIT_CODES, build_parser
from pysim.scenario import FAULTS, STEPS

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_scenarios_doc_names_every_step_kind_field_and_fault():
    text = (DOCS / "scenarios.md").read_text()
    for kind, cls in STEPS.items():
        row = next((line for line in text.splitlines() if line.startswith(f"| `{kind}` |")), None)
        assert row, f"docs/scenarios.md has no row for step {kind}"
        for name in cls.fields:
            assert f"`{name}`" in row, f"docs/scenarios.md: step {kind} does not name its field {name}"
    for fault, kind in FAULTS.items():
        row = next((line for line in text.splitlines() if line.startswith(f"| `{fault}` |")), None)
        assert row and all(f"`{name}`" in row for name in kind.fields), fault


def test_runner_doc_lists_every_exit_code_and_option():
    text = (DOCS / "runner.md").read_text()
    for code in EXIT_CODES:
        assert re.search(rf"^\| {code} \|", text, re.M), f"docs/runner.md: exit code {code}"
    run = next(a for a in build_parser()._subparsers._group_actions[0].choices.items() if a[0] == "run")[1]
    for action in run._actions:
        for option in action.option_strings:
            if option.startswith("--") and option != "--help":
                assert f"`{option}" in text, f"docs/runner.md does not mention {option}"


def test_module_behaviour_doc_settles_every_point():
    text = (DOCS / "module-behaviour.md").read_text()
    numbered = {int(n) for n in re.findall(r"\*\*§(\d+)", text)}
    assert numbered == set(range(1, 24))
    assert "../" not in text
