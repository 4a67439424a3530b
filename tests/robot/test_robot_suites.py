"""Runs the Robot Framework suites in robot/ (so `make test` covers them), the module
suites in parallel with pabot, and proves they can fail: generated suites with a
wrong expectation must fail, with the trace tail in the failure message. Checks the
keyword documentation `make docs` builds."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from robot.api import ExecutionResult
from robot.api import TestSuiteBuilder as SuiteBuilder   # not collected by pytest as a test class

ROOT = Path(__file__).resolve().parents[2]
SUITES = ROOT / "robot"
LIBRARY = f"{SUITES / 'IcaLibrary'}/"   # a package: Robot imports a directory path ending in /
HAVE_QEMU = shutil.which("qemu-system-arm") is not None and shutil.which("arm-none-eabi-gcc") is not None
MODULE_SUITES = {"Module Mqtt", "Module Coap Http", "Module Ota", "Module Errors"}
MODULE_SUITE_FILES = ["module_mqtt.robot", "module_coap_http.robot", "module_ota.robot", "module_errors.robot"]


def run_robot(outputdir: Path, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "robot", "--outputdir", str(outputdir), "--consolewidth", "100", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=110)


def test_robot_suites_pass(tmp_path):
    options: list[str] = ["--exclude", "renode"]   # test_renode_robot.py runs that suite
    if HAVE_QEMU:
        subprocess.run(["make", "-s", "-C", str(ROOT / "firmware"), "build/demo.elf"], check=True,
                       capture_output=True)
        # firmware_console.robot: the example project's firmware, which reads its console
        subprocess.run(["make", "-s", "-C", str(ROOT / "examples" / "firmware")], check=True, capture_output=True)
    else:
        options += ["--exclude", "firmware"]
    defined = SuiteBuilder().build(str(SUITES))
    defined.filter(excluded_tags=["renode"])
    if not HAVE_QEMU:
        defined.filter(excluded_tags=["firmware"])
    run = run_robot(tmp_path, *options, str(SUITES))
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    result = ExecutionResult(str(tmp_path / "output.xml"))
    stats = result.statistics.total
    assert (stats.failed, stats.skipped) == (0, 0)
    assert stats.passed == defined.test_count > 0
    ran = {suite.name: suite.test_count for suite in result.suite.suites}
    assert MODULE_SUITES <= set(ran) and all(ran[name] > 0 for name in MODULE_SUITES), ran
    if HAVE_QEMU:
        assert ran.get("Firmware Demo", 0) > 0 and ran.get("Two Devices", 0) == 3, ran
        assert ran.get("Firmware Console", 0) == 3 and ran.get("Module Profiles", 0) == 5, ran


def test_a_wrong_expectation_fails_the_suite(tmp_path):
    suite = tmp_path / "must_fail.robot"
    suite.write_text(textwrap.dedent(f"""\
        *** Settings ***
        Library           {LIBRARY}
        Test Setup        Start Module On A Cloud
        Test Teardown     Stop All

        *** Test Cases ***
        Unknown Command Taken For OK
            Send AT    AT+CGMI
            Send AT    AT+NOSUCH

        Unknown Command Taken For What It Is
            Send AT    AT+NOSUCH    expected=+CME ERROR:4

        *** Keywords ***
        Start Module On A Cloud
            Start Cloud
            Start Module    echo=False
        """))
    run = run_robot(tmp_path / "out", str(suite))
    assert run.returncode == 1, run.stdout   # Robot's rc: the number of failed tests
    result = ExecutionResult(str(tmp_path / "out" / "output.xml"))
    tests = {test.name: test for test in result.suite.all_tests}
    failed = tests["Unknown Command Taken For OK"]
    assert failed.status == "FAIL"
    head, tail = failed.message.split("\nTrace tail of module 1 (s since it started):\n")
    assert head == "'AT+NOSUCH' ended with '+CME ERROR:4', expected 'OK'; response lines: []"
    # the tail: both directions, in order, with times
    lines = [line.split(maxsplit=2) for line in tail.splitlines()]
    assert [line[1:] for line in lines[-2:]] == [["TE->TA", "AT+NOSUCH\\r"], ["TA->TE", "\\r\\n+CME ERROR:4\\r\\n"]]
    assert ["TE->TA", "AT+CGMI\\r"] in [line[1:] for line in lines]
    assert all(float(line[0]) >= 0 for line in lines)
    assert tests["Unknown Command Taken For What It Is"].status == "PASS"


@pytest.mark.skipif(not HAVE_QEMU, reason="needs qemu-system-arm and arm-none-eabi-gcc (make deps installs them)")
def test_a_failing_console_line_ends_the_wait_with_the_trace_tail(tmp_path):
    """A failing string seen on the firmware's console fails the wait at once; the message
    ends with the device's console lines, AT lines both ways and cloud events. (The
    failing line comes after several cloud round trips: registered after the boot,
    it cannot miss it.)"""
    subprocess.run(["make", "-s", "-C", str(ROOT / "firmware"), "build/demo.elf"], check=True, capture_output=True)
    suite = tmp_path / "must_fail_firmware.robot"
    suite.write_text(textwrap.dedent(f"""\
        *** Settings ***
        Library           {LIBRARY}
        Test Teardown     Stop All

        *** Test Cases ***
        HTTP Request Taken For A Failure
            Start MCU Session
            Register Failing Uart String    STEP http_request ok
            Wait For Line On Uart    DONE    timeout=60s
        """))
    run = run_robot(tmp_path / "out", str(suite))
    assert run.returncode == 1, run.stdout
    test = ExecutionResult(str(tmp_path / "out" / "output.xml")).suite.tests[0]
    head, tail = test.message.split("\nTrace tail of device 1 (s since it started):\n")
    assert head.startswith("looking for 'DONE' on console: failing string 'STEP http_request ok' seen: console "), head
    assert "within 60 s" not in head
    labels = {line.split()[1] for line in tail.splitlines()}
    assert {"TE->TA", "TA->TE", "console"} <= labels, tail


def test_module_suites_pass_in_parallel_with_pabot(tmp_path):
    # --chunk: one robot process per pabot process, each taking half the suites
    command = [sys.executable, "-m", "pabot.pabot", "--no-pabotlib", "--processes", "2", "--chunk",
               "--command", sys.executable, "-m", "robot", "--end-command",
               "--outputdir", str(tmp_path), *(str(SUITES / name) for name in MODULE_SUITE_FILES)]
    # in tmp_path: pabot leaves its .pabotsuitenames in the working directory
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=110)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    result = ExecutionResult(str(tmp_path / "output.xml"))
    defined = sum(SuiteBuilder().build(str(SUITES / name)).test_count for name in MODULE_SUITE_FILES)
    stats = result.statistics.total
    assert (stats.passed, stats.failed, stats.skipped) == (defined, 0, 0)
    assert {suite.name for suite in result.suite.suites} == MODULE_SUITES
    # two robot processes ran the suites: pabot keeps one output per process
    assert len(list((tmp_path / "pabot_results").glob("*/output.xml"))) == 2


def test_make_docs_builds_the_keyword_documentation(tmp_path):
    """`make docs` writes the libdoc HTML of the library (its contents: see
    test_libdoc_renders_every_keyword)."""
    run = subprocess.run(["make", "-s", "-o", ".venv/.stamp", "docs", f"DOCS_DIR={tmp_path}"], cwd=ROOT,
                         capture_output=True, text=True, timeout=110)
    assert run.returncode == 0, run.stdout + run.stderr
    html = (tmp_path / "robot" / "IcaLibrary.html").read_text()
    assert "Wait For Line On Uart" in html and "Trace tail" in html


def test_libdoc_renders_every_keyword(tmp_path):
    from robot.libdoc import LibraryDocumentation

    doc = LibraryDocumentation(LIBRARY)
    names = {kw.name for kw in doc.keywords}
    assert {"Start Cloud", "Register Device", "Start Module", "Send AT", "Send AT With Data",
            "Response Should Contain", "Wait For URC", "URC Payload Should Be", "Subscribe As Cloud",
            "Publish As Cloud", "Cloud Should Receive", "Add Firmware Image", "Announce Firmware",
            "Block CRC Should Match", "Module Should Be Connected", "Stop Cloud", "Stop All",
            "Start MCU Session", "Console Should Show", "MCU Should Exit With"} <= names
    assert "MD5 Should Be" in names and "URC Field" in names
    assert {"Wait For Line On Uart", "Write Line To Uart", "Should Not Be On Uart", "Register Failing Uart String",
            "Set Default Uart Timeout", "Set AT Timeout", "Switch Module", "Switch Device",
            "Wait For Cloud Event"} <= names
    incomplete = [kw.name for kw in doc.keywords
                  if "return" not in kw.short_doc.lower() or "Fails" not in kw.doc or "Example:" not in kw.doc]
    assert incomplete == []
    sections = re.findall(r"^= (.+) =$", doc.doc, re.M)
    assert {"Devices and modules", "UARTs", "Timeouts", "Failures", "Deprecated", "Module profiles",
            "Secrets"} <= set(sections)
    # the profile choices shown and checked by Robot are the module's own
    from peripherals.ica.profiles import PROFILES
    profile = {arg.name: arg for arg in doc.inits[0].args}["profile"]
    assert profile.default == "spec" and [str(t) for t in profile.type.nested] == [f"'{n}'" for n in PROFILES]


def test_a_suite_without_teardown_leaves_nothing_to_the_next(tmp_path):
    """The library's listener runs Stop All when a suite ends, teardown or not."""
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "a_forgets.robot").write_text(textwrap.dedent(f"""\
        *** Settings ***
        Library    {LIBRARY}

        *** Test Cases ***
        Leaves A Cloud And A Module Running
            Start Cloud
            Start Module
            Send AT    AT
        """))
    (tmp_path / "suites" / "b_checks.robot").write_text(textwrap.dedent("""\
        *** Test Cases ***
        Nothing Of Suite A Is Left
            ${threads}=    Evaluate    [t.name for t in threading.enumerate()]    modules=threading
            Should Not Contain    ${threads}    IcaLibrary-loop
        """))
    run = run_robot(tmp_path / "out", str(tmp_path / "suites"))
    assert run.returncode == 0, run.stdout
