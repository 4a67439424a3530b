"""A TE (MCU-side) AT client in Python: what tests, Robot keywords and benchmarks
use to drive a module over any byte stream.

:class:`AtClient` sends commands, matches responses and keeps URCs apart; it reads
module bytes with the sans-I/O :class:`~pysim.te_parser.TeParser` (re-exported here
with :class:`Line` and :class:`Prompt`).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Callable

from peripherals.deadline import within
from pysim.te_parser import (ALIASES, FINALS, ID_COMMANDS, OWN_LINE_COMMANDS, RECEIVE_URCS, Line, Prompt, TeParser,
                             split_fields)

__all__ = ["AtClient", "AtError", "Line", "Prompt", "Response", "TeParser", "split_fields"]

COMMAND_HEAD = re.compile(r"([+&]?[A-Za-z0-9_.]*?)(=\?|\?|=|$)")


@dataclass
class Response:
    command: str
    lines: list[Line] = field(default_factory=list)
    final: str = ""

    @property
    def ok(self) -> bool:
        return self.final == "OK"

    @property
    def payload(self) -> bytes:
        return b"".join(line.payload for line in self.lines)

    @property
    def error(self) -> int | None:
        if self.final.startswith("+CME ERROR:"):
            return int(self.final.split(":", 1)[1])
        return None

    def line(self, name: str) -> Line:
        for line in self.lines:
            if line.name == name:
                return line
        raise KeyError(f"no {name} line in {self.command!r} -> {[l.text for l in self.lines]} {self.final}")


class AtError(Exception):
    pass


class AtClient:
    """Sends commands and waits for their final result; keeps URCs apart.

    ``write`` sends bytes to the module; module bytes go to :meth:`feed`.
    """

    def __init__(self, write: Callable[[bytes], None], *, default_timeout: float = 10.0) -> None:
        self.write = write
        self.parser = TeParser()
        self.default_timeout = default_timeout
        self.urcs: list[Line] = []
        self.raw = bytearray()
        self._pending: Response | None = None
        self._pending_name = ""
        self._pending_form = ""
        self._done: asyncio.Future[Response] | None = None
        self._prompt: asyncio.Future[None] | None = None
        self._urc_event = asyncio.Event()
        self._urc_owner: Line | None = None   # a receive URC waiting for its OK

    def feed(self, data: bytes) -> None:
        self.raw += data
        for event in self.parser.feed(data):
            if isinstance(event, Prompt):
                if self._prompt is not None and not self._prompt.done():
                    self._prompt.set_result(None)
                continue
            self._take(event)

    def _is_urc(self, line: Line) -> bool:
        name = line.name
        if not name:
            return False
        pending = self._pending
        if pending is None or name != self._pending_name:
            return name.startswith("+I") or name == "+CME"
        form = self._pending_form
        if form in ("?", "=?"):
            return False
        if name in ID_COMMANDS:
            return len(line.fields) != 1       # +X:<id> answers; +X:<id>,<status> is the result URC
        return name not in OWN_LINE_COMMANDS

    def _take(self, line: Line) -> None:
        if self._urc_owner is not None and line.text == "OK":
            self._urc_owner = None             # the OK that belongs to a receive URC
            return
        self._urc_owner = None
        if self._is_urc(line):
            self.urcs.append(line)
            self._urc_event.set()
            if line.name in RECEIVE_URCS:
                self._urc_owner = line
            return
        pending = self._pending
        if pending is None:
            if line.text and not line.text.startswith("AT"):
                self.urcs.append(line)          # unsolicited and unknown: keep it visible
                self._urc_event.set()
            return
        text = line.text
        if text[:2].upper() == "AT" or text.upper() == pending.command.upper():
            return                              # echo
        if FINALS.match(text):
            pending.final = line.text
            self._pending = None
            if self._done is not None and not self._done.done():
                self._done.set_result(pending)
            return
        pending.lines.append(line)

    async def command(self, command: str, *, data: bytes | None = None, plus_escape: bool = False,
                      timeout: float | None = None) -> Response:
        """Send ``command``; with ``data`` run binary entry (``msg_len`` > 0 or ``+++`` mode)."""
        if self._pending is not None:
            raise AtError(f"{self._pending.command!r} is still waiting for its result")
        timeout = self.default_timeout if timeout is None else timeout
        loop = asyncio.get_running_loop()
        response = Response(command)
        self._pending = response
        head = command[2:] if command[:2].upper() == "AT" else command
        match = COMMAND_HEAD.match(head)
        name = (match.group(1) if match else "").upper()
        self._pending_name = ALIASES.get(name, name)
        self._pending_form = match.group(2) if match else ""
        self._done = loop.create_future()
        try:
            if data is not None and plus_escape:
                self._prompt = loop.create_future()
                self.write(command.encode("latin-1") + b"\r")
                await asyncio.wait_for(asyncio.shield(asyncio.wait(
                    [self._prompt, self._done], return_when=asyncio.FIRST_COMPLETED)), timeout)
                if not self._done.done():
                    self.write(data + b"+++")
            elif data is not None:
                self.write(command.encode("latin-1") + b"\r")
                # the module answers OK to step 1, then reads the data; step 2 ends with id + OK
                first = await within(self._done, timeout)
                if not first.ok:
                    return first
                response = Response(command)
                self._pending = response
                self._done = loop.create_future()
                self.write(data)
            else:
                self.write(command.encode("latin-1") + b"\r")
            return await within(self._done, timeout)
        except asyncio.TimeoutError:
            raise AtError(f"no final result for {command!r} within {timeout:g} s; got "
                          f"{[l.text for l in response.lines]}; last bytes {bytes(self.raw[-120:])!r}") from None
        finally:
            self._pending = None
            self._prompt = None

    async def wait_urc(self, name: str, predicate: Callable[[Line], bool] = lambda _l: True,
                       timeout: float | None = None, *, consume: bool = True) -> Line:
        """The first URC named ``name`` (past or future) matching ``predicate``."""
        timeout = self.default_timeout if timeout is None else timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for line in self.urcs:
                if line.name == name and predicate(line):
                    if consume:
                        self.urcs.remove(line)
                    return line
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AtError(f"no {name} URC within {timeout:g} s; URCs seen: {[l.text for l in self.urcs]}")
            self._urc_event.clear()
            try:
                await asyncio.wait_for(self._urc_event.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    async def expect_ok(self, command: str, **kw) -> Response:
        response = await self.command(command, **kw)
        if not response.ok:
            raise AtError(f"{command!r} -> {response.final} ({[l.text for l in response.lines]})")
        return response
