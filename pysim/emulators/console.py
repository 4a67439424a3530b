"""The firmware's debug console: a line reader that tests and the harness can wait on."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Callable, Union

LineMatch = Union[str, "re.Pattern[str]", Callable[[str], bool]]


class ConsoleClosed(ConnectionError):
    """The console's stream ended before the awaited line came."""


class Console:
    """Reads the console stream into ``lines`` (decoded, without line ends).

    ``listeners`` get ``(t, line)`` for every line (``t`` from ``time.monotonic``).
    ``wait_for_line`` finds a past or future line.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.lines: list[str] = []
        self.listeners: list[Callable[[float, str], None]] = []
        self._reader = reader
        self._writer = writer
        self._changed = asyncio.Event()  # replaced after each set: a new line or EOF
        self._eof = False
        self._task = asyncio.ensure_future(self._read())

    @property
    def closed(self) -> bool:
        return self._eof

    def write(self, data: bytes) -> None:
        """Send bytes to the firmware's console input."""
        self._writer.write(data)

    async def wait_for_line(self, match: LineMatch, timeout: float | None = 10.0) -> str:
        """The first line (past or future) matching ``match``.

        ``match`` is a prefix (str), a compiled regex (searched) or a predicate.
        Raises ``TimeoutError`` (with the last lines) or ``ConsoleClosed``.
        """
        test = _matcher(match)
        shown = repr(match.pattern) if isinstance(match, re.Pattern) else repr(match)
        seen = 0

        async def scan() -> str:
            nonlocal seen
            while True:
                for line in self.lines[seen:]:
                    if test(line):
                        return line
                seen = len(self.lines)
                if self._eof:
                    raise ConsoleClosed(f"console closed before a line matching {shown}; last lines: {self.lines[-5:]}")
                await self._changed.wait()

        try:
            return await asyncio.wait_for(scan(), timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(f"no console line matching {shown} within {timeout} s; last lines: {self.lines[-5:]}") from None

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._writer.close()

    async def _read(self) -> None:
        try:
            while line := await self._reader.readline():
                text = line.decode("utf-8", "replace").rstrip("\r\n")
                self.lines.append(text)
                t = time.monotonic()
                for listener in list(self.listeners):
                    listener(t, text)
                self._notify()
        except ConnectionError:
            pass
        finally:
            self._eof = True
            self._notify()

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()


def _matcher(match: LineMatch) -> Callable[[str], bool]:
    if isinstance(match, str):
        return lambda line: line.startswith(match)
    if isinstance(match, re.Pattern):
        return lambda line: match.search(line) is not None
    return match
