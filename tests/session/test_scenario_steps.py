"""Each scenario step kind against the demo firmware in QEMU (one session for the file:
the demo runs forever here, DEMO_EXIT_AFTER=0), passing and failing."""

from __future__ import annotations

import hashlib
import random

import pytest
import pytest_asyncio

from pysim.scenario import FAILED, PASSED, ScenarioPlayer, parse_scenario
from pysim.session import DEMO_DEVICE, Session, SessionOptions

pytestmark = pytest.mark.asyncio(loop_scope="module")
PK, DN, _ = DEMO_DEVICE


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def session(firmware_variant, tmp_path_factory):
    """The demo, running forever, its MQTT subscription done."""
    forever = firmware_variant(DEMO_EXIT_AFTER="0")
    session = Session(SessionOptions(firmware=forever, workdir=tmp_path_factory.mktemp("steps")))
    await session.start()
    await session.wait_console(r"^STEP http_request ok", 30)
    yield session
    await session.stop()


async def play(session: Session, steps: str, **options):
    """Play a scenario made of ``steps`` (YAML list items); the result's steps."""
    scenario = parse_scenario("steps:\n" + steps, "test.yaml")
    return (await ScenarioPlayer(scenario, session, **options).play()).steps


async def test_wait_console_returns_lines_in_order(echo_elf, tmp_path):
    echo = Session(SessionOptions(firmware=echo_elf, workdir=tmp_path))   # its own: the cursor starts at 0
    await echo.start()
    try:
        first, again = await play(echo, "  - wait_console: '^BOOT (\\S+)'\n"
                                        "  - wait_console: {regex: '^BOOT ', timeout: 0.3}\n")
    finally:
        await echo.stop()
    assert first.status == PASSED and "BOOT uart-echo" in first.detail
    assert again.status == FAILED                     # the cursor is past the only BOOT line
    assert "no console line matching '^BOOT ' within 0.3 s; last lines:" in again.detail


async def test_wait_uart_by_direction(session):
    to_module, from_module = await play(
        session, "  - wait_uart: {regex: '^AT\\+IMQTTAUTH=\"${pk}\"', direction: to_module}\n"
                 "  - wait_uart: {regex: '^AT\\+IMQTTAUTH=', direction: from_module, timeout: 0.3}\n")
    assert to_module.status == PASSED and 'AT+IMQTTAUTH="a1demoPK"' in to_module.detail
    assert from_module.status == FAILED and "no uart line matching" in from_module.detail


async def test_expect_absent_passes_on_silence_and_fails_on_a_line(session):
    quiet, noisy = await play(session, "  - expect_absent: {regex: 'STEP \\S+ fail', window: 0.3}\n"
                                       "  - expect_absent: {regex: '^AT\\+IMQTTPUB=', window: 5, source: uart}\n")
    assert quiet.status == PASSED
    assert noisy.status == FAILED and "came within 5 s" in noisy.detail   # telemetry every second


async def test_publish_and_expect_message(session):
    steps = await play(session, "  - publish: {topic: '/${pk}/${dn}/user/command', payload: '{\"led\":1}'}\n"
                                "  - wait_console: '^STEP led ok'\n"
                                "  - expect_message: {topic: '/${pk}/${dn}/user/ack', payload: '\"value\":1'}\n"
                                "  - expect_message: {topic: '/${pk}/${dn}/user/#', payload: 'no such', timeout: 0.3}\n")
    assert [s.status for s in steps] == [PASSED, PASSED, PASSED, FAILED]
    assert "/a1demoPK/demo-device-01/user/ack" in steps[2].detail
    assert "no message on '/a1demoPK/demo-device-01/user/#' with a payload matching 'no such'" in steps[3].detail


async def test_expect_request_coap_and_http(session):
    coap, http, missing = await play(session, "  - expect_request: coap\n"
                                              "  - expect_request: {protocol: http, path: 'user/http'}\n"
                                              "  - expect_request: {protocol: http, path: 'nowhere', timeout: 0.3}\n")
    assert coap.status == PASSED and "coap.request a1demoPK/demo-device-01" in coap.detail
    assert http.status == PASSED and "http.request" in http.detail
    assert missing.status == FAILED and "no HTTP request to a path matching 'nowhere'" in missing.detail


async def test_inject_fault_and_push_ota(session):
    steps = await play(session, "  - inject_fault: {fault: corrupt_ota_block, block: 2}\n"
                                "  - push_ota: {version: 2.0.0, size: 4000, seed: 3}\n"
                                "  - wait_console: {regex: '^LOG ota crc mismatch block 2, re-read', timeout: 20}\n"
                                "  - wait_console: {regex: '^STEP ota ok', timeout: 20}\n"
                                "  - expect_message: {topic: '/ota/device/inform/${pk}/${dn}', payload: '2\\.0\\.0'}\n")
    assert [s.status for s in steps] == [PASSED] * 5, steps
    md5 = hashlib.md5(random.Random(3).randbytes(4000)).hexdigest()
    assert f"md5 {md5}" in steps[1].detail
    # the firmware reports its new version after `STEP ota ok`: wait for the report itself
    await session.cloud.events.wait_for(
        lambda e: e.kind == "ota.inform" and e.device == (PK, DN) and e.detail.get("version") == "2.0.0")
    assert session.cloud.ota.versions[(PK, DN)] == "2.0.0"


async def test_inject_fault_is_skipped_on_request(session):
    step, = await play(session, "  - inject_fault: {fault: corrupt_ota_image}\n", skip_faults=True)
    assert step.status == PASSED and step.detail == "skipped (--no-faults)"
    assert session.module.config.faults.corrupt_ota_image is False


async def test_delay(session):
    step, = await play(session, "  - delay: 0.2\n")
    assert step.status == PASSED and step.seconds >= 0.2


async def test_wait_exit_fails_while_the_firmware_runs(session):
    step, = await play(session, "  - wait_exit: {code: 0, timeout: 0.3}\n")
    assert step.status == FAILED and "still runs after 0.3 s" in step.detail
