"""Property-based tests of the AT engine (hypothesis, derandomized: a fixed seed per run).

Random command lines made from the catalogue, random bytes and random chunkings all
keep the invariants of fuzz/at_harness.py; a state machine drives one module through
commands, half lines, data entries, garbage and reboots, checking after every step."""

from __future__ import annotations

import asyncio
import random

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from fuzz.at_harness import AtHarness, InvariantBroken, _prime, count_finals, is_command_line
from fuzz.at_lines import command_line
from peripherals.ica import IcaModule, ModuleConfig
from peripherals.ica.at.engine import Mode

SETTINGS = settings(derandomize=True, deadline=None, max_examples=150,
                    suppress_health_check=[HealthCheck.too_slow])

catalogue_lines = st.builds(lambda seed: command_line(random.Random(seed)), st.integers(0, 2**32))
noise = st.sampled_from(["", "\b", "\n", "+++", " ", "\x00", "AT", "at", '"', ";", "x" * 1030])
lines = st.lists(st.tuples(catalogue_lines, noise), min_size=1, max_size=6).map(
    lambda pairs: "".join(line + tail + "\r" for line, tail in pairs).encode("latin-1"))


@pytest.fixture(scope="module")
def harness():
    h = AtHarness()
    yield h
    h.close()


@SETTINGS
@given(data=lines, cuts=st.binary(max_size=6))
def test_catalogue_lines_in_any_chunking(harness, data, cuts):
    harness.run(data, cuts)


@SETTINGS
@given(data=st.binary(max_size=400), cuts=st.binary(max_size=6))
def test_random_bytes(harness, data, cuts):
    harness.run(data, cuts)


@SETTINGS
@given(prefix=lines, data=st.binary(min_size=0, max_size=80))
def test_binary_data_entry_then_commands(harness, prefix, data):
    harness.run(b'AT+ICOAPSENDBIN=2,"/t",8\r' + data + prefix)


def test_a_broken_invariant_is_reported(harness, monkeypatch):
    """The harness can fail: a module that answers one line twice is caught."""
    import fuzz.at_harness as module_under_test
    monkeypatch.setattr(module_under_test, "count_finals", lambda out: count_finals(out) + 1)
    with pytest.raises(InvariantBroken, match="final result codes"):
        harness.run(b"AT\r")


class EngineMachine(RuleBasedStateMachine):
    """One module, many steps; echo off; every step checks its own final result codes."""

    def __init__(self) -> None:
        super().__init__()
        self.harness = AtHarness(fresh=True)
        self.loop = self.harness.loop
        self.module = IcaModule(ModuleConfig(echo=False, reboot_seconds=0.0))
        self.out = bytearray()
        self.module.on_output = self.out.extend
        _prime(self.module)      # CoAP authenticated without a server: binary sends open a data entry
        self.pending = b""       # a half line typed so far

    def feed(self, data: bytes) -> bytes:
        async def go() -> bytes:
            start = len(self.out)
            self.module.engine.echo = False
            self.module.feed(data)
            if self.module.ctx._tasks:
                await asyncio.sleep(0)
            if self.module.engine.mode is Mode.REBOOTING and self.module._life is not None:
                await self.module._life
            return bytes(self.out[start:])
        return self.loop.run_until_complete(go())

    @property
    def mode(self) -> Mode:
        return self.module.engine.mode

    @precondition(lambda self: self.mode is Mode.COMMAND)
    @rule(line=catalogue_lines)
    def command(self, line):
        full = self.pending + line.encode("latin-1") + b"\r"
        self.pending = b""
        finals = count_finals(self.feed(line.encode("latin-1") + b"\r"))
        if self.mode is Mode.COMMAND:
            assert finals == (1 if is_command_line(full) else 0), (full, finals)

    @precondition(lambda self: self.mode is Mode.COMMAND)
    @rule(text=st.text(alphabet="ATat+=?,\"x1 \b", max_size=12))
    def half_line(self, text):
        data = text.encode()
        assert count_finals(self.feed(data)) == 0
        self.pending += data

    @precondition(lambda self: self.mode is Mode.COMMAND and not self.pending)
    @rule(length=st.integers(0, 40))
    def open_data_entry(self, length):
        self.feed(f'AT+ICOAPSENDBIN=2,"/t",{length}\r'.encode())

    @precondition(lambda self: self.mode in (Mode.DATA, Mode.DATA_PLUS))
    @rule(data=st.binary(max_size=50))
    def data_bytes(self, data):
        finals = 0
        for i in range(len(data)):
            was = self.mode
            finals += count_finals(self.feed(data[i:i + 1]))
            if was in (Mode.DATA, Mode.DATA_PLUS) and self.mode is Mode.COMMAND:
                assert finals == 1, finals
                return
        assert finals == 0

    @rule()
    def te_detaches(self):
        was = self.mode
        finals = count_finals(self.loop.run_until_complete(self._reset()))
        self.pending = b""
        assert finals == (1 if was in (Mode.DATA, Mode.DATA_PLUS) else 0)

    async def _reset(self) -> bytes:
        start = len(self.out)
        self.module.reset_input()
        return bytes(self.out[start:])

    @precondition(lambda self: self.mode is Mode.COMMAND and not self.pending)
    @rule()
    def reboot(self):
        assert count_finals(self.feed(b"AT+IREBOOT=0\r")) == 1
        _prime(self.module)

    @invariant()
    def bounded_and_consistent(self):
        AtHarness._check_bounds(self.module)
        engine = self.module.engine
        in_entry = engine.mode in (Mode.DATA, Mode.DATA_PLUS)
        assert (engine._entry is not None) == in_entry       # a data entry exactly in the data modes
        assert engine._busy == in_entry                      # URCs wait only for a data entry
        assert len(engine._line) <= engine.max_line

    def teardown(self):
        self.loop.run_until_complete(self.module.stop())
        self.harness.close()


TestEngineMachine = EngineMachine.TestCase
TestEngineMachine.settings = settings(derandomize=True, deadline=None, max_examples=40, stateful_step_count=40,
                                      suppress_health_check=[HealthCheck.too_slow])
