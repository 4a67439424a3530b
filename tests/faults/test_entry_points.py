"""Faults from the pytest plugin's fixture and the Robot library's keywords."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pysim.events import kind_is

ROBOT = Path(__file__).resolve().parents[2] / "robot"


async def test_plugin_faults_fixture(module_factory, faults):
    made = await module_factory(echo=False)
    controller = faults(made.module)
    controller.apply("module.cme:cmd=+CGMR,error=31,times=1")
    assert (await made.at.command("AT+CGMR")).final == "+CME ERROR:31"
    assert (await made.at.command("AT+CGMR")).ok
    assert made.module.events.find(kind_is("fault.on"))


@pytest.fixture
def lib():
    sys.path.insert(0, str(ROBOT))
    try:
        from IcaLibrary import IcaLibrary
    finally:
        sys.path.remove(str(ROBOT))
    instance = IcaLibrary()
    yield instance
    instance.stop_all()


def test_robot_inject_and_clear_fault(lib):
    lib.start_cloud()
    lib.start_module(echo=False)
    lib.inject_fault("module.cme:cmd=+CGMI,error=30,times=0")
    lib.send_at("AT+CGMI", expected="+CME ERROR:30")
    lib.send_at("AT+CGMI", expected="+CME ERROR:30")
    assert lib.clear_faults() == 1
    lib.send_at("AT+CGMI")
    with pytest.raises(AssertionError, match="unknown fault kind"):
        lib.inject_fault("module.nope")
    with pytest.raises(AssertionError, match="no UART link"):   # a module alone has no UART link
        lib.inject_fault("uart.drop")
