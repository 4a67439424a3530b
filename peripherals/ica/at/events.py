"""What flows through the AT engine: a parsed :class:`Command` in, a handler's
:class:`Reply` (perhaps asking for a :class:`DataEntry`) and :class:`Urc` s out.
Small frozen, slotted dataclasses, as h11's ``_events.py``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .catalogue import Form
from .errors import CmeError
from .fields import Arg


def _ignore(_message: str) -> None:
    pass


@dataclass(frozen=True, slots=True)
class Command:
    """One command of a command line, parsed."""

    name: str              # upper case, e.g. "+IMQTTPUB", "E", "I"
    form: Form
    args: list[Arg]
    text: str              # as written, for traces
    warn: Callable[[str], None] = field(repr=False, default=_ignore)  # a conformance warning


@dataclass(frozen=True, slots=True)
class DataEntry:
    """A request for binary data entry: ``length`` octets, or up to ``+++`` when 0."""

    length: int
    complete: Callable[[bytes], "Reply"]


@dataclass(frozen=True, slots=True)
class Reply:
    """What a handler answers. ``final`` None means "no final result" (data entry prompt)."""

    lines: list[str] = field(default_factory=list)
    final: str | CmeError | None = "OK"
    payload: bytes = b""              # raw bytes right after the final OK (DECISIONS §12)
    data_entry: DataEntry | None = None
    after: Callable[[], None] | None = None  # runs once the reply is queued


@dataclass(frozen=True, slots=True)
class Urc:
    """An unsolicited result: lines, then ``OK`` for receive URCs, then a binary payload."""

    lines: list[str | bytes]
    ok: bool = False
    payload: bytes = b""
