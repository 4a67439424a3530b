"""Reading a scenario file: YAML with line numbers, checked against the step table.

Every error is a :class:`ScenarioError` whose message starts ``FILE:LINE:`` and says
what is wrong, e.g. ``demo.yaml:12: step 4 (wait_console): unknown field 'timout';
fields: regex, timeout``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .schema import TOP_FIELDS, Located, ScenarioError, check_fields, unwrap
from .steps import STEPS, Step


@dataclass
class Scenario:
    """A validated scenario: its steps (built from the step table) and top-level settings."""

    path: str
    name: str
    description: str = ""
    timeout: float | None = None
    fail_text: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)


def _plain(node: yaml.Node, constructor: yaml.constructor.SafeConstructor) -> Any:
    """The node as Python values, each mapping value and list item wrapped in ``Located``."""
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Located] = {}
        for key_node, value_node in node.value:
            key = constructor.construct_object(key_node, deep=True)
            out[key] = Located(_plain(value_node, constructor), key_node.start_mark.line + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [Located(_plain(item, constructor), item.start_mark.line + 1) for item in node.value]
    return constructor.construct_object(node, deep=True)


def parse_scenario(text: str, path: str = "<scenario>") -> Scenario:
    """Parse and validate scenario text; raises ``ScenarioError`` naming file and line."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else path
        raise ScenarioError(f"{where}: not valid YAML: {getattr(error, 'problem', None) or error}") from None
    if node is None:
        raise ScenarioError(f"{path}:1: empty scenario: expected a mapping with `steps:`")
    if not isinstance(node, yaml.MappingNode):
        raise ScenarioError(f"{path}:{node.start_mark.line + 1}: a scenario is a mapping with `steps:`, "
                            f"not a {node.tag.rsplit(':', 1)[-1]}")
    loader = yaml.SafeLoader("")
    try:
        top = _plain(node, loader)
    except yaml.YAMLError as error:
        raise ScenarioError(f"{path}: {error}") from None
    settings = check_fields(top, TOP_FIELDS, f"{path}:{node.start_mark.line + 1}", path, "scenario")
    steps_value = top["steps"]
    if not isinstance(steps_value.value, list) or not steps_value.value:
        raise ScenarioError(f"{path}:{steps_value.line}: `steps` must be a non-empty list of steps")
    steps = [_step(item, index, path) for index, item in enumerate(steps_value.value, 1)]
    return Scenario(path=path, name=settings.get("name") or Path(path).stem,
                    description=settings.get("description", ""), timeout=settings.get("timeout"),
                    fail_text=list(settings.get("fail_text") or []), steps=steps)


def _step(item: Located, index: int, path: str) -> Step:
    where = f"{path}:{item.line}"
    if not isinstance(item.value, dict) or len(item.value) != 1:
        raise ScenarioError(f"{where}: step {index}: a step is a mapping with one key, its kind "
                            f"(one of: {', '.join(STEPS)})")
    (kind, body), = item.value.items()
    cls = STEPS.get(kind)
    if cls is None:
        raise ScenarioError(f"{where}: step {index}: unknown step kind {kind!r}; known: {', '.join(STEPS)}")
    label = f"step {index} ({kind})"
    if not isinstance(body.value, dict):      # shorthand: the value of the step's main field
        if cls.main is None or body.value is None:
            raise ScenarioError(f"{path}:{body.line}: {label}: expected a mapping of "
                                f"{', '.join(cls.fields) or 'no fields'}")
        body = Located({cls.main: Located(body.value, body.line)}, body.line)
    try:
        fields = cls.schema(body.value)
    except ScenarioError as error:
        raise ScenarioError(f"{path}:{body.line}: {label}: {error}") from None
    args = check_fields(body.value, fields, f"{path}:{body.line}", path, label)
    try:
        return cls(args, index=index, line=item.line, path=path)
    except ValueError as error:
        raise ScenarioError(f"{where}: {label}: {error}") from None


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as error:
        raise ScenarioError(f"{p}: cannot read the scenario: {error.strerror or error}") from None
    return parse_scenario(text, str(p))
