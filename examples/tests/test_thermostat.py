"""The thermostat firmware against the ICA module model and the in-process cloud.

Plain synchronous tests: the `dut` fixture needs no asyncio set-up. The firmware and
its device come from pytest.ini (--pysim-firmware, --pysim-device).
"""

import json

import pytest

TOPIC = "/a1thermoPK/thermostat-01/user"


def test_boots_and_connects(dut):
    boot = dut.console.expect(r"^BOOT thermostat fw=(\S+)")
    assert boot.group(1) == "1.0.0"
    dut.console.expect(r"^READY", timeout=30)
    dut.uart.expect(r"^\+IMQTTSTATE:2$", direction="TA->TE")


def test_target_from_the_cloud_is_acknowledged(dut):
    dut.console.expect(r"^READY", timeout=30)
    dut.cloud.publish(f"{TOPIC}/set", '{"target":22}')
    dut.console.expect(r"^SET target 22$")
    status = dut.cloud.expect_message(f"{TOPIC}/status")
    assert json.loads(status.payload) == {"target": 22}


def test_console_reading_is_published(dut):
    dut.console.expect(r"^READY", timeout=30)
    dut.console.write("temp 19\n")
    dut.console.expect(r"^PUB ok")
    assert dut.cloud.expect_message(f"{TOPIC}/temp").text == '{"temp":19}'
    dut.console.expect_not(r"^ERROR", window=0.5)


def test_the_cloud_fixture_is_the_one_the_firmware_uses(dut, cloud):
    """`cloud` is the test's one cloud: the broker the firmware's module logged in to."""
    dut.console.expect(r"^READY", timeout=30)
    dut.console.write("temp 21\n")
    message = dut.cloud.expect_message(f"{TOPIC}/temp")
    published = cloud.events.find(lambda e: e.kind == "mqtt.publish" and e.detail["topic"] == message.topic)
    assert published[-1].device == ("a1thermoPK", "thermostat-01")
    assert cloud.registry.get("a1thermoPK", "thermostat-01") is not None


def test_exit_code(dut):
    dut.console.expect(r"^READY", timeout=30)
    dut.console.write("exit 3\n")
    assert dut.wait_exit(10) == 3


def test_smoke_scenario(dut):
    result = dut.play("scenarios/smoke.yaml")
    assert result.passed, result.failure


@pytest.mark.asyncio
async def test_async_style(dut):
    """The same parts awaited from an async test (pytest-asyncio)."""
    await dut.console.expect(r"^READY", timeout=30)
    await dut.cloud.publish(f"{TOPIC}/set", '{"target":18}')
    match = await dut.console.expect(r"^SET target (\d+)$")
    assert match.group(1) == "18"
