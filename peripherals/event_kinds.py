"""Declaring event kinds once: :class:`EventKinds`, a table of kinds and their fields.

An event is a kind (``"net.mqtt"``) and a detail dict. A table declares each kind
with a decorated class whose annotated fields are the detail's fields::

    EVENTS = EventKinds("peripherals/ica/events.py")

    @EVENTS.declare("net.mqtt")
    class NetMqtt(ModuleEvent):
        what: str = ""
        reason: str | None = None

The decorator makes the class a frozen, slotted dataclass with ``KIND`` set and
enters it in the table, once: a kind declared twice fails at import. :meth:`check`
builds the event from a kind and its detail, so an undeclared kind or field fails
(``TypeError``) where it is emitted. A table can take in other tables (the
simulator's takes in the module's) and then finds their kinds too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


class EventKinds(Mapping[str, type]):
    """The kinds declared in ``where`` (a file, named in errors), and those of ``within``."""

    def __init__(self, where: str, *within: EventKinds) -> None:
        self.where = where
        self._own: dict[str, type] = {}
        self._within = within

    def declare(self, kind: str) -> Callable[[type[T]], type[T]]:
        """A class decorator declaring ``kind`` with the class's fields."""
        def declare(cls: type[T]) -> type[T]:
            if kind in self:
                raise TypeError(f"event kind {kind!r} is declared twice")
            cls.KIND = kind  # type: ignore[attr-defined]
            declared = dataclass(frozen=True, slots=True)(cls)
            self._own[kind] = declared
            return declared
        return declare

    def _table_of(self, kind: str) -> EventKinds | None:
        if kind in self._own:
            return self
        for table in self._within:
            if (found := table._table_of(kind)) is not None:
                return found
        return None

    def __getitem__(self, kind: str) -> type:
        table = self._table_of(kind)
        if table is None:
            raise KeyError(kind)
        return table._own[kind]

    def __iter__(self) -> Iterator[str]:
        yield from self._own
        for table in self._within:
            yield from table

    def __len__(self) -> int:
        return len(self._own) + sum(len(table) for table in self._within)

    def class_of(self, kind: str) -> type:
        """The class declaring ``kind``; TypeError when no table declares it."""
        table = self._table_of(kind)
        if table is None:
            raise TypeError(f"event kind {kind!r} is not declared in {' or '.join(self._wheres())}")
        return table._own[kind]

    def check(self, kind: str, detail: Mapping[str, Any]) -> Any:
        """The declared event of ``kind`` with ``detail``; TypeError for an undeclared kind or field."""
        cls = self.class_of(kind)
        try:
            return cls(**detail)
        except TypeError as error:
            where = self._table_of(kind).where  # type: ignore[union-attr]
            raise TypeError(f"{kind}: {error}; declare its fields in {where}") from None

    def _wheres(self) -> list[str]:
        return [self.where] + [where for table in self._within for where in table._wheres()]
