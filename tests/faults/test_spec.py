"""The fault spec format: parsed in one place, defaults filled in, clear errors."""

from __future__ import annotations

import pytest

from pysim.faults import KINDS, FaultSpecError, describe_kinds, parse_fault


def test_every_kind_parses_with_its_defaults():
    for kind, spec in KINDS.items():
        parsed = parse_fault(kind)
        assert parsed.kind == kind and parsed.link == kind.split(".")[0]
        assert {k: parsed[k] for k in spec.params} == {k: p.default for k, p in spec.params.items()}


def test_values_are_typed_and_commands_normalised():
    spec = parse_fault("module.cme:cmd=at+imqttpub,error=30,times=2")
    assert (spec["cmd"], spec["error"], spec["times"]) == ("+IMQTTPUB", 30, 2)
    spec = parse_fault(" net.latency : ms=200 , jitter=50, service=mqtt ")
    assert (spec["ms"], spec["jitter"], spec["service"], spec["dir"]) == (200.0, 50.0, "mqtt", "both")
    assert parse_fault("uart.drop:rate=0.5,seed=9")["seed"] == 9


@pytest.mark.parametrize("text, message", [
    ("net.latnecy", "unknown fault kind 'net.latnecy'"),
    ("wire.drop", "unknown fault kind"),
    ("net.loss:rate=2", "net.loss: rate='2': must be between 0 and 1"),
    ("net.latency:ms=-1", "must be >= 0"),
    ("uart.drop:speed=1", "unknown parameter 'speed'"),
    ("net.down:service=ftp", "must be one of all, mqtt, mqtts, coap, http"),
    ("module.cme:error", "expected param=value"),
    ("module.cme:error=x", "not a valid value"),
])
def test_bad_specs_fail_with_one_clear_line(text, message):
    with pytest.raises(FaultSpecError) as error:
        parse_fault(text)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_the_kinds_table_names_every_kind():
    text = describe_kinds()
    assert all(kind in text for kind in KINDS)


def test_the_docs_describe_every_kind_and_default():
    from pathlib import Path
    doc = (Path(__file__).resolve().parents[2] / "docs" / "faults.md").read_text()
    for kind, spec in KINDS.items():
        assert f"| `{kind}` |" in doc, kind
        for name in spec.params:
            assert f"`{name}=" in doc, (kind, name)
