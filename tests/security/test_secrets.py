"""Defect 3 (issue 10): the device secret never reaches a log line, an event, a trace or the
NV file in clear, and the NV file is readable by its owner only."""

from __future__ import annotations

import stat

import pytest

from peripherals.ica import IcaModule, ModuleConfig
from pysim.te import AtClient
from pysim.trace import TraceWriter
from pysim.uart import TA_TO_TE, TE_TO_TA, UartRecord

SECRET = "Zq9-s3cr3t-VALUE-7781"


@pytest.fixture
def secret_device(cloud):
    return cloud.registry.add("a1PKsecret", "dev-s", SECRET)


async def traced_module(cloud, tmp_path, name="sec0"):
    """A module on the cloud whose UART bytes and events all go through a TraceWriter."""
    lines: list[str] = []
    writer = TraceWriter(lines.append)
    config = ModuleConfig(name=name, nv_path=tmp_path / f"{name}.nv.json")
    config.use_cloud(cloud.addresses)
    module = IcaModule(config, events=cloud.events)
    cloud.events.listeners.append(writer.event)

    def feed(data: bytes) -> None:
        writer.uart(UartRecord(0.0, TE_TO_TA, data))
        module.feed(data)

    at = AtClient(feed)

    def output(data: bytes) -> None:
        writer.uart(UartRecord(0.0, TA_TO_TE, data))
        at.feed(data)

    module.on_output = output
    return module, at, writer, lines


@pytest.mark.parametrize("quoting", ["quoted", "unquoted"])
async def test_secret_not_in_log_events_or_trace_at_loglevel_5(cloud, secret_device, tmp_path, quoting):
    module, at, writer, lines = await traced_module(cloud, tmp_path)
    try:
        await at.expect_ok("AT+ILOGLVL=5")
        secret_arg = f'"{SECRET}"' if quoting == "quoted" else SECRET
        await at.expect_ok(f'AT+IMQTTAUTH="{secret_device.product_key}","{secret_device.device_name}",{secret_arg}')
        assert (await at.wait_urc("+IMQTTAUTH")).text == "+IMQTTAUTH:OK"
        await at.expect_ok("AT+IMQTTAUTH?")       # the query masks it too
        writer.flush()
    finally:
        await module.stop()
    logs = [e for e in cloud.events.events if e.kind == "log"]
    assert any("IMQTTAUTH" in e.detail["text"] for e in logs), "level 5 logs every command"
    leaks = [str(e) for e in cloud.events.events if SECRET in str(e) or SECRET in repr(e.detail)]
    assert not leaks, leaks
    assert any("IMQTTAUTH" in line for line in lines)
    assert not [line for line in lines if SECRET in line]


async def test_nv_file_is_private_and_holds_no_clear_secret(cloud, secret_device, tmp_path):
    module, at, _writer, _lines = await traced_module(cloud, tmp_path)
    try:
        await at.expect_ok(f'AT+IMQTTAUTH="{secret_device.product_key}","{secret_device.device_name}","{SECRET}"')
        assert (await at.wait_urc("+IMQTTAUTH")).text == "+IMQTTAUTH:OK"
    finally:
        await module.stop()
    written = [p for p in tmp_path.iterdir() if p.is_file()]
    assert written, "the NV file was written"
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, (path, oct(path.stat().st_mode))
        assert SECRET.encode() not in path.read_bytes(), path

    # a new module on the same NV file (a power cycle) still authenticates from it
    again, at2, _w, _l = await traced_module(cloud, tmp_path)
    try:
        await at2.expect_ok("AT+IMQTTAUTH")
        assert (await at2.wait_urc("+IMQTTAUTH")).text == "+IMQTTAUTH:OK"
    finally:
        await again.stop()
