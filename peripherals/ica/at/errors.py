"""Final result codes: the +CME ERROR numbers the module uses (DECISIONS §4), one
exception class per number, each carrying it (as aiocoap's ``error.py`` does)."""

from __future__ import annotations

import enum
from typing import ClassVar


class Cme(enum.IntEnum):
    """3GPP TS 27.007 §9.2 error numbers used by the module."""

    OPERATION_NOT_ALLOWED = 3   # wrong state
    OPERATION_NOT_SUPPORTED = 4  # unknown command or form
    TEXT_TOO_LONG = 24
    INVALID_CHARACTERS = 25
    NO_NETWORK_SERVICE = 30     # cloud unreachable
    NETWORK_TIMEOUT = 31
    INCORRECT_PARAMETERS = 50   # syntax, count, range
    UNKNOWN = 100

    @property
    def text(self) -> str:
        return _TEXT[self]


_TEXT = {
    Cme.OPERATION_NOT_ALLOWED: "operation not allowed",
    Cme.OPERATION_NOT_SUPPORTED: "operation not supported",
    Cme.TEXT_TOO_LONG: "text string too long",
    Cme.INVALID_CHARACTERS: "invalid characters in text string",
    Cme.NO_NETWORK_SERVICE: "no network service",
    Cme.NETWORK_TIMEOUT: "network timeout",
    Cme.INCORRECT_PARAMETERS: "incorrect parameters",
    Cme.UNKNOWN: "unknown",
}


class CmeError(Exception):
    """Raised by a command handler: the command ends with +CME ERROR:<code>.

    Raise one of the subclasses (``BadParams("why")``); ``CmeError(Cme.X, "why")``
    also works and gives the same final result code.
    """

    code: Cme

    def __init__(self, code: Cme, reason: str = "") -> None:
        super().__init__(f"+CME ERROR:{int(code)} ({code.text}){': ' + reason if reason else ''}")
        self.code = code
        self.reason = reason


class _Coded(CmeError):
    CODE: ClassVar[Cme]

    def __init__(self, reason: str = "") -> None:
        super().__init__(self.CODE, reason)


class NotAllowed(_Coded):
    """3: the command is known but not allowed in this state."""
    CODE = Cme.OPERATION_NOT_ALLOWED


class Unknown(_Coded):
    """4: an unknown command, or a form the command does not have."""
    CODE = Cme.OPERATION_NOT_SUPPORTED


class TooLong(_Coded):
    """24: a command line or a data-entry payload over its limit."""
    CODE = Cme.TEXT_TOO_LONG


class DataTimeout(_Coded):
    """31: a data entry that stayed silent too long."""
    CODE = Cme.NETWORK_TIMEOUT


class BadParams(_Coded):
    """50: parameter syntax, count, type or range."""
    CODE = Cme.INCORRECT_PARAMETERS


class Internal(_Coded):
    """100: a bug in a handler; the line still gets its final result code."""
    CODE = Cme.UNKNOWN


# the names the command families have always used
not_allowed = NotAllowed
bad_params = BadParams
