"""Secrets never in responses, traces, logs, reports or world-readable files: every artefact
of a full demo run (QEMU firmware, module, cloud) and of ``pysim module --nv`` at
``AT+ILOGLVL=5`` is searched for the device secret."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import stat
import sys
from pathlib import Path

import pytest

from pysim.session import DEMO_DEVICE
from pysim.te import AtClient

ROOT = Path(__file__).resolve().parents[2]
PYSIM = [sys.executable, "-m", "pysim.cli"]
SECRET = "Mod-S3cret-in-files-42"


def leaks(directory: Path, secret: str) -> list[str]:
    """Files under ``directory`` holding ``secret`` (as bytes), with their modes."""
    found = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        if secret.encode() in path.read_bytes():
            found.append(f"{path.name} (mode {oct(stat.S_IMODE(path.stat().st_mode))})")
    return found


@pytest.mark.qemu
async def test_full_demo_run_leaves_no_secret_anywhere(tmp_path):
    if shutil.which("qemu-system-arm") is None:
        pytest.skip("qemu-system-arm is not installed")
    secret = DEMO_DEVICE[2]
    proc = await asyncio.create_subprocess_exec(
        *PYSIM, "run", "--quiet", "--trace-file", str(tmp_path / "trace.txt"), "--json", str(tmp_path / "verdict.json"),
        cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    out, err = await asyncio.wait_for(proc.communicate(), 180)
    (tmp_path / "stdout.txt").write_bytes(out)
    (tmp_path / "stderr.txt").write_bytes(err)
    assert proc.returncode == 0, (out + err).decode()[-2000:]
    verdict = json.loads((tmp_path / "verdict.json").read_text())   # the run passed: AUTH was made
    assert verdict["passed"] and verdict["exit_code"] == 0
    assert all(step["status"] == "passed" for step in verdict["steps"]), verdict["steps"]
    assert b'AT+IMQTTAUTH="a1demoPK","demo-device-01","********"' in (tmp_path / "trace.txt").read_bytes()
    assert leaks(tmp_path, secret) == []


async def test_module_process_with_nv_at_log_level_5_leaves_no_secret(tmp_path):
    nv = tmp_path / "nv.json"
    proc = await asyncio.create_subprocess_exec(
        *PYSIM, "module", "--listen", "tcp:127.0.0.1:0", "--nv", str(nv), "--device", f"a1PKfile:dev-f:{SECRET}",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        first = json.loads(await asyncio.wait_for(proc.stdout.readline(), 20))
        _, host, port = first["listen"].split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        client = AtClient(writer.write)
        pump = asyncio.create_task(_pump(reader, client))
        await client.expect_ok("AT+ILOGLVL=5")
        await client.expect_ok(f'AT+IMQTTAUTH="a1PKfile","dev-f","{SECRET}"')
        assert (await client.wait_urc("+IMQTTAUTH")).text == "+IMQTTAUTH:OK"
        response = await client.expect_ok("AT+IMQTTAUTH?")
        assert SECRET not in str(response.lines)
        writer.close()
        pump.cancel()
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), 20)
    (tmp_path / "stdout.txt").write_bytes(out)
    (tmp_path / "stderr.txt").write_bytes(err)
    assert b"log level=5" in out or b"log " in out, out[-500:]
    assert leaks(tmp_path, SECRET) == []
    assert stat.S_IMODE(nv.stat().st_mode) == 0o600


async def _pump(reader: asyncio.StreamReader, client: AtClient) -> None:
    while data := await reader.read(4096):
        client.feed(data)
