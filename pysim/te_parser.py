"""The TE's reading of module bytes, sans-I/O: bytes in, :class:`Line` and
:class:`Prompt` out (h11's ``READERS``, read from the AT catalogue).

It reads by length as DECISIONS §12 asks: a text URC's payload is exactly
``msg_len`` octets between quotes (and may hold quotes, commas or CR LF), a binary
payload is exactly ``msg_len`` octets right after ``OK``. Which lines carry which
payload comes from ``peripherals/ica/at/catalogue.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from peripherals.ica.at import catalogue
from peripherals.ica.at.fields import field_texts, find_outside_quotes

# Text URCs whose last field is a raw payload: name -> index of the msg_len field
# (for those with a status field the payload is there only when the status is 0).
TEXT_PAYLOAD_FIELD = {u.name: u.len_field for u in catalogue.URCS if u.len_field is not None and not u.binary}
# Lines followed by OK and then msg_len raw bytes: name -> index of the msg_len field.
BINARY_AFTER_OK = {**{u.name: u.len_field for u in catalogue.URCS if u.len_field is not None and u.binary},
                   **{c.name: c.payload_after_ok for c in catalogue.COMMANDS if c.payload_after_ok is not None}}
# Status fields: the payload is there only when this field is 0.
STATUS_FIELD = {u.name: u.status_field for u in catalogue.URCS if u.status_field is not None}
# Receive URCs: an OK right after them belongs to them (DECISIONS §11).
RECEIVE_URCS = frozenset(u.name for u in catalogue.URCS if u.trailing_ok)
# Commands whose set/execute form answers an id line (+X:<id>) before OK.
ID_COMMANDS = frozenset(c.name for c in catalogue.COMMANDS if c.id_line)
# Commands whose set/execute form answers a +X: line of their own that is no URC.
OWN_LINE_COMMANDS = frozenset(c.name for c in catalogue.COMMANDS if c.response_line)
# Alias spellings the module accepts (DECISIONS §5); its responses use the canonical name.
ALIASES = catalogue.ALIASES
FINALS = re.compile(r"^(OK|ERROR|\+CME ERROR:.*)$")   # a final result code line (its text)
HEADER_MAX = 1024   # the fields before a text payload fit in a command line (DECISIONS §1)


def split_fields(text: str) -> list[str]:
    """Fields of a response line after ``+NAME:``, quotes respected and removed; spaces allowed."""
    return field_texts(text)


def line_name(line: str) -> str:
    return line.split(":", 1)[0].strip() if line.startswith("+") else ""


@dataclass
class Line:
    text: str              # latin-1 view of the line's bytes
    payload: bytes = b""   # the raw payload of a text URC, or the binary bytes after OK
    # name and fields are read many times a line (a fleet's TE reads each result URC's):
    # worked out once, on first use
    _name: str | None = field(default=None, init=False, repr=False, compare=False)
    _fields: list[str] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def name(self) -> str:
        if self._name is None:
            self._name = line_name(self.text)
        return self._name

    @property
    def fields(self) -> list[str]:
        if self._fields is None:
            self._fields = split_fields(self.text.split(":", 1)[1]) if ":" in self.text else []
        return list(self._fields)


@dataclass
class Prompt:
    """The ``>`` of data entry with ``msg_len`` = 0."""


def _status_ok(name: str, fields: list[str]) -> bool:
    """For a line whose payload depends on a status field: whether that status is 0."""
    index = STATUS_FIELD.get(name)
    return index is None or (len(fields) > index and fields[index] == "0")


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
        """The length of the binary payload after OK that ``line`` announces, or None."""
        index = BINARY_AFTER_OK.get(line.name)
        if index is None:
            return None
        fields = line.fields
        if not _status_ok(line.name, fields):
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

    def pending(self) -> bytes:
        """What was fed but is no whole line yet (a held header included)."""
        held = b""
        if self._held is not None:
            held = self._held.text.encode("latin-1") + b"\r\n" + (b"\r\nOK\r\n" + self._held.payload if self._need else b"")
        return held + bytes(self._buf)

    def _take_text_payload_line(self) -> "Line | None":
        """A text URC carrying a raw payload of msg_len octets; None if not one."""
        head_end = self._buf.find(b":")
        if not self._buf.startswith(b"+") or head_end < 0:
            return None
        name = bytes(self._buf[:head_end]).decode("latin-1")
        index = TEXT_PAYLOAD_FIELD.get(name)
        if index is None:
            return None
        # the fields up to msg_len come before the payload and hold no CR
        start = head_end + 1
        cr = self._buf.find(b"\r", start, start + HEADER_MAX)
        stop = cr if cr >= 0 else min(len(self._buf), start + HEADER_MAX)
        head = bytes(self._buf[start:stop]).decode("latin-1")
        i = 0
        for _ in range(index):
            i = find_outside_quotes(head, i, ",") + 1
        comma = find_outside_quotes(head, i, ",") if i <= len(head) else len(head)
        if comma >= len(head):   # a line without a payload (status != 0), or not all here yet
            return None if cr >= 0 or len(head) >= HEADER_MAX else _INCOMPLETE
        try:
            length = int(head[i:comma].strip())
        except ValueError:
            return None
        if not _status_ok(name, split_fields(head[:comma])):
            return None
        body = start + comma + 1
        if len(self._buf) < body + 1 + length + 1 + 2:
            return _INCOMPLETE
        if self._buf[body] != 0x22:
            return None
        payload = bytes(self._buf[body + 1: body + 1 + length])
        end = body + 1 + length + 1
        text = bytes(self._buf[:end]).decode("latin-1")
        if self._buf[end:end + 2] != b"\r\n":
            return None
        del self._buf[:end + 2]
        return Line(text, payload)


_INCOMPLETE = Line("<incomplete>")
