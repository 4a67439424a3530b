"""Final result codes and the +CME ERROR numbers the module uses (DECISIONS §4)."""

from __future__ import annotations

import enum


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
    """Raised by a command handler: the command ends with +CME ERROR:<code>."""

    def __init__(self, code: Cme, reason: str = "") -> None:
        super().__init__(f"+CME ERROR:{int(code)} ({code.text}){': ' + reason if reason else ''}")
        self.code = code
        self.reason = reason


def not_allowed(reason: str) -> CmeError:
    return CmeError(Cme.OPERATION_NOT_ALLOWED, reason)


def bad_params(reason: str) -> CmeError:
    return CmeError(Cme.INCORRECT_PARAMETERS, reason)
