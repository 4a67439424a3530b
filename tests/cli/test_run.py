"""`pysim run` as a CI runner: every option and exit code, run as a user runs it
(a subprocess), against real firmware in QEMU, the in-process cloud or mosquitto."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pysim.cli import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_SETUP, EXIT_TIMEOUT, EXIT_USAGE

ROOT = Path(__file__).resolve().parents[2]
PYSIM = [sys.executable, "-m", "pysim.cli"]


async def pysim_run(*args: str, timeout: float = 120, **env: str) -> tuple[int, str, str]:
    """Run `pysim run ARGS` to its end: (exit code, stdout, stderr)."""
    import os
    proc = await asyncio.create_subprocess_exec(*PYSIM, "run", *map(str, args), cwd=ROOT,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                                                env={**os.environ, **env})
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def one_clear_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


async def test_demo_passes_with_json_junit_and_trace_files(tmp_path):
    verdict, junit, trace = tmp_path / "verdict.json", tmp_path / "junit.xml", tmp_path / "trace.txt"
    code, out, err = await pysim_run("--quiet", "--json", verdict, "--junit", junit, "--trace-file", trace)
    assert code == 0, err
    assert "verdict: PASS" in out and "TE->TA" not in out          # --quiet: no live trace
    data = json.loads(verdict.read_text())
    assert data["passed"] is True and data["exit_code"] == 0 and data["firmware_exit_code"] == 0
    assert [s["status"] for s in data["steps"]] == ["passed"] * len(data["steps"])
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite.get("failures") == "0" and int(suite.get("tests")) == len(data["steps"]) + 1
    assert "TE->TA AT+IOTABLOCK=1\\r" in suite.find("system-out").text
    text = trace.read_text()
    assert "TE->TA AT+IOTABLOCK=1\\r" in text and "console DONE 0" in text


async def test_expect_text_passes_once_every_text_was_seen(echo_elf, tmp_path):
    code, out, err = await pysim_run("--firmware", echo_elf, "--expect-text", "BOOT", "--expect-text", "uart-echo",
                                     "--timeout", "30")
    assert code == 0, err
    assert "expect-text 'BOOT': seen" in out and "console BOOT uart-echo" in out   # the live trace


async def test_fail_text_fails_at_once(echo_elf, tmp_path):
    verdict = tmp_path / "v.json"
    code, out, err = await pysim_run("--firmware", echo_elf, "--fail-text", "uart-echo", "--expect-text", "never",
                                     "--timeout", "60", "--json", verdict, "--quiet")
    assert code == EXIT_FAILED
    assert one_clear_line(err) == "pysim run: FAIL: fail-text 'uart-echo' on the console: 'BOOT uart-echo'"
    assert json.loads(verdict.read_text())["outcome"] == "fail"


async def test_timeout_and_its_exit_code(echo_elf, tmp_path):
    junit = tmp_path / "junit.xml"
    code, out, err = await pysim_run("--firmware", echo_elf, "--expect-text", "never comes", "--timeout", "1",
                                     "--junit", junit, "--quiet")
    assert code == EXIT_TIMEOUT == 42
    assert one_clear_line(err) == ("pysim run: TIMEOUT: timed out after 1 s waiting for "
                                   "expect-text 'never comes'")
    failures = [c.get("name") for c in ET.parse(junit).getroot().iter("testcase") if c.find("failure") is not None]
    assert failures == ["expect-text 'never comes'", "run"]
    code, _, _ = await pysim_run("--firmware", echo_elf, "--expect-text", "never", "--timeout", "0.5",
                                 "--timeout-exit-code", "7", "--quiet")
    assert code == 7


async def test_without_checks_the_firmware_exit_code_decides(firmware_variant):
    quick = firmware_variant(DEMO_EXIT_AFTER="telemetry:1")
    code, out, err = await pysim_run("--firmware", quick, "--quiet")
    assert code == 0, err
    assert "the firmware exited with 0" in out
    wrong = firmware_variant(ICA_SECRET="not-the-secret")
    code, out, err = await pysim_run("--firmware", wrong, "--quiet")
    assert code == EXIT_FAILED
    assert one_clear_line(err) == "pysim run: FAIL: the firmware exited with 2"


async def test_device_registers_the_firmwares_credentials(firmware_variant):
    other = firmware_variant(ICA_PK="a1otherPK", ICA_DN="dev-9", ICA_SECRET="secret-9", DEMO_EXIT_AFTER="telemetry:1")
    code, out, err = await pysim_run("--firmware", other, "--device", "a1otherPK:dev-9:secret-9",
                                     "--device", "a1spare:dev:sec", "--quiet")
    assert code == 0, err
    # without --device the cloud knows only the demo's device: the firmware's AUTH fails
    code, out, err = await pysim_run("--firmware", other, "--quiet", "--fail-text", "STEP mqtt_auth fail")
    assert code == EXIT_FAILED and "fail-text" in err


async def test_scenario_file_and_its_errors(echo_elf, tmp_path):
    good = tmp_path / "echo.yaml"
    good.write_text("steps:\n  - wait_console: '^BOOT (\\S+)'\n  - expect_absent: {regex: DONE, window: 0.3}\n")
    code, out, err = await pysim_run("--firmware", echo_elf, "--scenario", good, "--quiet")
    assert code == 0, err
    assert "step  1 passed  wait_console" in out and "step  2 passed  expect_absent" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps:\n  - wait_console: '^BOOT'\n  - wait_console: {regex: x, timout: 3}\n")
    code, out, err = await pysim_run("--firmware", echo_elf, "--scenario", bad)
    assert code == EXIT_USAGE
    assert one_clear_line(err) == (f"pysim run: {bad}:3: step 2 (wait_console): unknown field 'timout'; "
                                   "fields: regex, timeout")
    failing = tmp_path / "failing.yaml"
    failing.write_text("steps:\n  - wait_console: {regex: 'never', timeout: 0.5}\n")
    code, out, err = await pysim_run("--firmware", echo_elf, "--scenario", failing, "--quiet")
    assert code == EXIT_FAILED
    assert "step 1 (wait_console 'never', line 2) failed: no console line matching 'never' within 0.5 s" in err


async def test_external_mosquitto_broker_instead_of_the_in_process_cloud(demo_elf, mosquitto, tmp_path):
    scenario = tmp_path / "mqtt-only.yaml"
    scenario.write_text(
        "steps:\n"
        "  - wait_console: {regex: '^STEP mqtt_subscribe ok', timeout: 20}\n"
        "  - expect_message: {topic: '/ota/device/inform/${pk}/${dn}', payload: '1\\.0\\.0'}\n"
        "  - wait_uart: {regex: '^AT\\+ICOAPAUTH=', direction: to_module}\n")
    code, out, err = await pysim_run("--firmware", demo_elf, "--cloud", mosquitto, "--scenario", scenario,
                                     "--device", "a1demoPK:demo-device-01:demo-secret-01")
    assert code == 0, err + out
    assert "step  2 passed  expect_message" in out
    assert "mqtt.connect" not in out        # no in-process broker: its events are absent


async def test_a_set_up_error_is_one_line_from_the_process(tmp_path):
    not_elf = tmp_path / "app.elf"
    not_elf.write_text("not an elf")
    code, _, err = await pysim_run("--firmware", not_elf)
    assert code == EXIT_SETUP
    assert one_clear_line(err) == f"pysim run: {not_elf} is not an ELF file (it starts with b'not '): give the linked .elf"


def test_set_up_errors_are_one_clear_line(tmp_path, echo_elf, capsys, monkeypatch):
    """The other set-up errors, run in this process (main() as the entry point calls it)."""
    from pysim.cli import main

    def pysim_run_here(*args: str | Path, **env: str) -> tuple[int, str]:
        with monkeypatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, value)
            code = main(["run", *map(str, args)])
        return code, capsys.readouterr().err

    code, err = pysim_run_here("--firmware", tmp_path / "missing.elf")
    assert code == EXIT_SETUP and "no firmware at" in one_clear_line(err)
    code, err = pysim_run_here("--firmware", echo_elf, "--emulator", "renode", PYSIM_RENODE="/nonexistent/renode")
    assert code == EXIT_SETUP and "renode" in one_clear_line(err)
    code, err = pysim_run_here("--firmware", echo_elf, "--board", "no-such-board")
    assert code == EXIT_USAGE and "unknown board 'no-such-board' (known boards: " in one_clear_line(err)
    code, err = pysim_run_here("--firmware", echo_elf, "--emulator", "qemu", PYSIM_QEMU="/nonexistent/qemu")
    assert code == EXIT_SETUP
    assert "is not on PATH" in one_clear_line(err) and "qemu" in err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        code, err = pysim_run_here("--firmware", echo_elf, "--mqtt-port", str(busy.getsockname()[1]))
    assert code == EXIT_SETUP and "port is in use" in one_clear_line(err)
    code, err = pysim_run_here("--firmware", echo_elf, "--cloud", "mqtt://127.0.0.1:1")
    assert code == EXIT_SETUP and "cannot reach the broker" in one_clear_line(err)


async def started_echo_run(echo_elf) -> asyncio.subprocess.Process:
    """A `pysim run` of the echo firmware that waits for a text that never comes, once booted."""
    proc = await asyncio.create_subprocess_exec(*PYSIM, "run", "--firmware", str(echo_elf), "--expect-text", "never",
                                                "--timeout", "60", cwd=ROOT, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    while b"console BOOT uart-echo" not in await asyncio.wait_for(proc.stdout.readline(), 30):
        pass
    return proc


async def test_interrupted_run_stops_everything(echo_elf):
    proc = await started_echo_run(echo_elf)
    proc.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == EXIT_INTERRUPTED
    assert one_clear_line(err.decode()) == "pysim run: interrupted; everything stopped"


async def test_version_and_help():
    proc = await asyncio.create_subprocess_exec(*PYSIM, "--version", stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    assert proc.returncode == 0 and out.decode().startswith("pysim 0.")
    proc = await asyncio.create_subprocess_exec(*PYSIM, "run", "--help", stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    text = out.decode()
    assert "(default: 90.0)" in text and "(default: 42)" in text and "examples:" in text
    assert " 42  timed out" in text and "130  interrupted" in text


async def test_profile_reaches_the_module(demo_elf, tmp_path):
    scenario = tmp_path / "state.yaml"
    scenario.write_text("steps:\n  - wait_uart: {regex: '^\\+IMQTTSTATE:(\\d)$', direction: from_module}\n")
    # sdk3 reports a connected MQTT link as +IMQTTSTATE:1 (the spec: 2)
    code, out, err = await pysim_run("--firmware", demo_elf, "--profile", "sdk3", "--scenario", scenario)
    assert code == 0, err
    assert "TA->TE \\r\\n+IMQTTSTATE:1\\r\\n" in out and "+IMQTTSTATE:2" not in out


def children(pid: int) -> dict[int, str]:
    """pid -> command line of the live (not zombie) children of ``pid``."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(stat[1]) == pid and stat[0] != "Z":
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):
            continue
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


async def test_a_killed_run_leaves_no_emulator(echo_elf):
    # what a CI job's hard time-out does: SIGKILL, no chance to clean up; the kernel ends QEMU
    proc = await started_echo_run(echo_elf)
    qemu = [pid for pid, cmdline in children(proc.pid).items() if "qemu-system" in cmdline]
    assert len(qemu) == 1
    proc.kill()
    await asyncio.wait_for(proc.wait(), 10)
    deadline = asyncio.get_running_loop().time() + 10
    while alive(qemu[0]) and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    assert not alive(qemu[0]), "QEMU outlived the pysim run that was killed"
