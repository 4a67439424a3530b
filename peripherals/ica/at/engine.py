"""The sans-I/O AT engine: bytes in, bytes out, no clocks or sockets of its own.

It does V.250 framing (``AT`` prefix, CR terminator, LF ignored, backspace,
echo), dispatches commands to handlers, runs binary data entry (``msg_len`` > 0
and ``>`` ... ``+++``), and owns the one output queue: a URC never lands inside
a response or during data entry; it waits for the final result code
(DECISIONS §1-4, 11-13, 16).

The caller feeds bytes with :meth:`AtEngine.receive`, takes bytes with
:meth:`AtEngine.data_to_send`, queues URCs with :meth:`AtEngine.send_urc`, and
calls :meth:`AtEngine.poll` at :meth:`AtEngine.next_deadline` for the
data-entry timeout. Time comes from the ``clock`` it is given.
"""

from __future__ import annotations

import enum
import time
from collections import deque
from typing import Callable

from .catalogue import MAX_PAYLOAD, Form
from .errors import CmeError, DataTimeout, Internal, NotAllowed, TooLong, Unknown
from .events import Command, DataEntry, Reply, Urc
from .fields import ESCAPES
from .grammar import parse_line
from .table import CommandSpec, CommandTable, Handler

__all__ = ["AtEngine", "Command", "CommandSpec", "CommandTable", "DataEntry", "Form", "Handler", "Mode",
           "Reply", "Urc", "MAX_LINE", "MAX_PAYLOAD", "DATA_TIMEOUT"]

MAX_LINE = 1024          # DECISIONS §1
DATA_TIMEOUT = 10.0      # DECISIONS §16
PLUS_ESCAPE = b"+++"


class Mode(enum.Enum):
    COMMAND = "command"
    DATA = "data"            # fixed-length binary entry
    DATA_PLUS = "data+++"    # binary entry ended by +++
    REBOOTING = "rebooting"  # reads nothing (DECISIONS §23)


Observer = Callable[..., None]


class AtEngine:
    """V.250 framing, dispatch and the output queue of one module."""

    def __init__(self, table: CommandTable, *, echo: bool = True, cmee: int = 1,
                 urc_ok: bool = True, max_line: int = MAX_LINE,
                 data_timeout: float = DATA_TIMEOUT,
                 clock: Callable[[], float] = time.monotonic,
                 observer: Observer | None = None, escapes: str = ESCAPES) -> None:
        self.table = table
        self.echo_default = echo
        self.echo = echo
        self.cmee = cmee
        self.urc_ok = urc_ok
        self.max_line = max_line
        self.data_timeout = data_timeout
        self.clock = clock
        self.escapes = escapes        # what a backslash escapes inside quotes
        self.observer: Observer = observer or (lambda kind, **detail: None)
        self.mode = Mode.COMMAND
        self._line = bytearray()
        self._overflow = False
        self._out = bytearray()
        self._urcs: deque[Urc] = deque()
        self._busy = False            # inside a command: URCs wait
        self._entry: DataEntry | None = None
        self._data = bytearray()
        self._data_overflow = False
        self._data_deadline: float | None = None
        self._last_line = ""

    # ---- output -------------------------------------------------------
    def data_to_send(self) -> bytes:
        data = bytes(self._out)
        self._out.clear()
        return data

    def send_urc(self, urc: Urc) -> None:
        """Queue a URC; it goes out at once when no command or data entry is under way."""
        if self.mode is Mode.REBOOTING:
            self.observer("urc_dropped", lines=urc.lines, reason="rebooting")
            return
        self._urcs.append(urc)
        self._flush_urcs()

    def _write_line(self, text: str | bytes) -> None:
        raw = text.encode("latin-1") if isinstance(text, str) else text
        self._out += b"\r\n" + raw + b"\r\n"

    def _write_final(self, final: str | CmeError) -> None:
        if isinstance(final, CmeError):
            if self.cmee == 0:
                self._write_line("ERROR")
            elif self.cmee == 2:
                self._write_line(f"+CME ERROR:{final.code.text}")
            else:
                self._write_line(f"+CME ERROR:{int(final.code)}")
        else:
            self._write_line(final)

    def _flush_urcs(self) -> None:
        while self._urcs and not self._busy and self.mode is Mode.COMMAND:
            urc = self._urcs.popleft()
            for line in urc.lines:
                self._write_line(line)
            if urc.ok and self.urc_ok:
                self._write_line("OK")
            self._out += urc.payload
            self.observer("urc", lines=urc.lines, payload=urc.payload)

    # ---- input --------------------------------------------------------
    def receive(self, data: bytes) -> None:
        """Take bytes from the TE, in any chunking."""
        view = memoryview(data)
        raw = view.tobytes()   # one copy a chunk: line ends are found with bytes.find
        i = 0
        while i < len(view):
            if self.mode is Mode.REBOOTING:
                self.observer("dropped", data=bytes(view[i:]), reason="rebooting")
                return
            if self.mode is Mode.DATA:
                i = self._receive_fixed(view, i)
            elif self.mode is Mode.DATA_PLUS:
                i = self._receive_plus(view, i)
            else:
                i = self._receive_command(view, i, raw)

    def _receive_command(self, view: memoryview, i: int, raw: bytes) -> int:
        # fast path (a fleet's per-message cost): the rest of the line, or of the chunk,
        # appended at once when it has no LF, no backspace and fits the line
        cr = raw.find(b"\r", i)
        end = len(raw) if cr < 0 else cr
        part = raw[i:end]
        if len(self._line) + len(part) <= self.max_line and b"\n" not in part and b"\x08" not in part:
            self._line += part
            stop = end if cr < 0 else cr + 1
            if self.echo:
                self._out += view[i:stop]
            if cr >= 0:
                self._end_line()
            return stop
        start = i
        n = len(view)
        while i < n:
            b = view[i]
            i += 1
            if b == 0x0D:
                if self.echo:
                    self._out += view[start:i]
                self._end_line()
                return i
            if b == 0x0A:
                continue
            if b == 0x08:  # backspace edits the line (V.250 S5)
                if self._line:
                    self._line.pop()
                continue
            if len(self._line) >= self.max_line:
                self._overflow = True
                continue
            self._line.append(b)
        if self.echo:
            self._out += view[start:i]
        return i

    def _end_line(self) -> None:
        raw = bytes(self._line)
        overflow = self._overflow
        self._line.clear()
        self._overflow = False
        stripped = raw.lstrip(b" \t\x00")
        if overflow:
            self.observer("command", line=raw[:40].decode("latin-1") + "...", final="+CME ERROR:24",
                          reason=f"line longer than {self.max_line} bytes")
            self._busy = True
            self._write_final(TooLong(f"line longer than {self.max_line} bytes"))
            self._busy = False
            self._flush_urcs()
            return
        if not stripped:
            return
        if stripped[:2] not in (b"AT", b"at"):
            self.observer("ignored", line=raw.decode("latin-1"), reason="no AT prefix")
            return
        # latin-1 maps each byte to one character: string parameters keep the TE's bytes
        self._execute_line(stripped.decode("latin-1"))

    # ---- dispatch -----------------------------------------------------
    def _execute_line(self, line: str) -> None:
        self._busy = True
        self._last_line = line
        try:
            commands = list(parse_line(line[2:], self._warner, self.escapes))
        except CmeError as error:
            self._finish(line, error)
            return
        lines: list[str] = []
        reply = Reply()
        for index, command in enumerate(commands):
            try:
                reply = self._dispatch(command)
            except CmeError as error:
                self._emit_lines(lines)
                self._finish(line, error)
                return
            if reply.data_entry is not None and index != len(commands) - 1:
                self._emit_lines(lines)
                self._finish(line, NotAllowed(
                                            "data entry must be the last command of a line"))
                return
            lines += reply.lines
            if reply.final != "OK" and reply.data_entry is None:
                break
        self._emit_lines(lines)
        if reply.data_entry is not None:
            self._start_data_entry(line, reply)
            return
        self._finish(line, reply.final, reply.payload, reply.after)

    def _emit_lines(self, lines: list[str]) -> None:
        for text in lines:
            self._write_line(text)

    def _finish(self, line: str, final: str | CmeError | None, payload: bytes = b"",
                after: Callable[[], None] | None = None) -> None:
        if final is not None:
            self._write_final(final)
        self._out += payload
        self.observer("command", line=line, final=_final_text(final),
                      reason=final.reason if isinstance(final, CmeError) else "")
        self._busy = False
        if after is not None:
            after()
        self._flush_urcs()

    def _dispatch(self, command: Command) -> Reply:
        spec = self.table.get(command.name)
        if spec is None:
            raise Unknown(f"unknown command AT{command.name}")
        handler = spec.handler(command.form)
        if handler is None:
            raise Unknown(
                           f"AT{command.name} has no {command.form.name.lower()} form")
        try:
            result = handler(command)
        except CmeError:
            raise
        except Exception as error:   # a bug in a handler still gets a final result code
            self.observer("error", line=command.text, error=f"{type(error).__name__}: {error}")
            raise Internal(f"internal error: {type(error).__name__}: {error}") from error
        return Reply() if result is None else result

    def _warner(self, line: str) -> Callable[[str], None]:
        def warn(message: str) -> None:
            self.observer("warning", line=line, message=message)
        return warn

    # ---- binary data entry -------------------------------------------
    def _start_data_entry(self, line: str, reply: Reply) -> None:
        entry = reply.data_entry
        assert entry is not None
        if entry.length > 0:
            self._write_final("OK")
            self.mode = Mode.DATA
        else:
            self._out += b"\r\n>"
            self.mode = Mode.DATA_PLUS
        self.observer("command", line=line, final="OK" if entry.length else ">", reason="")
        self._entry = entry
        self._data.clear()
        self._data_overflow = False
        self._data_deadline = self.clock() + self.data_timeout

    def _receive_fixed(self, view: memoryview, i: int) -> int:
        assert self._entry is not None
        take = min(len(view) - i, self._entry.length - len(self._data))
        self._data += view[i:i + take]
        self._data_deadline = self.clock() + self.data_timeout
        if len(self._data) == self._entry.length:
            self._complete_data_entry(bytes(self._data))
        return i + take

    def _receive_plus(self, view: memoryview, i: int) -> int:
        before = len(self._data)
        self._data += view[i:]
        self._data_deadline = self.clock() + self.data_timeout
        at = self._data.find(PLUS_ESCAPE, max(0, before - 2))
        if at < 0:
            if len(self._data) > MAX_PAYLOAD + 2:
                self._data_overflow = True
                del self._data[: len(self._data) - 2]  # keep a possible partial "++"
            return len(view)
        consumed = at + len(PLUS_ESCAPE) - before
        payload = bytes(self._data[:at])
        if self._data_overflow or len(payload) > MAX_PAYLOAD:
            self._abort_data_entry(TooLong(f"payload over {MAX_PAYLOAD} bytes"))
        else:
            self._complete_data_entry(payload)
        return i + consumed

    def _complete_data_entry(self, payload: bytes) -> None:
        entry = self._entry
        assert entry is not None
        self._leave_data_mode()
        self.observer("data", length=len(payload), payload=payload)
        try:
            reply = entry.complete(payload)
        except CmeError as error:
            self._finish(self._last_line + " <data>", error)
            return
        except Exception as error:
            self.observer("error", line=self._last_line, error=f"{type(error).__name__}: {error}")
            self._finish(self._last_line + " <data>", Internal(f"internal error: {error}"))
            return
        self._emit_lines(reply.lines)
        self._finish(self._last_line + " <data>", reply.final, reply.payload, reply.after)

    def _abort_data_entry(self, error: CmeError) -> None:
        self._leave_data_mode()
        self._finish(self._last_line + " <data>", error)

    def _leave_data_mode(self) -> None:
        self.mode = Mode.COMMAND
        self._entry = None
        self._data.clear()
        self._data_deadline = None

    def next_deadline(self) -> float | None:
        return self._data_deadline

    def poll(self) -> None:
        """Let time pass: a data entry silent for ``data_timeout`` ends with +CME ERROR:31."""
        if self._data_deadline is not None and self.clock() >= self._data_deadline:
            dropped = len(self._data)
            self._abort_data_entry(DataTimeout(
                                            f"data entry silent for {self.data_timeout:g} s; "
                                            f"{dropped} bytes dropped"))

    # ---- life ---------------------------------------------------------
    def reset_input(self) -> None:
        """A new TE (or none) on the line: forget a half-typed line, and end an unfinished
        data entry with +CME ERROR:3 (its one final result code; the old TE is gone).
        Output already queued and the settings (echo, CMEE) stay."""
        self._line.clear()
        self._overflow = False
        if self.mode in (Mode.DATA, Mode.DATA_PLUS):
            dropped = len(self._data)
            self._abort_data_entry(NotAllowed(f"TE detached during data entry; {dropped} bytes dropped"))

    def begin_reboot(self) -> None:
        """Stop reading; drop queued URCs and any partial input (DECISIONS §23)."""
        self.mode = Mode.REBOOTING
        self._urcs.clear()
        self._line.clear()
        self._entry = None
        self._data.clear()
        self._data_deadline = None

    def end_reboot(self) -> None:
        """Ready again, with power-on settings; no ready line is sent."""
        self.mode = Mode.COMMAND
        self.echo = self.echo_default
        self.cmee = 1
        self._busy = False


def _final_text(final: str | CmeError | None) -> str:
    if isinstance(final, CmeError):
        return f"+CME ERROR:{int(final.code)}"
    return final or ""
