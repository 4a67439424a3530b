"""``LineBuffer``: lines of one stream (console, AT UART) that a test expects, pexpect style.

    buffer.add(t, "STEP mqtt_connect ok")
    match = await buffer.expect(r"STEP (\\w+) ok", timeout=10)   # the re.Match
    await buffer.expect_not(r"FAIL", window=2)                   # nothing matches for 2 s

``expect`` searches from a cursor: the first line after the previous match, so
two ``expect`` calls for the same pattern need two lines. ``expect_not`` watches
only lines that come during its window. A timeout message shows the last lines.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from typing import Callable, Union

Pattern = Union[str, "re.Pattern[str]"]
TAIL = 8   # lines a timeout message shows


class ExpectTimeout(TimeoutError, AssertionError):
    """No line matched in time (an ``AssertionError`` too, so pytest shows it as a failed check)."""


class UnexpectedLine(AssertionError):
    """A line that must not come came."""


@dataclass(frozen=True)
class BufferedLine:
    t: float
    label: str      # where it came from, e.g. "console", "TE->TA", "TA->TE"
    text: str


def compile_pattern(pattern: Pattern) -> re.Pattern[str]:
    return pattern if isinstance(pattern, re.Pattern) else re.compile(pattern)


class LineBuffer:
    """Every line of a stream, in order, with a cursor that ``expect`` moves forward."""

    def __init__(self, name: str, limit: int = 200_000) -> None:
        self.name = name
        self.lines: list[BufferedLine] = []
        self.listeners: list[Callable[[BufferedLine], None]] = []
        self._cursor = 0
        self._limit = limit
        self._changed = asyncio.Event()
        self._closed = False

    def add(self, t: float, text: str, label: str | None = None) -> None:
        line = BufferedLine(t, label or self.name, text)
        self.lines.append(line)
        if len(self.lines) > self._limit:
            cut = len(self.lines) - self._limit * 9 // 10
            del self.lines[:cut]
            self._cursor = max(0, self._cursor - cut)
        for listener in list(self.listeners):
            listener(line)
        self._notify()

    def close(self) -> None:
        """The stream ended: waits end at once instead of at their timeout."""
        self._closed = True
        self._notify()

    def tail(self, count: int = TAIL) -> list[str]:
        return [f"{line.label} {line.text}" if line.label != self.name else line.text
                for line in self.lines[-count:]]

    async def expect(self, pattern: Pattern, timeout: float = 10.0,
                     labels: tuple[str, ...] | None = None) -> re.Match[str]:
        """The match of the first line from the cursor on (lines with one of ``labels``
        when given) that ``pattern`` searches successfully; the cursor moves past it.
        Raises ``ExpectTimeout`` showing the last lines."""
        regex = compile_pattern(pattern)
        deadline = time.monotonic() + timeout
        while True:
            for index in range(self._cursor, len(self.lines)):
                line = self.lines[index]
                if labels and line.label not in labels:
                    continue
                match = regex.search(line.text)
                if match:
                    self._cursor = index + 1
                    return match
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._closed:
                why = "the stream ended" if self._closed and remaining > 0 else f"within {timeout:g} s"
                raise ExpectTimeout(f"no {self.name} line matching {regex.pattern!r} {why}; "
                                    f"last lines: {self.tail()}")
            changed = self._changed
            try:
                await asyncio.wait_for(changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    async def expect_not(self, pattern: Pattern, window: float,
                         labels: tuple[str, ...] | None = None) -> None:
        """Wait ``window`` seconds; raise ``UnexpectedLine`` as soon as a line arriving
        meanwhile matches ``pattern``."""
        regex = compile_pattern(pattern)
        start = len(self.lines)
        deadline = time.monotonic() + window
        while True:
            for line in self.lines[start:]:
                if (not labels or line.label in labels) and regex.search(line.text):
                    raise UnexpectedLine(f"{self.name} line matching {regex.pattern!r} came within "
                                         f"{window:g} s: {line.text!r}")
            start = len(self.lines)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
