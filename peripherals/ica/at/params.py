"""Reading AT command arguments as typed values (DECISIONS §6-8).

Strings are double-quoted, with ``\\"`` for a quote and ``\\\\`` for a backslash
inside; numbers are bare ASCII digits with an optional sign. Spaces around commas
are allowed. An unquoted string or a quoted number is accepted but reported as a
conformance warning. :func:`read_args` reads a command's arguments as its
catalogue entry declares them.
"""

from __future__ import annotations

import functools
import math
import re
from typing import TYPE_CHECKING, Any, Callable, Sequence

from .catalogue import Kind, Param
from .catalogue import command as catalogue_command
from .errors import BadParams
from .fields import Arg, quote, split_fields

if TYPE_CHECKING:
    from .events import Command

Warn = Callable[[str], None]
# ASCII only: str.isdigit() also takes superscripts and other scripts' digits
_INTEGER = re.compile(r"[+-]?[0-9]+\Z")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")


def split_args(text: str) -> list[Arg]:
    """Split an argument list into Args; raises BadParams (+CME ERROR:50) on bad syntax."""
    return split_fields(text, strict=True)


def as_str(arg: Arg, name: str, warn: Warn, *, allow_empty: bool = True) -> str:
    if not arg.quoted:
        if arg.text == "":
            if allow_empty:
                return ""
            raise BadParams(f"{name} is missing")
        warn(f"{name} should be a quoted string, got {arg.text}")
    if not allow_empty and arg.text == "":
        raise BadParams(f"{name} is empty")
    return arg.text


def _number(arg: Arg, name: str, warn: Warn, form: re.Pattern[str], what: str) -> str:
    """The text of a bare number of ``form`` (a quoted one is warned about); BadParams otherwise."""
    if arg.quoted:
        warn(f"{name} should be a bare number, got \"{arg.text}\"")
    text = arg.text.strip()
    if not form.match(text):
        raise BadParams(f"{name} must be {what}, got {arg.text!r}")
    return text


def as_int(arg: Arg, name: str, warn: Warn, lo: int | None = None, hi: int | None = None,
           choices: tuple[int, ...] | None = None) -> int:
    value = int(_number(arg, name, warn, _INTEGER, "an integer"))
    if choices and value not in choices:
        raise BadParams(f"{name} must be one of {', '.join(map(str, choices))}, got {value}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise BadParams(f"{name} must be in {lo}..{hi}, got {value}")
    return value


def as_float(arg: Arg, name: str, warn: Warn, lo: float, hi: float) -> float:
    value = float(_number(arg, name, warn, _DECIMAL, "a number"))
    if not math.isfinite(value) or not lo <= value <= hi:
        raise BadParams(f"{name} must be in {lo:g}..{hi:g}, got {arg.text}")
    return value


def expect_count(args: Sequence[Arg], lo: int, hi: int | None = None) -> None:
    hi = lo if hi is None else hi
    if not lo <= len(args) <= hi:
        want = str(lo) if lo == hi else f"{lo} to {hi}"
        raise BadParams(f"expected {want} parameters, got {len(args)}")


@functools.lru_cache(maxsize=None)
def _int_limits(param: Param) -> tuple[int | None, int | None, tuple[int, ...] | None]:
    """(lo, hi, choices) of an integer parameter, worked out once per parameter."""
    lo = None if param.lo is None else int(param.lo)
    hi = None if param.hi is None else int(param.hi)
    return lo, hi, tuple(int(c) for c in param.choices) or None


def read_param(param: Param, arg: Arg, warn: Warn) -> Any:
    """One argument as ``param`` declares it: type, range, choices, quoting."""
    if param.kind is Kind.INT:
        return as_int(arg, param.name, warn, *_int_limits(param))
    if param.kind is Kind.FLOAT:
        assert param.lo is not None and param.hi is not None
        return as_float(arg, param.name, warn, param.lo, param.hi)
    value = as_str(arg, param.name, warn, allow_empty=param.allow_empty)
    if param.choices and value not in param.choices:
        raise BadParams(f"{param.name} must be one of {', '.join(map(quote, map(str, param.choices)))}, "
                        f"got {value!r}")
    return value


@functools.lru_cache(maxsize=None)
def _required(params: tuple[Param, ...]) -> int:
    return sum(1 for p in params if not p.optional)


def read_args(params: Sequence[Param], args: Sequence[Arg], warn: Warn) -> list[Any]:
    """Every argument read by its parameter; the count is checked first (optional
    parameters at the end may be left out and are then absent from the list)."""
    expect_count(args, _required(tuple(params)), len(params))
    return [read_param(param, arg, warn) for param, arg in zip(params, args)]


def format_number(value: float | int) -> str:
    """Numbers in responses: integers bare, others without trailing zeros."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def format_value(param: Param, value: Any) -> str:
    """A value as the module writes it back (a PARA query): strings quoted, numbers bare."""
    return quote(value) if param.quoted else format_number(value)


def from_at(text: str) -> str:
    """An AT string (a latin-1 view of the TE's bytes) as the Unicode text it encodes in UTF-8."""
    return text.encode("latin-1").decode("utf-8", errors="replace")


def to_at(text: str) -> str:
    """Unicode text (a topic, a path) as an AT string: its UTF-8 bytes viewed as latin-1."""
    return text.encode("utf-8").decode("latin-1")


def command_args(cmd: "Command") -> list[Any]:
    """The arguments of a set form, read as the command's catalogue entry declares them."""
    definition = catalogue_command(cmd.name)
    if definition is None:
        raise BadParams(f"AT{cmd.name} is not in the catalogue")
    return read_args(definition.params, cmd.args, cmd.warn)
