"""``LineLog``: the lines of one UART (the firmware console, or the AT link both ways)
with their times, and the Renode-style waits on them: in order, by text or regex,
with failing strings that end a wait at once and a negative check over a window."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Iterable

from peripherals.ica.redaction import redact_line
from pysim.trace import CONSOLE, LineAssembler
from pysim.uart import TA_TO_TE, TE_TO_TA

# UART names a keyword's ``uart`` argument takes -> (log, directions it covers)
UART_NAMES: dict[str, tuple[str, frozenset[str]]] = {
    "console": ("console", frozenset({CONSOLE})),
    "at": ("at", frozenset({TE_TO_TA, TA_TO_TE})),
    "at-te": ("at", frozenset({TE_TO_TA})),
    "at-ta": ("at", frozenset({TA_TO_TE})),
}


@dataclass(frozen=True)
class UartLine:
    """One line: its text, where it went and when (seconds since its device or module started)."""
    text: str
    direction: str
    timestamp: float


@dataclass(frozen=True)
class UartMatch:
    """What `Wait For Line On Uart` returns: ``line``, ``groups`` (regex groups, else
    empty), ``timestamp`` (seconds since the device or module started) and ``direction``."""
    line: str
    groups: list[str]
    timestamp: float
    direction: str

    def __str__(self) -> str:
        return self.line


@dataclass
class Matcher:
    """A text (found anywhere in the line) or a regex (searched)."""
    content: str
    regex: bool = False
    _compiled: re.Pattern[str] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.regex:
            try:
                self._compiled = re.compile(self.content)
            except re.error as error:
                raise AssertionError(f"bad regex {self.content!r}: {error}") from None

    def match(self, text: str) -> list[str] | None:
        """The groups when ``text`` matches (empty for a plain text), else None."""
        if self._compiled is None:
            return [] if self.content in text else None
        found = self._compiled.search(text)
        return None if found is None else [g if g is not None else "" for g in found.groups()]

    def __str__(self) -> str:
        return f"regex {self.content!r}" if self.regex else repr(self.content)


@dataclass
class FailingString:
    matcher: Matcher
    directions: frozenset[str]
    since: int          # lines before this index were there before it was registered


class FailingLineSeen(AssertionError):
    pass


class LineLog:
    """Lines in arrival order; waits see past and future lines. Fed on the event loop."""

    def __init__(self, t0: float) -> None:
        self.t0 = t0
        self.lines: list[UartLine] = []
        self.failing: list[FailingString] = []
        self.positions: dict[str, int] = {}     # per UART name: where the next in-order wait starts
        self.closed = False
        self._assemblers: dict[str, LineAssembler] = {}
        self._changed = asyncio.Event()

    # ---- feeding -------------------------------------------------------------
    def add_line(self, direction: str, text: str, t: float) -> None:
        """Add a line; an AUTH command's secret is masked as in the trace."""
        text = redact_line(text.strip("\r\n"))
        if text.strip():
            self.lines.append(UartLine(text, direction, round(t - self.t0, 6)))
            self._notify()

    def add_bytes(self, direction: str, data: bytes, t: float) -> None:
        """Cut a direction's bytes into lines (CR LF, LF or a lone CR end a line)."""
        assembler = self._assemblers.setdefault(direction, LineAssembler())
        lines = assembler.push(data, t)
        held = assembler.release_held()
        for when, line in lines + ([held] if held else []):
            self.add_line(direction, bytes(line).decode("latin-1"), when)

    def close(self) -> None:
        self.closed = True
        self._notify()

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    # ---- reading ---------------------------------------------------------------
    def tail(self, count: int, directions: Iterable[str] | None = None) -> list[UartLine]:
        wanted = None if directions is None else set(directions)
        return [l for l in self.lines if wanted is None or l.direction in wanted][-count:]

    def register_failing(self, matcher: Matcher, directions: frozenset[str]) -> None:
        self.failing.append(FailingString(matcher, directions, len(self.lines)))

    def _check_failing(self, index: int, line: UartLine) -> None:
        for failing in self.failing:
            if index >= failing.since and line.direction in failing.directions \
                    and failing.matcher.match(line.text) is not None:
                raise FailingLineSeen(f"failing string {failing.matcher} seen: {line.direction} "
                                      f"{line.timestamp:.3f} {line.text!r}")

    async def wait(self, matcher: Matcher, directions: frozenset[str], timeout: float,
                   start: int = 0) -> tuple[int, UartMatch] | None:
        """The first line from index ``start`` on (past or future) in ``directions`` that
        matches, with its index; None after ``timeout`` s or when the log is closed.
        Raises ``FailingLineSeen`` when a registered failing string comes first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        index = start
        while True:
            while index < len(self.lines):
                line = self.lines[index]
                self._check_failing(index, line)
                if line.direction in directions:
                    groups = matcher.match(line.text)
                    if groups is not None:
                        return index, UartMatch(line.text, groups, line.timestamp, line.direction)
                index += 1
            remaining = deadline - loop.time()
            if remaining <= 0 or self.closed:
                return None
            changed = self._changed
            try:
                await asyncio.wait_for(changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass
