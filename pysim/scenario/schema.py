"""The scenario schema: typed fields, checked with the file and line of every value."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


class Located:
    """A YAML value with the (1-based) line it starts on."""

    def __init__(self, value: Any, line: int) -> None:
        self.value, self.line = value, line


def unwrap(value: Any) -> Any:
    """``Located`` trees back to plain Python values."""
    if isinstance(value, Located):
        return unwrap(value.value)
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


class ScenarioError(ValueError):
    """A scenario file is wrong; the message starts with ``FILE:LINE:``."""


@dataclass(frozen=True)
class Field:
    """One field of a step (or of the scenario): its type, whether it must be given,
    its default, its allowed values and a one-line description for the docs."""

    type: str                  # str | regex | number | int | bool | list[str]
    required: bool = False
    default: Any = None
    choices: tuple[Any, ...] = ()
    help: str = ""
    minimum: float | None = None


TOP_FIELDS: dict[str, Field] = {
    "name": Field("str", help="a name for reports (default: the file name)"),
    "description": Field("str", help="what the scenario checks"),
    "timeout": Field("number", minimum=0.001, help="seconds the whole run may take (the runner's --timeout wins)"),
    "fail_text": Field("list[regex]", default=[], help="console lines (regexes) that fail the run at once"),
    "steps": Field("list", required=True, help="the steps, played in order"),
}


def _check_type(value: Any, f: Field) -> str | None:
    """None when ``value`` fits ``f``, else what is wrong."""
    if f.type in ("str", "regex"):
        if isinstance(value, (int, float)) and not isinstance(value, bool) and f.type == "str":
            return None      # a bare number where text is wanted: taken as its text
        if not isinstance(value, str):
            return f"expected a string, got {_describe(value)}"
        if f.type == "regex":
            try:
                re.compile(value)
            except re.error as error:
                return f"not a valid regular expression ({error})"
    elif f.type in ("number", "int"):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (f.type == "int" and not isinstance(value, int)):
            return f"expected {'an integer' if f.type == 'int' else 'a number'}, got {_describe(value)}"
        if f.minimum is not None and value < f.minimum:
            return f"must be at least {f.minimum:g}, got {value}"
    elif f.type == "bool":
        if not isinstance(value, bool):
            return f"expected true or false, got {_describe(value)}"
    elif f.type == "list[regex]":
        items = value if isinstance(value, list) else None
        if items is None:
            return f"expected a list of regular expressions, got {_describe(value)}"
        for item in items:
            problem = _check_type(item, Field("regex"))
            if problem:
                return f"item {item!r}: {problem}"
    if f.choices and value not in f.choices:
        return f"must be one of {', '.join(map(str, f.choices))}, got {value!r}"
    return None


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", bool: "a boolean"}.get(type(value), f"{type(value).__name__} {value!r}")


def check_fields(located: dict[str, Any], fields: dict[str, Field], where: str, path: str, label: str) -> dict[str, Any]:
    """The values of ``located`` (``Located`` values by key) checked against ``fields``,
    defaults filled in; raises ``ScenarioError`` at the offending value's line."""
    out: dict[str, Any] = {}
    for key, item in located.items():
        line = item.line if isinstance(item, Located) else None
        at = f"{path}:{line}" if line else where
        if key not in fields:
            raise ScenarioError(f"{at}: {label}: unknown field {key!r}; fields: {', '.join(fields)}")
        f = fields[key]
        if f.type == "list":
            out[key] = item
            continue
        value = unwrap(item)
        problem = _check_type(value, f)
        if problem:
            raise ScenarioError(f"{at}: {label}: field {key!r}: {problem}")
        out[key] = str(value) if f.type == "str" and not isinstance(value, str) else value
    for key, f in fields.items():
        if key not in out:
            if f.required:
                raise ScenarioError(f"{where}: {label}: missing field {key!r}")
            out[key] = list(f.default) if isinstance(f.default, list) else f.default
    return out
