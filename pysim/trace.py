"""A readable trace of one run: UART lines both ways, cloud events and console lines.

    0.412 TE->TA AT+IMQTTPUB="/a/b",1,"hi"\\r
    0.413 TA->TE \\r\\nOK\\r\\n
    0.415 TA<->cloud mqtt.publish a1demoPK/dev topic='/a/b'

``TraceWriter(sink)`` takes ``UartRecord`` chunks (``uart``), ``pysim.events.Event``
(``event``, e.g. as an ``EventLog`` listener) and console lines (``console``), and
writes one line per AT line to ``sink``: a callable (called with each line, no line
end) or a text file (written with a line end).
"""

from __future__ import annotations

from typing import Callable, TextIO, Union

from peripherals.ica.at import catalogue
from peripherals.ica.at.fields import field_texts
from peripherals.ica.redaction import redact_bytes
from pysim.events import Event
from pysim.te_parser import Line, TeParser
from pysim.uart import TA_TO_TE, TE_TO_TA, UartRecord

CR, LF = 0x0D, 0x0A
CLOUD = "TA<->cloud"
CONSOLE = "console"
MODULE = "TA"
# Events the UART and console lines already show: left out of the trace
ECHOED_EVENTS = frozenset({"at.command", "at.urc", "at.data", "console.line"})
_ESCAPES = {CR: "\\r", LF: "\\n", 0x09: "\\t", 0x5C: "\\\\"}

Sink = Union[Callable[[str], object], TextIO]


def escape(data: bytes) -> str:
    """Printable ASCII as is; CR, LF, tab and backslash as \\r \\n \\t \\\\; the rest as \\xNN."""
    return "".join(_ESCAPES.get(b) or (chr(b) if 0x20 <= b < 0x7F else f"\\x{b:02x}") for b in data)


def data_entry_length(line: bytes) -> int | None:
    """The ``msg_len`` of a TE command line that starts a binary data entry (as the
    catalogue's ``data_entry`` says), or None."""
    text = line.strip().decode("latin-1")
    name, eq, args = text[2:].partition("=")
    definition = catalogue.command(name) if text[:2].upper() == "AT" and eq else None
    if definition is None or definition.data_entry is None:
        return None
    fields = field_texts(args)
    try:
        return int(fields[definition.data_entry])
    except (IndexError, ValueError):
        return None


def format_line(t: float, label: str, text: str) -> str:
    return f"{t:8.3f} {label} {text}"


class RawBlock(bytes):
    """A binary payload cut out of the stream by its announced length."""


def describe(data: bytes, preview: int = 16) -> str:
    """A trace line's text: escaped bytes, or a binary payload as its length and first bytes."""
    if isinstance(data, RawBlock):
        more = " ..." if len(data) > preview else ""
        return f"<{len(data)} bytes: {data[:preview].hex(' ')}{more}>"
    return escape(data)


class LineAssembler:
    """Cuts one direction's byte stream into lines (sans-I/O).

    A line runs up to and including its end: CR LF, LF or a lone CR. Line ends that
    come before any text stay with the next line, so ``\\r\\nOK\\r\\n`` is one line.
    A CR after text is held until the next byte says whether LF follows (or until
    ``release_held``). Lines longer than ``max_len`` bytes are cut.
    Each line comes with the time of its last byte.
    """

    def __init__(self, max_len: int = 256, on_line: Callable[[bytes], int | None] | None = None) -> None:
        self.max_len = max_len
        self.on_line = on_line      # may answer a count of raw bytes that follow the line
        self._buf = bytearray()
        self._has_text = False
        self._held_cr = False
        self._t = 0.0
        self._raw_due = 0
        self._raw = bytearray()

    def expect_raw(self, length: int) -> None:
        """The next ``length`` bytes are a binary payload: one ``RawBlock``, not lines."""
        self._raw_due = length

    def push(self, data: bytes, t: float) -> list[tuple[float, bytes]]:
        lines: list[tuple[float, bytes]] = []
        i = 0
        while i < len(data):
            if self._raw_due:
                take = min(self._raw_due, len(data) - i)
                self._raw += data[i:i + take]
                self._raw_due -= take
                i += take
                if not self._raw_due:
                    lines.append((t, RawBlock(self._raw)))
                    self._raw.clear()
                continue
            before = len(lines)
            self._push_byte(data[i], t, lines)
            i += 1
            if self.on_line is not None:
                for _, line in lines[before:]:
                    self._raw_due = self.on_line(line) or self._raw_due
        return lines

    def _push_byte(self, byte: int, t: float, lines: list[tuple[float, bytes]]) -> None:
        if self._held_cr:
            if byte == LF:
                self._buf.append(byte)
                lines.append(self._take(t))
                return
            lines.append(self._take(self._t))
        self._buf.append(byte)
        self._t = t
        if byte in (CR, LF):
            if self._has_text:
                if byte == LF:
                    lines.append(self._take(t))
                else:
                    self._held_cr = True
        else:
            self._has_text = True
        if len(self._buf) >= self.max_len and not self._held_cr:
            lines.append(self._take(t))

    def release_held(self) -> tuple[float, bytes] | None:
        """The line held back only for a possible LF after its CR, if any."""
        if not self._held_cr:
            return None
        line = self._take(self._t)
        if self.on_line is not None:
            self._raw_due = self.on_line(line[1]) or self._raw_due
        return line

    def flush(self) -> tuple[float, bytes] | None:
        """Whatever is pending, as a (possibly unterminated) line."""
        return self._take(self._t) if self._buf else None

    def _take(self, t: float) -> tuple[float, bytes]:
        line = bytes(self._buf)
        self._buf.clear()
        self._has_text = self._held_cr = False
        return t, line


class TraceWriter:
    """Writes trace lines to ``sink``; times are printed relative to ``t0`` (by
    default the first time seen), all from ``time.monotonic``."""

    def __init__(self, sink: Sink, *, t0: float | None = None, max_line: int = 256) -> None:
        self._write: Callable[[str], object] = (lambda line: sink.write(line + "\n")) if hasattr(sink, "write") else sink  # type: ignore[union-attr, assignment]
        self.t0 = t0
        self._lines = {TE_TO_TA: LineAssembler(max_line, on_line=self._te_line),
                       TA_TO_TE: LineAssembler(max_line, on_line=self._ta_line)}
        self._module_binary_due: int | None = None   # announced by a header, after its OK
        self._te_data_due: int | None = None          # a data entry of this length, after the OK

    def _te_line(self, line: bytes) -> None:
        length = data_entry_length(line)
        self._te_data_due = length if length else None

    def _ta_line(self, line: bytes) -> int | None:
        text = line.strip()
        if text == b"OK":
            due, self._module_binary_due = self._module_binary_due, None
            if self._te_data_due:
                self._lines[TE_TO_TA].expect_raw(self._te_data_due)
                self._te_data_due = None
            return due
        if text.startswith((b"ERROR", b"+CME ERROR")):
            self._te_data_due = None
        self._module_binary_due = TeParser.binary_length(Line(text.decode("latin-1")))
        return None

    def uart(self, record: UartRecord) -> None:
        self._release_held(record.direction)   # the other side's line is complete: it came first
        for t, line in self._lines[record.direction].push(record.data, record.t):
            self._emit(t, record.direction, describe(redact_bytes(line)))

    def event(self, event: Event) -> None:
        """A cloud-side event (``TA<->cloud``) or a module remark (``TA``: a conformance
        warning, an ignored line, a fault, a log line); events that only repeat a UART
        line are left out."""
        if event.kind in ECHOED_EVENTS:
            return
        label = MODULE if event.kind.startswith(("at.", "log", "fault", "module.")) else CLOUD
        self._emit(event.t, label, str(event))

    def console(self, t: float, line: str) -> None:
        self._emit(t, CONSOLE, line)

    def flush(self) -> None:
        """Write the lines still pending in both directions."""
        for direction, lines in self._lines.items():
            pending = lines.flush()
            if pending:
                self._write_line(pending[0], direction, describe(redact_bytes(pending[1])))

    def _emit(self, t: float, label: str, text: str) -> None:
        self._release_held(label)
        self._write_line(t, label, text)

    def _release_held(self, label: str) -> None:
        """An "AT...\\r" held for a possible LF is complete once anything else happens."""
        held = [(line[0], direction, describe(redact_bytes(line[1]))) for direction, lines in self._lines.items()
                if direction != label and (line := lines.release_held())]
        for line in sorted(held):
            self._write_line(*line)

    def _write_line(self, t: float, label: str, text: str) -> None:
        if self.t0 is None:
            self.t0 = t
        self._write(format_line(t - self.t0, label, text))
