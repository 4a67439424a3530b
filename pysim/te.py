"""A TE (MCU-side) AT client in Python: what tests, Robot keywords and benchmarks
use to drive a module over any byte stream.

:class:`TeParser` is sans-I/O: module bytes in, :class:`Line`, :class:`Prompt` and
payload bytes out. It reads by length as DECISIONS §12 asks: a text URC's payload
is exactly ``msg_len`` octets between quotes (and may hold quotes, commas or CR
LF), a binary payload is exactly ``msg_len`` octets right after ``OK``.
:class:`AtClient` sends commands, matches responses and keeps URCs apart.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Callable

# Text URCs whose last field is a raw payload: name -> index of the msg_len field
# (for +IHTTPRCVRSP and +IHTTPSEND the payload is there only when status is 0).
TEXT_PAYLOAD_FIELD = {"+IMQTTRCVPUB": 2, "+ICOAPRCVRSP": 2, "+IHTTPRCVRSP": 3, "+IHTTPSEND": 1}
# Lines followed by OK and then msg_len raw bytes: name -> index of the msg_len field.
BINARY_AFTER_OK = {"+IMQTTRCVPUBIN": 2, "+ICOAPRCVBIN": 2, "+IHTTPRCVBIN": 3, "+IOTABLOCK": 0,
                   "+IMQTTPUBIN": 2, "+ICOAPSENDBIN": 2, "+ICOAPSENDNBIN": 2, "+IHTTPSENDBIN": 2}
# Receive URCs: an OK right after them belongs to them (DECISIONS §11).
RECEIVE_URCS = {"+IMQTTRCVPUB", "+IMQTTRCVPUBIN", "+ICOAPRCVRSP", "+ICOAPRCVBIN", "+IHTTPRCVRSP",
                "+IHTTPRCVBIN", "+IOTANEWVER", "+IMQTTPINGRSP"}
# Commands whose set/execute form answers an id line (+X:<id>) before OK.
ID_COMMANDS = {"+IMQTTPUB", "+IMQTTPUBIN", "+IMQTTSUB", "+IMQTTUNSUB", "+ICOAPSENDREQ", "+ICOAPSENDBIN",
               "+ICOAPSENDREQN", "+ICOAPSENDNBIN", "+IHTTPSENDREQ", "+IHTTPSENDBIN"}
# Alias spellings the module accepts (DECISIONS §5); its responses use the canonical name.
ALIASES = {"+ICOAPPARA": "+ICOAPARA", "+IHTTPPARA": "+IHTTPARA"}
FINALS = re.compile(rb"^(OK|ERROR|\+CME ERROR:.*)$")


def split_fields(text: str) -> list[str]:
    """Fields of a response line after ``+NAME:``, quotes respected and removed; spaces allowed."""
    fields: list[str] = []
    i, n = 0, len(text)
    while i <= n:
        while i < n and text[i] == " ":
            i += 1
        if i < n and text[i] == '"':
            j = i + 1
            out = []
            while j < n and text[j] != '"':
                if text[j] == "\\" and j + 1 < n:
                    j += 1
                out.append(text[j])
                j += 1
            fields.append("".join(out))
            i = j + 1
            while i < n and text[i] != ",":
                i += 1
        else:
            j = text.find(",", i)
            j = n if j < 0 else j
            fields.append(text[i:j].strip())
            i = j
        i += 1
    return fields


def line_name(line: str) -> str:
    return line.split(":", 1)[0].strip() if line.startswith("+") else ""


@dataclass
class Line:
    text: str              # latin-1 view of the line's bytes
    payload: bytes = b""   # the raw payload of a text URC, or the binary bytes after OK

    @property
    def name(self) -> str:
        return line_name(self.text)

    @property
    def fields(self) -> list[str]:
        return split_fields(self.text.split(":", 1)[1]) if ":" in self.text else []


@dataclass
class Prompt:
    """The ``>`` of data entry with ``msg_len`` = 0."""


class TeParser:
    """Module bytes -> Lines (with their payloads) and Prompts.

    A line that announces a binary payload after OK is held back until that OK
    and the payload have arrived; then the line (payload attached) and the OK
    are given out together.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._held: Line | None = None     # a header whose OK and payload are due
        self._held_length = 0
        self._need = 0                     # payload bytes still to read

    @staticmethod
    def binary_length(line: Line) -> int | None:
        index = BINARY_AFTER_OK.get(line.name)
        if index is None:
            return None
        fields = line.fields
        if line.name == "+IHTTPRCVBIN" and (len(fields) < 2 or fields[1] != "0"):
            return None
        try:
            return int(fields[index])
        except (IndexError, ValueError):
            return None

    def feed(self, data: bytes) -> list[Line | Prompt]:
        self._buf += data
        out: list[Line | Prompt] = []
        while True:
            if self._need:
                assert self._held is not None
                take = min(self._need, len(self._buf))
                self._held.payload += bytes(self._buf[:take])
                del self._buf[:take]
                self._need -= take
                if self._need:
                    break
                out += [self._held, Line("OK")]
                self._held = None
                continue
            while self._buf[:2] == b"\r\n" or self._buf[:1] == b"\n":
                del self._buf[: 2 if self._buf[:1] == b"\r" else 1]
            if not self._buf:
                break
            if self._buf[:1] == b">":
                del self._buf[:1]
                out.append(Prompt())
                continue
            line = self._take_text_payload_line()
            if line is _INCOMPLETE:
                break
            if line is None:
                end = self._buf.find(b"\r\n")
                cr = self._buf.find(b"\r")
                if 0 <= cr < len(self._buf) - 1 and (end < 0 or cr < end) and self._buf[cr + 1] != 0x0A:
                    end, skip = cr, 1           # an echoed command line ends with a bare CR
                else:
                    skip = 2
                if end < 0:
                    break
                line = Line(bytes(self._buf[:end]).decode("latin-1"))
                del self._buf[: end + skip]
            if self._held is not None:
                if line.text == "OK":
                    self._need = self._held_length
                    if self._need == 0:
                        out += [self._held, line]
                        self._held = None
                    continue
                out.append(self._held)          # no OK: no payload follows
                self._held = None
            length = self.binary_length(line)
            if length is not None:
                self._held, self._held_length = line, length
                continue
            out.append(line)
        return out

    def _take_text_payload_line(self) -> "Line | None":
        """A text URC carrying a raw payload of msg_len octets; None if not one."""
        head_end = self._buf.find(b":")
        if not self._buf.startswith(b"+") or head_end < 0:
            return None
        name = bytes(self._buf[:head_end]).decode("latin-1")
        index = TEXT_PAYLOAD_FIELD.get(name)
        if index is None:
            return None
        # walk fields up to msg_len; the payload starts after the next ,"
        pos, field_no, in_quote = head_end + 1, 0, False
        start = pos
        while pos < len(self._buf):
            c = self._buf[pos]
            if c == 0x0D and not in_quote:
                return None                       # a line without a payload (status != 0)
            if c == 0x22:
                in_quote = not in_quote
            elif c == 0x2C and not in_quote:
                if field_no == index:
                    try:
                        length = int(bytes(self._buf[start:pos]).strip())
                    except ValueError:
                        return None
                    if name in ("+IHTTPRCVRSP", "+IHTTPSEND"):
                        status = split_fields(bytes(self._buf[head_end + 1:pos]).decode("latin-1"))
                        if status[1 if name == "+IHTTPRCVRSP" else 0] != "0":
                            return None
                    body = pos + 1
                    if len(self._buf) < body + 1 + length + 1 + 2:
                        return _INCOMPLETE
                    if self._buf[body] != 0x22:
                        return None
                    payload = bytes(self._buf[body + 1: body + 1 + length])
                    text = bytes(self._buf[:body + 1 + length + 1]).decode("latin-1")
                    end = body + 1 + length + 1
                    if self._buf[end:end + 2] != b"\r\n":
                        return None
                    del self._buf[:end + 2]
                    return Line(text, payload)
                field_no += 1
                start = pos + 1
            pos += 1
        return _INCOMPLETE


_INCOMPLETE = Line("<incomplete>")


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
        return name != "+IOTABLOCK"

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
        if line.text.upper() == pending.command.upper() or line.text.upper().startswith("AT"):
            return                              # echo
        if FINALS.match(line.text.encode("latin-1")):
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
        match = re.match(r"([+&]?[A-Za-z0-9_.]*?)(=\?|\?|=|$)", head)
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
                first = await asyncio.wait_for(asyncio.shield(self._done), timeout)
                if not first.ok:
                    return first
                response = Response(command)
                self._pending = response
                self._done = loop.create_future()
                self.write(data)
            else:
                self.write(command.encode("latin-1") + b"\r")
            return await asyncio.wait_for(asyncio.shield(self._done), timeout)
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
