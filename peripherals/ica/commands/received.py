"""A pair of receive URCs (text and binary) and their query forms (spec §5.10-11,
§6.8-9, §7.7-8)."""

from __future__ import annotations

from ..at import CommandTable, Reply, Urc
from ..interfaces import ModuleContext
from .replies import ok_reply


class Received:
    """A pair of receive URCs (text and binary) and their query forms, which answer
    the most recent message of each kind (errata #40).

    Text is written raw between quotes, exactly ``len`` octets (DECISIONS §12):
    ``+X:<head>,<len>,"<text>"`` + OK; binary is ``+XBIN:<head>,<len>`` + OK + bytes.
    """

    def __init__(self, ctx: ModuleContext, table: CommandTable, text_name: str, bin_name: str) -> None:
        self.ctx = ctx
        self.text_name = text_name
        self.bin_name = bin_name
        self.last_text: Urc | None = None
        self.last_bin: Urc | None = None
        table.command(text_name, test=ok_reply, query=lambda _c: self._query(self.last_text))
        table.command(bin_name, test=ok_reply, query=lambda _c: self._query(self.last_bin))

    def deliver(self, head: list[str], payload: bytes) -> None:
        fields = ",".join([*head, str(len(payload))])
        if self.ctx.is_text(payload):
            line = f"{self.text_name}:{fields},".encode("latin-1") + b'"' + payload + b'"'
            urc = self.last_text = Urc([line], ok=True)
        else:
            urc = self.last_bin = Urc([f"{self.bin_name}:{fields}"], ok=True, payload=payload)
        self.ctx.urc(*urc.lines, ok=urc.ok, payload=urc.payload)

    def deliver_status(self, head: list[str]) -> None:
        """A receive URC that carries only a status (HTTP status != 0, DECISIONS §15)."""
        urc = self.last_text = Urc([f"{self.text_name}:" + ",".join(head)], ok=True)
        self.ctx.urc(*urc.lines, ok=True)

    @staticmethod
    def _query(urc: Urc | None) -> Reply:
        if urc is None:
            return Reply()
        lines = [line.decode("latin-1") if isinstance(line, bytes) else line for line in urc.lines]
        return Reply(lines=lines, payload=urc.payload)
