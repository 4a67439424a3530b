"""EventKinds (peripherals/event_kinds.py): the one way both the module and the
simulator declare their event kinds."""

from __future__ import annotations

import pytest

from peripherals.event_kinds import EventKinds
from peripherals.ica.events import EVENTS as MODULE_EVENTS
from pysim.events import EVENTS as ALL_EVENTS


def test_a_declared_class_is_a_frozen_slotted_dataclass_with_its_kind():
    kinds = EventKinds("here.py")

    @kinds.declare("x.happened")
    class Happened:
        what: str = ""

    assert kinds["x.happened"] is Happened and Happened.KIND == "x.happened"
    event = kinds.check("x.happened", {"what": "it"})
    assert event == Happened(what="it") and not hasattr(event, "__dict__")
    with pytest.raises(AttributeError):
        event.what = "else"  # type: ignore[misc]
    assert "KIND" not in Happened.__dataclass_fields__


def test_undeclared_kinds_and_fields_name_the_file_that_declares():
    inner = EventKinds("inner.py")
    outer = EventKinds("outer.py", inner)

    @inner.declare("in.side")
    class Inside:
        n: int = 0

    assert outer.class_of("in.side") is Inside and "in.side" in outer and len(outer) == 1
    with pytest.raises(TypeError, match="'no.such' is not declared in outer.py or inner.py"):
        outer.check("no.such", {})
    with pytest.raises(TypeError, match=r"in.side: .*'colour'; declare its fields in inner.py"):
        outer.check("in.side", {"colour": "red"})
    with pytest.raises(KeyError):
        outer["no.such"]


def test_a_kind_is_declared_once_across_the_tables_that_see_it():
    inner = EventKinds("inner.py")
    outer = EventKinds("outer.py", inner)
    inner.declare("twice")(type("A", (), {}))
    with pytest.raises(TypeError, match="'twice' is declared twice"):
        outer.declare("twice")(type("B", (), {}))


def test_the_simulators_table_holds_its_own_kinds_and_the_modules():
    assert set(MODULE_EVENTS) < set(ALL_EVENTS)
    assert len(ALL_EVENTS) == len(set(ALL_EVENTS)) >= len(MODULE_EVENTS) + 25
    for kind, cls in ALL_EVENTS.items():
        assert cls.KIND == kind
