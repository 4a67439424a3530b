"""A device secret given to the Robot library never reaches Robot's output files.

Real Robot runs (``python -m robot`` at log level TRACE, so every keyword argument
and return value is written) of suites that hand a known secret to the keywords
as a Robot ``Secret`` from the environment: `Register Device`, `Send AT` of the
AUTH command (with echo on, so the module sends the line back), `Start MCU
Session` with ``identity`` and a firmware that authenticates with it, the UART
keywords returning AUTH lines, a failure message with the trace tail, and the
whole trace logged at `Stop All`. Each run must pass, the masked AUTH line must be
in the log (so the lines were there to leak), and the secret in none of
output.xml, log.html and report.html.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from robot.api import ExecutionResult

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = f"{ROOT / 'robot' / 'IcaLibrary'}/"
OUTPUTS = ("output.xml", "log.html", "report.html")
SECRET = "s3cr3t-Robot-7f1e9a"                           # the module-level device's
THERMO = ("a1thermoPK", "thermostat-01", "thermo-secret-01")   # the example firmware's
MASKED = "********"


def run_suite(tmp_path: Path, body: str, env: dict[str, str]) -> ExecutionResult:
    suite = tmp_path / "secrets.robot"
    suite.write_text(textwrap.dedent(body).replace("LIBRARY", LIBRARY))
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "robot", "--loglevel", "TRACE", "--outputdir", str(out),
                          "--consolewidth", "100", str(suite)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=110, env={**os.environ, **env})
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    return ExecutionResult(str(out / "output.xml"))


def assert_secret_in_no_output(out: Path, secret: str) -> None:
    for name in OUTPUTS:
        text = (out / name).read_text(encoding="utf-8", errors="replace")
        assert secret not in text, f"the secret is in {name}"
    log = (out / "output.xml").read_text()
    assert "AUTH=&quot;" in log or 'AUTH="' in log, "no AUTH line logged: nothing was there to leak"
    assert MASKED in log


def test_a_module_suites_secret_stays_out_of_robots_outputs(tmp_path):
    result = run_suite(tmp_path, """\
        *** Settings ***
        Library           LIBRARY
        Suite Teardown    Stop All

        *** Variables ***
        ${PK}                 a1secretPK
        ${DN}                 secret-device-01
        ${SECRET: Secret}     %{TEST_DEVICE_SECRET}

        *** Test Cases ***
        Authenticates With A Secret And Logs None Of It
            Start Cloud
            Register Device    ${PK}    ${DN}    ${SECRET}
            Start Module    echo=True
            ${r}=    Send AT    AT+IMQTTAUTH="${PK}","${DN}","${SECRET}"    secret=${SECRET}
            Raw Output Should Contain    AT+IMQTTAUTH=    ${r}
            ${auth}=    Wait For URC    +IMQTTAUTH
            Should Be Equal    ${auth}    +IMQTTAUTH:OK
            ${line}=    Wait For Line On Uart    AUTH=    uart=at-te
            Should Contain    ${line.line}    "********"
            Send AT    AT+IMQTTCONN
            Wait For URC    +IMQTTSTATE    contains=:2
            Run Keyword And Expect Error    *Trace tail*
            ...    Wait For Line On Uart    never there    timeout=0.3s    uart=at
            Run Keyword And Expect Error    *pass it again as secret=*
            ...    Send AT    AT+IMQTTAUTH="${PK}","${DN}","${SECRET}"
            Log Variables
        """, {"TEST_DEVICE_SECRET": SECRET})
    assert result.statistics.total.passed == 1
    assert_secret_in_no_output(tmp_path / "out", SECRET)


@pytest.mark.skipif(any(shutil.which(t) is None for t in ("qemu-system-arm", "arm-none-eabi-gcc")),
                    reason="needs qemu-system-arm and arm-none-eabi-gcc (make deps installs them)")
def test_a_firmwares_identity_stays_out_of_robots_outputs(tmp_path, thermostat_elf):
    result = run_suite(tmp_path, f"""\
        *** Settings ***
        Library           LIBRARY
        Suite Teardown    Stop All

        *** Variables ***
        ${{IDENTITY: Secret}}    %{{TEST_DEVICE_IDENTITY}}

        *** Test Cases ***
        A Firmware Authenticates With Its Identity And None Of It Is Logged
            Start MCU Session    {thermostat_elf}    identity=${{IDENTITY}}    trace=True
            Wait For Line On Uart    READY
            ${{line}}=    Wait For Line On Uart    AUTH=    uart=at-te
            Should Contain    ${{line.line}}    "********"
            Run Keyword And Expect Error    *Trace tail of device 1*
            ...    Wait For Line On Uart    never there    timeout=0.3s
            Write Line To Uart    exit 0    uart=console    line_end=\\n
            MCU Should Exit With    0
        """, {"TEST_DEVICE_IDENTITY": ":".join(THERMO)})
    assert result.statistics.total.passed == 1
    assert_secret_in_no_output(tmp_path / "out", THERMO[2])
    assert "trace of MCU session 1" in (tmp_path / "out" / "output.xml").read_text()
