"""The demo firmware in QEMU against the module model and the cloud, end to end.

The cloud side is watched and driven by an independent paho-mqtt client (logged
in as the cloud's service user): it sees the telemetry, sends the LED command and
sees the acknowledgement. CoAP and HTTP are checked at the cloud's servers, OTA by
the firmware's own MD5 check and the progress it reports.
"""

from __future__ import annotations

import hashlib
import os
import json
import random

import pytest

from peripherals.ica import Faults
from pysim.events import kind_is
from pysim.peers import service_client
from pysim.runner import RunChecks, run_firmware
from pysim.scenario import builtin_scenario, load_scenario
from pysim.session import DEMO_DEVICE, Session, SessionOptions

PK, DN, SECRET = DEMO_DEVICE
TOPIC = f"/{PK}/{DN}/user"


@pytest.fixture
async def session_for(demo_elf, tmp_path):
    made: list[Session] = []

    async def make(**options) -> Session:
        options.setdefault("firmware", demo_elf)
        session = Session(SessionOptions(workdir=tmp_path, **options))
        made.append(session)
        await session.start()
        return session

    yield make
    for session in made:
        await session.stop()


async def test_demo_with_independent_paho_peer(session_for):
    session = await session_for(faults=Faults(corrupt_ota_blocks={1}))
    paho = await service_client(session.cloud, "app-backend")
    try:
        assert await paho.subscribe(f"{TOPIC}/telemetry", 1) == [1]
        assert await paho.subscribe(f"{TOPIC}/ack", 1) == [1]
        # telemetry reaches the independent subscriber
        await session.wait_console(r"^STEP mqtt_subscribe ok", 30)
        first = await paho.next_message(timeout=20)
        assert first.topic == f"{TOPIC}/telemetry" and "seq" in json.loads(first.payload)
        # a command published by paho reaches the firmware; its acknowledgement comes back
        await paho.publish(f"{TOPIC}/command", b'{"led":1}', 1)
        await session.wait_console(r"^STEP led ok", 20)
        while (message := await paho.next_message(timeout=20)).topic != f"{TOPIC}/ack":
            pass
        assert json.loads(message.payload) == {"ack": "led", "value": 1}
        # the CoAP and HTTP requests landed at the cloud
        coap = await session.events.wait_for(lambda e: e.kind == "coap.request" and e.device == (PK, DN))
        http = await session.events.wait_for(lambda e: e.kind == "http.request" and e.device == (PK, DN))
        assert coap.detail.get("path", "").endswith("/user/coap") or "coap" in str(coap)
        assert "user/http" in str(http)
        # a 64 KiB OTA image: every block read, block 1 corrupted on the wire and re-read, MD5 checked
        await session.wait_console(r"^STEP http_request ok", 20)
        image = random.Random(3).randbytes(64 * 1024)
        await session.cloud.ota.announce(PK, DN, session.cloud.ota.add_image(image, "2.0.0"))
        assert await session.wait_exit(60) == 0, session.console_lines
    finally:
        await paho.close()
    console = session.console_lines
    assert "LOG ota crc mismatch block 1, re-read" in console
    assert f"LOG ota image ok blocks 128 md5 {hashlib.md5(image).hexdigest()}" in console
    assert session.cloud.ota.versions[(PK, DN)] == "2.0.0"
    steps = [e.detail["step"] for e in session.events.find(kind_is("ota.progress"))]
    assert steps[0] == "0" and steps[-1] == "100"
    # the module answered AT+IOTABLOCK=1 once: the corrupted block, again
    rereads = session.events.find(lambda e: e.kind == "at.command" and e.detail.get("line") == "AT+IOTABLOCK=1")
    assert len(rereads) == 1


def demo_checks(timeout: float = 60) -> RunChecks:
    return RunChecks(scenario=load_scenario(builtin_scenario("demo")), timeout=timeout)


async def test_demo_scenario_passes_with_more_corrupted_blocks(session_for, backend):
    session = await session_for(faults=Faults(corrupt_ota_blocks={0, 5}), emulator=backend)
    result = await run_firmware(session, demo_checks())
    assert result.passed, result.summary()
    assert result.firmware_exit_code == 0 and session.emulator.name == backend
    assert sum("crc mismatch" in line for line in session.console_lines) == 3   # 0 and 5, and 1 from the scenario
    assert len(session.cloud_side.messages) >= 3


async def test_wrong_secret_fails_at_once_with_a_clear_verdict(session_for, firmware_variant):
    session = await session_for(firmware=firmware_variant(ICA_SECRET="not-the-secret"))
    result = await run_firmware(session, demo_checks(30))
    assert result.outcome == "fail"
    assert "STEP mqtt_auth fail" in result.reason          # the scenario's fail_text
    assert result.steps[0].status == "not run" or result.steps[0].status == "failed"


async def test_paced_uart_at_115200_baud_still_completes(session_for):
    session = await session_for(baud=115200)
    await session.wait_console(r"^STEP http_request ok", 30)
    records = [r for r in session.link.records if r.direction == "TE->TA"]
    sent = sum(len(r.data) for r in records)
    elapsed = records[-1].t - records[0].t
    # pacing holds the bytes to the wire rate (10 bits a byte), never faster
    assert elapsed >= (sent - len(records[-1].data)) * 10 / 115200 * 0.9


async def test_stop_ends_every_process(session_for):
    session = await session_for()
    pid = session.emulator.pid
    await session.wait_console(r"^STEP mqtt_connect ok", 30)
    await session.stop()
    with pytest.raises(ProcessLookupError):   # stop() waited for the process: it is gone
        os.kill(pid, 0)


async def test_firmware_detects_an_image_whose_md5_does_not_match(session_for):
    session = await session_for(faults=Faults(corrupt_ota_image=True))
    result = await run_firmware(session, demo_checks())
    assert result.outcome == "fail" and "STEP ota fail" in result.reason, result.summary()
    assert await session.wait_exit(10) == 8                     # the demo's OTA failure code
    progress = [e.detail.get("step") for e in session.events.find(kind_is("ota.progress"))]
    assert "-3" in progress                                      # AT+IOTAPGS=-3: verification failed
    assert session.cloud.ota.versions[(PK, DN)] == "1.0.0"       # still the old firmware
