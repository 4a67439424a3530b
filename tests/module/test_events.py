"""Module events are declared once (peripherals/ica/events.py): every kind the
source emits is there, and an undeclared kind or field fails where it is emitted."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import peripherals.ica
import pysim
from peripherals.ica import IcaModule, ModuleConfig
from peripherals.ica.events import EVENTS, check
from pysim.events import declared
from pysim.te import AtClient

SOURCE = Path(peripherals.ica.__file__).parent
# ctx.emit("net.mqtt", ...), self.observer("module.ready", ...), engine: self.observer("command", ...)
EMITS = re.compile(r'(?:\.emit|observer)\(\s*"([a-z_.]+)"((?:[^()]|\([^()]*\))*)\)', re.S)


def emitted() -> set[tuple[str, str]]:
    found = set()
    for path in SOURCE.rglob("*.py"):
        for kind, args in EMITS.findall(path.read_text()):
            prefix = "at." if path.name == "engine.py" else ""
            for field in re.findall(r"\b([a-z_]+)=", args):
                found.add((prefix + kind, field))
            found.add((prefix + kind, ""))
    return found


def test_every_emitted_kind_and_field_is_declared():
    pairs = emitted()
    assert len({kind for kind, _ in pairs}) >= 15
    for kind, field in sorted(pairs):
        assert kind in EVENTS, f"{kind} is not declared in peripherals/ica/events.py"
        if field:
            assert field in EVENTS[kind].__dataclass_fields__, f"{kind} has no field {field}"


def test_undeclared_kinds_and_fields_fail_where_emitted():
    with pytest.raises(TypeError, match="not declared"):
        check("net.nope", {})
    with pytest.raises(TypeError, match="colour.*declare its fields in peripherals/ica/events.py"):
        check("net.mqtt", {"what": "x", "colour": "red"})
    module = IcaModule(ModuleConfig())
    with pytest.raises(TypeError):
        module.ctx.emit("net.mqtt", what="x", colour="red")


def test_events_are_frozen_and_slotted():
    event = check("net.mqtt", {"module": "ica0", "what": "connected"})
    assert not hasattr(event, "__dict__")
    with pytest.raises(AttributeError):
        event.what = "down"  # type: ignore[misc]


# ---- the simulator's kinds (pysim/events.py) ------------------------------------

PYSIM = Path(pysim.__file__).parent
# events.emit("mqtt.connect", device, client_id=...)
SIM_EMITS = re.compile(r'\.emit\(\s*"([a-z_.]+)",((?:[^()]|\((?:[^()]|\([^()]*\))*\))*)\)', re.S)


def test_every_kind_the_simulator_emits_is_declared():
    found = 0
    for path in PYSIM.rglob("*.py"):
        for kind, args in SIM_EMITS.findall(path.read_text()):
            found += 1
            cls = declared(kind)
            for name in re.findall(r"\b([a-z_]+)=(?!=)", args):
                assert name in cls.__dataclass_fields__, f"{path.name}: {kind} has no field {name}"
    assert found >= 15


async def test_a_real_run_emits_only_declared_events(module_factory, device, cloud):
    m = await module_factory(echo=False)
    at = m.at
    await at.expect_ok(f'AT+IMQTTAUTH="{device.product_key}","{device.device_name}","{device.device_secret}"')
    await at.wait_urc("+IMQTTAUTH")
    await at.expect_ok("AT+IMQTTCONN")
    await at.wait_urc("+IMQTTSTATE")
    await at.expect_ok(f'AT+IMQTTPUB="/{device.product_key}/{device.device_name}/user/t",1,"x"')
    await at.wait_urc("+IMQTTPUB")
    await at.command("AT+NOPE")
    # the broker notes a publish once it has delivered it, which may come after its PUBACK
    await cloud.events.wait_for(lambda event: event.kind == "mqtt.publish")
    kinds = {event.kind for event in cloud.events.events}
    assert {"mqtt.connect", "mqtt.publish", "at.command", "net.mqtt"} <= kinds
    for event in cloud.events.events:
        assert event.typed.KIND == event.kind


async def test_an_observer_of_some_kinds_gets_only_those(cloud, device):
    # what a fleet's modules do: only why a connection failed reaches the shard
    seen: list[str] = []
    config = ModuleConfig(echo=False)
    config.use_cloud(cloud.addresses)
    module = IcaModule(config, observer=lambda kind, **_: seen.append(kind), kinds=("net.auth",))
    at = AtClient(module.feed)
    module.on_output = at.feed
    try:
        await at.expect_ok(f'AT+IMQTTAUTH="{device.product_key}","{device.device_name}","wrong"')
        assert (await at.wait_urc("+IMQTTAUTH")).text == "+IMQTTAUTH:FAIL"
        await at.command("AT+NOPE")
    finally:
        await module.stop()
    assert seen == ["net.auth"]
