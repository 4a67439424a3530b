"""V.250 basics, the 3GPP identification commands and the module-life commands
(DECISIONS §3, §23; spec §9)."""

from __future__ import annotations

from typing import Callable

from ..at import Command, CommandTable, Reply, command_args
from ..interfaces import ModuleContext
from .replies import ok_reply


class BasicCommands:
    def __init__(self, ctx: ModuleContext, table: CommandTable,
                 reboot: Callable[[int, bool], None]) -> None:
        self.ctx = ctx
        self.reboot = reboot
        c = ctx.config
        table.command("", execute=ok_reply)                       # plain AT
        table.command("E", execute=self.echo, set=self.echo)      # ATE, ATE0, ATE1
        table.command("I", execute=self.info, set=self.info)      # ATI
        table.command("+CMEE", test=lambda _c: Reply(["+CMEE:(0-2)"]),
                      query=lambda _c: Reply([f"+CMEE:{self.engine.cmee}"]), set=self.cmee)
        for name, value in (("+CGMI", c.manufacturer), ("+CGMM", c.model), ("+CGMR", c.revision),
                            ("+CGSN", c.serial)):
            table.command(name, test=ok_reply, execute=self._ident(value), query=self._ident(value))
        table.command("+ILOGLVL", test=lambda _c: Reply(['+ILOGLVL:"level"']),
                      query=lambda _c: Reply([f"+ILOGLVL:{ctx.loglevel}"]), set=self.loglevel)
        table.command("+IREBOOT", test=ok_reply, set=self.ireboot)
        table.command("+IDEFAULT", test=ok_reply, execute=self.idefault)

    @property
    def engine(self):
        assert self.ctx.engine is not None
        return self.ctx.engine

    @staticmethod
    def _ident(value: str) -> Callable[[Command], Reply]:
        return lambda _cmd: Reply([value])

    def echo(self, cmd: Command) -> Reply:
        [value] = command_args(cmd) or [0]
        self.engine.echo = bool(value)
        return Reply()

    def info(self, cmd: Command) -> Reply:
        command_args(cmd)
        c = self.ctx.config
        return Reply([c.manufacturer, c.model, f"Revision: {c.revision}"])

    def cmee(self, cmd: Command) -> Reply:
        [self.engine.cmee] = command_args(cmd)
        return Reply()

    def loglevel(self, cmd: Command) -> Reply:
        [self.ctx.loglevel] = command_args(cmd)
        return Reply()

    def ireboot(self, cmd: Command) -> Reply:
        [mode] = command_args(cmd)
        return Reply(after=lambda: self.reboot(mode, False))

    def idefault(self, cmd: Command) -> Reply:
        return Reply(after=lambda: self.reboot(0, True))


__all__ = ["BasicCommands"]
