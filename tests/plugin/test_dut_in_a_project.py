"""The pytest plugin as a firmware team uses it: a test file of its own in a fresh
folder (no conftest, no pytest-asyncio configuration: strict mode), run by pytest in
a subprocess against the demo firmware in QEMU; then the same file with pytest-xdist."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

PROJECT_TESTS = '''
import re
import pytest

TOPIC = "/a1demoPK/demo-device-01/user"


def test_sync_console_cloud_and_ota(dut):
    match = dut.console.expect(r"^BOOT ica-demo fw=(\\S+)", timeout=20)
    assert isinstance(match, re.Match) and match.group(1) == "1.0.0"
    dut.console.expect(r"^STEP mqtt_subscribe ok", timeout=30)
    dut.cloud.publish(TOPIC + "/command", '{"led":1}')
    ack = dut.cloud.expect_message(TOPIC + "/ack", r'"value":1', timeout=20)
    assert ack.text == '{"ack":"led","value":1}'
    assert dut.uart.expect(r"^\\+IMQTTRCVPUB:", direction="TA->TE").group(0)
    dut.console.expect(r"^STEP http_request ok", timeout=30)
    image = dut.cloud.push_ota(size=2048, version="1.2.0")
    dut.console.expect(r"^STEP ota ok", timeout=30)
    assert dut.console.lines[-1] and image.size == 2048
    assert dut.module.config.name and dut.wait_exit(30) == 0


@pytest.mark.asyncio
async def test_async_dut(dut, cloud):
    assert dut.session.cloud is cloud                   # one cloud per test, on the test's loop
    match = await dut.console.expect(r"^STEP mqtt_connect (ok)", timeout=30)
    assert match.group(1) == "ok"
    message = await dut.cloud.expect_message(TOPIC + "/telemetry", r'"seq"', timeout=20)
    assert message.topic == TOPIC + "/telemetry"


@pytest.mark.asyncio
async def test_async_module_fixtures_share_the_cloud(cloud, at, ica_module, mcu_session, pysim_firmware):
    assert (await at.command("AT")).ok
    session = await mcu_session(firmware=pysim_firmware)
    assert session.cloud is cloud                       # one cloud per test
    await session.wait_console(r"^STEP mqtt_connect ok", 30)
    assert ica_module.config.mqtt_url == cloud.addresses["mqtt"]


@pytest.mark.pysim(baud=115200)
def test_marker_sets_the_baud(dut, pysim_baud):
    assert pysim_baud == 115200 and dut.session.link.baud == 115200


@pytest.mark.parametrize("pysim_board", ["netduinoplus2"], indirect=True)
@pytest.mark.pysim(board="no-such-board")
def test_indirect_parametrize_beats_the_marker(pysim_board, pysim_emulator):
    assert pysim_board == "netduinoplus2" and pysim_emulator == "qemu"


def test_fails_and_shows_the_at_trace(dut):
    dut.console.expect(r"^STEP mqtt_connect ok", timeout=30)
    dut.console.expect(r"^STEP reboot ok", timeout=1)   # the demo never prints this
'''


def run_pytest(folder: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", *args], cwd=folder,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def project(tmp_path, demo_elf) -> Path:
    (tmp_path / "test_firmware.py").write_text(PROJECT_TESTS)
    return tmp_path


def outcomes(junit: Path) -> dict[str, str]:
    result = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        failed = case.find("failure") is not None or case.find("error") is not None
        result[case.get("name")] = "failed" if failed else "passed"
    return result


def test_plugin_in_a_project_under_xdist(project, demo_elf):
    """Sync and async tests, the marker and indirect parametrize, one failing test's trace
    in the report, its file and the JUnit XML; on two pytest-xdist workers."""
    junit = project / "junit.xml"
    done = run_pytest(project, "-n", "2", f"--pysim-firmware={demo_elf}", f"--junitxml={junit}")
    assert "created: 2/2 workers" in done.stdout, done.stdout[-2000:]
    assert outcomes(junit) == {
        "test_sync_console_cloud_and_ota": "passed", "test_async_dut": "passed",
        "test_async_module_fixtures_share_the_cloud": "passed", "test_marker_sets_the_baud": "passed",
        "test_indirect_parametrize_beats_the_marker[netduinoplus2]": "passed",
        "test_fails_and_shows_the_at_trace": "failed"}, done.stdout[-4000:]
    out = done.stdout
    # the failure points at the test's line and shows the last lines; the trace section follows
    assert ">       dut.console.expect(r\"^STEP reboot ok\", timeout=1)" in out
    assert "no console line matching '^STEP reboot ok' within 1 s; last lines:" in out
    assert "- pysim trace (" in out
    assert 'TE->TA AT+IMQTTAUTH="a1demoPK","demo-device-01",' in out and "demo-secret-01" not in out
    assert "TA->TE \\r\\n+IMQTTSTATE:2\\r\\n" in out and "console STEP mqtt_connect ok" in out
    assert "TA<->cloud mqtt.connect a1demoPK/demo-device-01" in out
    # the file named after the test, and the JUnit XML's property
    trace_file = project / "pysim-traces" / "test_firmware.py_test_fails_and_shows_the_at_trace.trace.txt"
    assert "TE->TA AT+IMQTTCONN\\r" in trace_file.read_text()
    assert sorted(p.name for p in (project / "pysim-traces").iterdir()) == [trace_file.name]
    failed = next(c for c in ET.parse(junit).getroot().iter("testcase")
                  if c.get("name") == "test_fails_and_shows_the_at_trace")
    properties = {p.get("name"): p.get("value") for p in failed.iter("property")}
    assert "TE->TA AT+IMQTTCONN\\r" in properties["pysim_trace"]
    assert properties["pysim_trace_file"] == str(trace_file)


def test_help_and_fixture_docs(tmp_path):
    done = run_pytest(tmp_path, "--help")
    text = " ".join(done.stdout.split())
    for option in ("--pysim-firmware=ELF", "--pysim-board=NAME", "--pysim-emulator", "--pysim-baud=N",
                   "--pysim-cloud=URL", "--pysim-profile"):
        assert option in text
    assert "(default: qemu)" in text and "(default: netduinoplus2)" in text and "(default: unpaced)" in text
    assert "(default: an in-process cloud per test)" in text
    # every option of the pysim group says its default
    group = done.stdout.split("ICA co-simulation (pysim):\n", 1)[1]
    group = " ".join(re.split(r"\n(?=\S)", group, maxsplit=1)[0].split())      # up to the next group's title
    helps = re.split(r" (?=--pysim-[a-z-]+[ =])", " " + group)[1:]
    assert len(helps) == 11, helps
    for help_text in helps:
        assert "(default:" in help_text, help_text
    done = run_pytest(tmp_path, "--fixtures")
    for name in ("dut", "pysim_firmware", "pysim_board", "pysim_emulator", "pysim_baud", "pysim_cloud", "pysim_trace",
                 "pysim_profile",
                 "cloud",
                 "device", "module_factory", "ica_module", "at", "mcu_session"):
        block = done.stdout.split(f"\n{name} ", 1)
        assert len(block) == 2, f"fixture {name} not listed"
        assert "no docstring available" not in block[1].split("\n\n", 1)[0], f"fixture {name} has no docstring"


UNSHARED_TESTS = '''
import pytest


def test_sync_at(at):
    pass


def test_sync_mcu_session(mcu_session):
    pass


@pytest.mark.pysim(cloud="mqtt://127.0.0.1:9")
def test_external_broker_and_device(device):
    pass


@pytest.mark.pysim(cloud="coap://127.0.0.1:9")
def test_external_without_mqtt(pysim_cloud):
    pass


@pytest.mark.pysim(firmware="no-such.elf")
def test_sync_dut_without_its_firmware(dut):
    pass


@pytest.mark.pysim(firmware="no-such.elf")
@pytest.mark.asyncio
async def test_async_dut_without_its_firmware(dut):
    pass


@pytest.mark.asyncio(loop_scope="module")
async def test_async_on_another_loop_than_its_fixtures(dut):
    await dut.console.expect("BOOT")
'''


def test_fixtures_that_cannot_share_the_cloud_fail_in_one_line(tmp_path, demo_elf):
    """An awaited-only fixture in a synchronous test, or an in-process one beside an external
    broker: a set-up error of one line naming what to use, never a second cloud or a traceback."""
    (tmp_path / "test_unshared.py").write_text(UNSHARED_TESTS)
    done = run_pytest(tmp_path, f"--pysim-firmware={demo_elf}")
    # each error section: its header, then exactly one line
    errors = dict(re.findall(r"_ ERROR at setup of (\w+) _+\n([^\n]*)\n(?=_+ ERROR|=+ )",
                             done.stdout))
    assert errors == {
        "test_sync_at": "`at` is for async tests (`async def`, pytest-asyncio); a synchronous test drives "
                        "the firmware, its module and the cloud through `dut` (dut.cloud, dut.module)",
        "test_sync_mcu_session": "`mcu_session` is for async tests (`async def`, pytest-asyncio); a "
                                 "synchronous test drives the firmware, its module and the cloud through `dut` "
                                 "(dut.cloud, dut.module)",
        "test_external_broker_and_device": "`device` needs the in-process cloud, but this test's cloud is "
                                           "the external mqtt://127.0.0.1:9 (--pysim-cloud / pysim(cloud=...)): "
                                           "use `dut` and `dut.cloud`, which talk to it",
        "test_external_without_mqtt": "--pysim-cloud / pysim(cloud=...) 'coap://127.0.0.1:9' names no "
                                      "MQTT broker: give mqtt://HOST:PORT",
        "test_sync_dut_without_its_firmware": "dut could not start: no firmware at no-such.elf: build it first "
                                              "(the demo: `make -C firmware`)",
        "test_async_dut_without_its_firmware": "dut could not start: no firmware at no-such.elf: build it first "
                                               "(the demo: `make -C firmware`)",
    }, done.stdout[-3000:]
    assert "Traceback" not in done.stdout and "pytest_plugin.py" not in done.stdout, done.stdout[-3000:]
    # a test on another loop than its fixtures is told so at its first call of the dut
    assert "FAILED test_unshared.py::test_async_on_another_loop_than_its_fixtures" in done.stdout
    assert ("E       RuntimeError: this dut runs on another event loop than this coroutine's: give the test the loop "
            "of its fixtures (pytest-asyncio's default, function-scoped)\n") in done.stdout, done.stdout[-3000:]


EXTERNAL_TESTS = '''
TOPIC = "/a1demoPK/demo-device-01/user"


def test_dut_on_the_external_broker(dut, pysim_cloud):
    assert dut.module.config.mqtt_url == pysim_cloud["mqtt"] and dut.cloud.cloud is None
    dut.console.expect(r"^STEP mqtt_subscribe ok", timeout=30)
    # both ways through the broker: the version the firmware reports, a command to it
    assert dut.cloud.expect_message("/ota/device/inform/a1demoPK/demo-device-01", r"1\\.0\\.0", timeout=20)
    dut.cloud.publish(TOPIC + "/command", '{"led":1}')
    assert dut.uart.expect(r'^\\+IMQTTRCVPUB:\\d+,"' + TOPIC + '/command"', timeout=20, direction="TA->TE")


def test_the_in_process_cloud_is_refused(cloud):
    pass
'''


async def test_external_broker_option(tmp_path, demo_elf, mosquitto):
    """--pysim-cloud: `dut` on mosquitto (the firmware's command and acknowledgement go through
    it), and the in-process `cloud` refused in one line instead of started beside it."""
    (tmp_path / "test_external.py").write_text(EXTERNAL_TESTS)
    done = await asyncio.to_thread(run_pytest, tmp_path, f"--pysim-firmware={demo_elf}", f"--pysim-cloud={mosquitto}")
    assert "PASSED test_external.py::test_dut_on_the_external_broker" in done.stdout, done.stdout[-3000:]
    assert (f"\n`cloud` needs the in-process cloud, but this test's cloud is the external {mosquitto} "
            "(--pysim-cloud / pysim(cloud=...)): use `dut` and `dut.cloud`, which talk to it\n") in done.stdout, \
        done.stdout[-3000:]
    assert "ERROR test_external.py::test_the_in_process_cloud_is_refused" in done.stdout
