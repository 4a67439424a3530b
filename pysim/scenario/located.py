"""Scenario values with the YAML line they start on, and back to plain values."""

from __future__ import annotations

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
