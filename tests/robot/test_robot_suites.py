"""Runs the Robot Framework suites in robot/ (so `make test` covers them) and proves
they can fail: a generated suite that expects OK from an unknown command must fail."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from robot.api import ExecutionResult
from robot.api import TestSuiteBuilder as SuiteBuilder   # not collected by pytest as a test class

ROOT = Path(__file__).resolve().parents[2]
SUITES = ROOT / "robot"
LIBRARY = f"{SUITES / 'IcaLibrary'}/"   # a package: Robot imports a directory path ending in /
HAVE_QEMU = shutil.which("qemu-system-arm") is not None and shutil.which("arm-none-eabi-gcc") is not None
MODULE_SUITES = {"Module Mqtt", "Module Coap Http", "Module Ota", "Module Errors"}


def run_robot(outputdir: Path, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "robot", "--outputdir", str(outputdir), "--consolewidth", "100", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=110)


def test_robot_suites_pass(tmp_path):
    options: list[str] = []
    if HAVE_QEMU:
        subprocess.run(["make", "-s", "-C", str(ROOT / "firmware"), "build/demo.elf"], check=True,
                       capture_output=True)
    else:
        options += ["--exclude", "firmware"]
    defined = SuiteBuilder().build(str(SUITES))
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
        assert ran.get("Firmware Demo", 0) > 0, ran


def test_a_wrong_expectation_fails_the_suite(tmp_path):
    suite = tmp_path / "must_fail.robot"
    suite.write_text(textwrap.dedent(f"""\
        *** Settings ***
        Library           {LIBRARY}
        Test Setup        Start Module On A Cloud
        Test Teardown     Stop All

        *** Test Cases ***
        Unknown Command Taken For OK
            Send AT    AT+NOSUCH

        Unknown Command Taken For What It Is
            Send AT    AT+NOSUCH    expected=+CME ERROR:4

        *** Keywords ***
        Start Module On A Cloud
            Start Cloud
            Start Module
        """))
    run = run_robot(tmp_path / "out", str(suite))
    assert run.returncode == 1, run.stdout   # Robot's rc: the number of failed tests
    result = ExecutionResult(str(tmp_path / "out" / "output.xml"))
    tests = {test.name: test for test in result.suite.all_tests}
    failed = tests["Unknown Command Taken For OK"]
    assert failed.status == "FAIL"
    assert "'AT+NOSUCH' ended with '+CME ERROR:4', expected 'OK'" in failed.message
    assert tests["Unknown Command Taken For What It Is"].status == "PASS"


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
    assert all(kw.doc for kw in doc.keywords), [kw.name for kw in doc.keywords if not kw.doc]


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
