"""How long each AT command of a run took, read from the UART's two byte streams
(sans-I/O: feed timestamped chunks, read :attr:`CommandTimer.exchanges`).

    timer = CommandTimer()
    for record in link.records:
        timer.feed(record.t, record.direction, record.data)
    timer.exchanges     # [Exchange("+IMQTTPUB", sent=..., done=..., final="OK"), ...]

A command is sent when the TE's line ends (its CR); it is done at its final result
code, and where the catalogue names a URC that reports its outcome later
(``+IMQTTAUTH:OK``, ``+IMQTTSTATE:2`` after ``AT+IMQTTCONN``, ``+IMQTTPUB:<id>,<status>``)
its result comes with that URC (by id where the command answered an id line). The final
result code (``OK``, ``ERROR``, ``+CME ERROR:<n>``), read as a TE reads the module's bytes
(:class:`pysim.te_parser.TeParser`): payloads by length, and the ``OK`` that a receive
URC carries as its own (DECISIONS §11) closes nothing. Commands are answered in order,
so a final result closes the oldest open command. Bytes the TE sends in data entry
(after ``>``, or ``msg_len`` bytes) are no commands.
"""

from __future__ import annotations

from dataclasses import dataclass

from peripherals.ica.at import catalogue
from pysim.te_parser import FINALS, RECEIVE_URCS, Line, Prompt, TeParser
from pysim.uart import TE_TO_TA


@dataclass
class Exchange:
    command: str           # the command's name (``+IMQTTPUB``, ``AT`` for a bare AT, ``E0``...)
    sent: float            # when the TE's line ended
    done: float | None = None
    final: str | None = None   # its final result code; None: none came
    result_name: str | None = None   # the URC that reports its outcome later (catalogue), if any
    id: str | None = None            # its id line's id (``+IMQTTPUB:<id>``)
    result_at: float | None = None
    result: str | None = None        # that URC's line

    @property
    def ms(self) -> float | None:
        return None if self.done is None else (self.done - self.sent) * 1000

    @property
    def result_ms(self) -> float | None:
        """From the end of the line to the URC that reports the outcome (network included)."""
        return None if self.result_at is None else (self.result_at - self.sent) * 1000

    @property
    def ok(self) -> bool:
        return self.final == "OK"


def command_name(line: str) -> str:
    """``AT+IMQTTPUB="t",1,"x"`` -> ``+IMQTTPUB``; ``AT`` -> ``AT``; ``ATE0`` -> ``E0``."""
    body = line[2:]
    if not body:
        return "AT"
    for i, ch in enumerate(body):
        if ch in "=?":
            return body[:i].upper()
    return body.upper()


class CommandTimer:
    def __init__(self) -> None:
        self.exchanges: list[Exchange] = []
        self._open: list[Exchange] = []
        self._pending: list[Exchange] = []     # answered OK, their result URC still due
        self._te_line = bytearray()
        self._skip = 0                # data-entry bytes the TE still owes
        self._skip_for: Exchange | None = None
        self._parser = TeParser()
        self._urc_ok_due = False

    def feed(self, t: float, direction: str, data: bytes) -> None:
        if direction == TE_TO_TA:
            self._te(t, data)
        else:
            self._ta(t, data)

    def _te(self, t: float, data: bytes) -> None:
        i = 0
        while i < len(data):
            if self._skip:
                take = min(self._skip, len(data) - i)
                self._skip -= take
                i += take
                continue
            byte = data[i]
            i += 1
            if byte == 0x0D:
                line = self._te_line.decode("latin-1").strip()
                self._te_line.clear()
                if line[:2].upper() == "AT":
                    exchange = Exchange(command_name(line), t, result_name=_result_name(line))
                    self.exchanges.append(exchange)
                    self._open.append(exchange)
                    self._skip = _data_entry_length(line)
                    self._skip_for = exchange if self._skip else None
            elif byte != 0x0A:
                self._te_line.append(byte)

    def _ta(self, t: float, data: bytes) -> None:
        for item in self._parser.feed(data):
            if isinstance(item, Prompt):
                continue
            if item.name and self._result(t, item):
                continue
            if item.name in RECEIVE_URCS:
                self._urc_ok_due = True
                continue
            if FINALS.match(item.text):
                if self._urc_ok_due and item.text == "OK":
                    self._urc_ok_due = False
                    continue
                if self._open:
                    exchange = self._open.pop(0)
                    exchange.done, exchange.final = t, item.text
                    if exchange.ok and exchange.result_name:
                        self._pending.append(exchange)
                    if exchange is self._skip_for and not exchange.ok:
                        self._skip, self._skip_for = 0, None   # refused: no payload follows
            self._urc_ok_due = False

    def _result(self, t: float, line: Line) -> bool:
        """An id line of the open command, or the result URC of a command: noted (True)."""
        fields = line.fields
        if self._open and self._open[0].command == line.name and self._open[0].id is None and len(fields) == 1:
            definition = catalogue.command(line.name)
            if definition is not None and definition.id_line:
                self._open[0].id = fields[0]
                return True
        for exchange in self._pending:
            if exchange.result_name == line.name and (exchange.id is None or (len(fields) > 1 and fields[0] == exchange.id)):
                exchange.result_at, exchange.result = t, line.text
                self._pending.remove(exchange)
                return line.name not in RECEIVE_URCS     # a receive URC still owns its OK
        return False


def _result_name(line: str) -> str | None:
    """The result URC of a command line's set or execute form (catalogue), or None."""
    body = line[2:]
    if body.endswith("?"):
        return None                               # a query or test form
    definition = catalogue.command(body.partition("=")[0])
    return definition.result if definition is not None else None


def _data_entry_length(line: str) -> int:
    """The ``msg_len`` raw bytes a data-entry command line announces (0 if none)."""
    from peripherals.ica.at.fields import field_texts

    name, _, args = line[2:].partition("=")
    definition = catalogue.command(name)
    if definition is None or definition.data_entry is None or not args:
        return 0
    try:
        return max(0, int(field_texts(args)[definition.data_entry]))
    except (IndexError, ValueError):
        return 0
