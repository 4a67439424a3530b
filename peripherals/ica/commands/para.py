"""``AT+xxxPARA`` commands: tag/value pairs whose tags, types, ranges and defaults
are the catalogue entry's ``tags`` (DECISIONS §8)."""

from __future__ import annotations

from typing import Any, Callable

from ..at import BadParams, Command, CommandTable, Reply, as_str, quote
from ..at.catalogue import command as catalogue_command
from ..at.params import format_value, read_param


class ParaCommand:
    """``AT+xxxPARA``: tag/value pairs, all checked before any is applied."""

    def __init__(self, table: CommandTable, name: str,
                 on_change: Callable[[dict[str, Any]], None] | None = None) -> None:
        definition = catalogue_command(name)
        assert definition is not None and definition.tags, f"{name} has no tags in the catalogue"
        self.name = definition.name
        self.paras = {p.name: p for p in definition.tags}
        self.values: dict[str, Any] = {p.name: p.default for p in definition.tags}
        self.on_change = on_change
        table.command(self.name, test=self.test, query=self.query, set=self.set)

    def __getitem__(self, tag: str) -> Any:
        return self.values[tag]

    def snapshot(self) -> dict[str, Any]:
        """The values in effect now: what a command that starts network work hands to it,
        so that a later ``+xxxPARA`` applies to later commands only."""
        return dict(self.values)

    def test(self, cmd: Command) -> Reply:
        return Reply([f'{self.name}:"ParaTag","ParaValue"'])

    def query(self, cmd: Command) -> Reply:
        return Reply([f"{self.name}:{quote(tag)},{format_value(p, self.values[tag])}"
                      for tag, p in self.paras.items()])

    def set(self, cmd: Command) -> Reply:
        args = cmd.args
        if not args or len(args) % 2:
            raise BadParams("expected one or more \"TAG\",value pairs")
        new: dict[str, Any] = {}
        for tag_arg, value_arg in zip(args[::2], args[1::2]):
            tag = as_str(tag_arg, "ParaTag", cmd.warn, allow_empty=False).upper()
            para = self.paras.get(tag)
            if para is None:
                raise BadParams(f"unknown tag {tag!r}; tags: {', '.join(self.paras)}")
            new[tag] = read_param(para, value_arg, cmd.warn)
        self.values.update(new)
        if self.on_change:
            self.on_change(new)
        return Reply()
