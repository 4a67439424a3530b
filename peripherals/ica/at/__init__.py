"""Sans-I/O AT layer: the catalogue, framing, parameters, result codes, the output queue."""

from .catalogue import Form
from .engine import AtEngine, Mode
from .errors import (BadParams, Cme, CmeError, DataTimeout, Internal, NotAllowed, TooLong, Unknown, bad_params,
                     not_allowed)
from .events import Command, DataEntry, Reply, Urc
from .fields import Arg, quote, split_fields
from .params import (as_float, as_int, as_str, command_args, expect_count, format_number, from_at, read_args,
                     split_args, to_at)
from .table import CommandSpec, CommandTable

__all__ = [
    "AtEngine", "Command", "CommandSpec", "CommandTable", "DataEntry", "Form", "Mode", "Reply", "Urc",
    "BadParams", "Cme", "CmeError", "DataTimeout", "Internal", "NotAllowed", "TooLong", "Unknown",
    "bad_params", "not_allowed",
    "Arg", "as_float", "as_int", "as_str", "command_args", "expect_count", "format_number", "from_at", "quote",
    "read_args", "split_args", "split_fields", "to_at",
]
