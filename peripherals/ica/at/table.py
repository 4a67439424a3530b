"""Command names to handlers, mounted the way aiocoap's ``Site.add_resource`` mounts
resources. With a catalogue, a name must be one of its commands, its aliases come
from there and only the forms it lists can be mounted; a form nobody mounted is
answered ``+CME ERROR:4`` by the engine."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

from .catalogue import CommandDef, Form
from .events import Command, Reply

Handler = Callable[[Command], "Reply | None"]


@dataclass(slots=True)
class CommandSpec:
    """The handlers of one command, one per form (None: the form answers +CME ERROR:4)."""

    name: str
    test: Handler | None = None
    query: Handler | None = None
    set: Handler | None = None
    execute: Handler | None = None
    definition: CommandDef | None = None

    def handler(self, form: Form) -> Handler | None:
        return {Form.TEST: self.test, Form.QUERY: self.query,
                Form.SET: self.set, Form.EXECUTE: self.execute}[form]


_FORM_OF = {"test": Form.TEST, "query": Form.QUERY, "set": Form.SET, "execute": Form.EXECUTE}


class CommandTable:
    """Command names (and aliases) to their handlers.

    ``catalogue``: name -> :class:`CommandDef`; when given, :meth:`command` refuses
    a name or a form the catalogue does not have (a ValueError at start-up).
    """

    def __init__(self, catalogue: Mapping[str, CommandDef] | None = None) -> None:
        self.catalogue = catalogue
        self._specs: dict[str, CommandSpec] = {}

    def add(self, spec: CommandSpec, aliases: Iterable[str] = ()) -> CommandSpec:
        for name in (spec.name, *aliases):
            key = name.upper()
            if key in self._specs:
                raise ValueError(f"command {name} registered twice")
            self._specs[key] = spec
        return spec

    def command(self, name: str, aliases: Iterable[str] = (), **forms: Handler) -> CommandSpec:
        """Mount ``forms`` (test=, query=, set=, execute=) on ``name``."""
        name = name.upper()
        definition = None
        if self.catalogue is not None:
            definition = self.catalogue.get(name)
            if definition is None:
                raise ValueError(f"AT{name} is not in the catalogue (peripherals/ica/at/catalogue.py)")
            extra = {_FORM_OF[f] for f in forms} - definition.forms
            if extra:
                raise ValueError(f"AT{name}: the catalogue has no {', '.join(sorted(f.name for f in extra))} form")
            aliases = (*definition.aliases, *aliases)
        return self.add(CommandSpec(name, definition=definition, **forms), aliases)

    def get(self, name: str) -> CommandSpec | None:
        return self._specs.get(name.upper())

    def names(self) -> set[str]:
        """Every canonical name mounted."""
        return {spec.name for spec in self._specs.values()}
