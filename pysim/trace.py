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

from pysim.events import Event
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


def format_line(t: float, label: str, text: str) -> str:
    return f"{t:8.3f} {label} {text}"


class LineAssembler:
    """Cuts one direction's byte stream into lines (sans-I/O).

    A line runs up to and including its end: CR LF, LF or a lone CR. Line ends that
    come before any text stay with the next line, so ``\\r\\nOK\\r\\n`` is one line.
    A CR after text is held until the next byte says whether LF follows (or until
    ``release_held``). Lines longer than ``max_len`` bytes are cut.
    Each line comes with the time of its last byte.
    """

    def __init__(self, max_len: int = 256) -> None:
        self.max_len = max_len
        self._buf = bytearray()
        self._has_text = False
        self._held_cr = False
        self._t = 0.0

    def push(self, data: bytes, t: float) -> list[tuple[float, bytes]]:
        lines = []
        for byte in data:
            if self._held_cr:
                if byte == LF:
                    self._buf.append(byte)
                    lines.append(self._take(t))
                    continue
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
        return lines

    def release_held(self) -> tuple[float, bytes] | None:
        """The line held back only for a possible LF after its CR, if any."""
        return self._take(self._t) if self._held_cr else None

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
        self._lines = {d: LineAssembler(max_line) for d in (TE_TO_TA, TA_TO_TE)}

    def uart(self, record: UartRecord) -> None:
        for t, line in self._lines[record.direction].push(record.data, record.t):
            self._emit(t, record.direction, escape(line))

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
                self._write_line(pending[0], direction, escape(pending[1]))

    def _emit(self, t: float, label: str, text: str) -> None:
        # an "AT...\r" held for a possible LF is complete once anything else happens
        held = [(line[0], direction, escape(line[1])) for direction, lines in self._lines.items()
                if direction != label and (line := lines.release_held())]
        for line in sorted(held):
            self._write_line(*line)
        self._write_line(t, label, text)

    def _write_line(self, t: float, label: str, text: str) -> None:
        if self.t0 is None:
            self.t0 = t
        self._write(format_line(t - self.t0, label, text))
