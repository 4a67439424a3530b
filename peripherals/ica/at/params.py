"""Parsing of AT command arguments (DECISIONS §6-8).

Strings are double-quoted, with ``\\"`` for a quote and ``\\\\`` for a backslash
inside; numbers are bare. Spaces around commas are allowed. An unquoted string
or a quoted number is accepted but reported as a conformance warning.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from .errors import bad_params


@dataclass(frozen=True)
class Arg:
    """One argument as written: its text (unescaped) and whether it was quoted."""

    text: str
    quoted: bool


Warn = Callable[[str], None]


def split_args(text: str) -> list[Arg]:
    """Split an argument list into Args; raises CmeError(50) on bad syntax."""
    args: list[Arg] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] == '"':
            i += 1
            out: list[str] = []
            while True:
                if i >= n:
                    raise bad_params("unterminated string")
                c = text[i]
                if c == "\\" and i + 1 < n and text[i + 1] in '"\\':
                    out.append(text[i + 1])
                    i += 2
                    continue
                if c == '"':
                    i += 1
                    break
                out.append(c)
                i += 1
            args.append(Arg("".join(out), True))
            while i < n and text[i] in " \t":
                i += 1
            if i < n and text[i] != ",":
                raise bad_params(f"unexpected {text[i]!r} after a string")
        else:
            start = i
            while i < n and text[i] != ",":
                if text[i] == '"':
                    raise bad_params("quote inside an unquoted argument")
                i += 1
            args.append(Arg(text[start:i].strip(" \t"), False))
        if i >= n:
            return args
        i += 1  # the comma


def quote(value: str) -> str:
    """A string parameter as the module writes it: quoted, with \\" and \\\\."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def as_str(arg: Arg, name: str, warn: Warn, *, allow_empty: bool = True) -> str:
    if not arg.quoted:
        if arg.text == "":
            if allow_empty:
                return ""
            raise bad_params(f"{name} is missing")
        warn(f"{name} should be a quoted string, got {arg.text}")
    if not allow_empty and arg.text == "":
        raise bad_params(f"{name} is empty")
    return arg.text


def as_int(arg: Arg, name: str, warn: Warn, lo: int | None = None, hi: int | None = None,
           choices: tuple[int, ...] | None = None) -> int:
    if arg.quoted:
        warn(f"{name} should be a bare number, got \"{arg.text}\"")
    text = arg.text.strip()
    if not text or not (text.lstrip("+-").isdigit() and text[0] in "+-0123456789"):
        raise bad_params(f"{name} must be an integer, got {arg.text!r}")
    value = int(text)
    if choices is not None and value not in choices:
        raise bad_params(f"{name} must be one of {', '.join(map(str, choices))}, got {value}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise bad_params(f"{name} must be in {lo}..{hi}, got {value}")
    return value


def as_float(arg: Arg, name: str, warn: Warn, lo: float, hi: float) -> float:
    if arg.quoted:
        warn(f"{name} should be a bare number, got \"{arg.text}\"")
    try:
        value = float(arg.text)
    except ValueError:
        raise bad_params(f"{name} must be a number, got {arg.text!r}") from None
    if not math.isfinite(value) or not lo <= value <= hi:
        raise bad_params(f"{name} must be in {lo:g}..{hi:g}, got {arg.text}")
    return value


def expect_count(args: list[Arg], lo: int, hi: int | None = None) -> None:
    hi = lo if hi is None else hi
    if not lo <= len(args) <= hi:
        want = str(lo) if lo == hi else f"{lo} to {hi}"
        raise bad_params(f"expected {want} parameters, got {len(args)}")


def format_number(value: float | int) -> str:
    """Numbers in responses: integers bare, others without trailing zeros."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def from_at(text: str) -> str:
    """An AT string (a latin-1 view of the TE's bytes) as the Unicode text it encodes in UTF-8."""
    return text.encode("latin-1").decode("utf-8", errors="replace")


def to_at(text: str) -> str:
    """Unicode text (a topic, a path) as an AT string: its UTF-8 bytes viewed as latin-1."""
    return text.encode("utf-8").decode("latin-1")
