"""Sans-I/O AT layer: framing, parameters, result codes, the output queue."""

from .engine import AtEngine, Command, CommandSpec, CommandTable, DataEntry, Form, Mode, Reply, Urc
from .errors import Cme, CmeError, bad_params, not_allowed
from .params import (Arg, as_float, as_int, as_str, expect_count, format_number, from_at, quote, split_args,
                     to_at)

__all__ = [
    "AtEngine", "Command", "CommandSpec", "CommandTable", "DataEntry", "Form", "Mode", "Reply", "Urc",
    "Cme", "CmeError", "bad_params", "not_allowed",
    "Arg", "as_float", "as_int", "as_str", "expect_count", "format_number", "from_at", "quote",
    "split_args", "to_at",
]
