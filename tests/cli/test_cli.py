"""The `pysim` command line as a user runs it: real subprocesses, real sockets and ptys."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import pytest

from pysim.te import AtClient

ROOT = Path(__file__).resolve().parents[2]
PYSIM = [sys.executable, "-m", "pysim.cli"]


class Running:
    def __init__(self, proc: asyncio.subprocess.Process, first: dict):
        self.proc, self.first = proc, first

    async def stop(self) -> tuple[int, str]:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        out = await asyncio.wait_for(self.proc.stdout.read(), 15)
        return await asyncio.wait_for(self.proc.wait(), 15), out.decode(errors="replace")


@pytest.fixture
async def spawn():
    running: list[asyncio.subprocess.Process] = []

    async def start(*args: str) -> Running:
        proc = await asyncio.create_subprocess_exec(*PYSIM, *args, cwd=ROOT, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.PIPE)
        running.append(proc)
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        assert line, (await proc.stderr.read()).decode()
        return Running(proc, json.loads(line))

    yield start
    for proc in running:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def at_over_tcp(address: str) -> tuple[AtClient, asyncio.StreamWriter, asyncio.Task]:
    _, host, port = address.split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    client = AtClient(writer.write)

    async def pump():
        while data := await reader.read(4096):
            client.feed(data)

    return client, writer, asyncio.create_task(pump())


async def test_module_over_tcp_with_in_process_cloud(spawn):
    run = await spawn("module", "--listen", "tcp:127.0.0.1:0", "--device", "a1cli:dev:sec")
    assert set(run.first) == {"listen", "mqtt", "mqtts", "ca", "coap", "http"}
    assert run.first["listen"].startswith("tcp:127.0.0.1:")
    client, writer, pump = await at_over_tcp(run.first["listen"])
    assert (await client.command("AT")).ok
    await client.expect_ok('AT+IMQTTAUTH="a1cli","dev","sec"')
    assert (await client.wait_urc("+IMQTTAUTH")).text == "+IMQTTAUTH:OK"
    await client.expect_ok("AT+IMQTTCONN")
    assert (await client.wait_urc("+IMQTTSTATE")).text == "+IMQTTSTATE:2"
    writer.close()
    pump.cancel()
    code, out = await run.stop()
    assert code == 0
    # the readable trace, with the device secret masked (issue 10, defect 3)
    assert 'TE->TA AT+IMQTTAUTH="a1cli","dev","********"\\r' in out and '"sec"' not in out
    assert "TA<->cloud mqtt.connect a1cli/dev" in out


async def test_module_with_the_sdk3_profile(spawn):
    run = await spawn("module", "--listen", "tcp:127.0.0.1:0", "--device", "a1cli:dev:sec", "--profile", "sdk3")
    client, writer, pump = await at_over_tcp(run.first["listen"])
    await client.expect_ok('AT+IMQTTAUTH="a1cli","dev","sec"')
    assert b"AT+IMQTTAUTH" not in client.raw                      # echo off at power-on
    assert (await client.wait_urc("+IMQTTAUTH")).text == "+IMQTTAUTH:OK"
    await client.expect_ok("AT+IMQTTCONN")
    assert (await client.wait_urc("+IMQTTSTATE")).text == "+IMQTTSTATE:1"
    writer.close()
    pump.cancel()
    assert (await run.stop())[0] == 0


async def test_second_te_is_refused_while_one_is_attached(spawn):
    run = await spawn("module", "--listen", "tcp:127.0.0.1:0")
    client, writer, pump = await at_over_tcp(run.first["listen"])
    assert (await client.command("AT")).ok
    _, host, port = run.first["listen"].split(":")
    reader2, writer2 = await asyncio.open_connection(host, int(port))
    assert b"busy" in await asyncio.wait_for(reader2.read(100), 10)
    writer2.close()
    assert (await client.command("AT")).ok
    writer.close()
    pump.cancel()
    assert (await run.stop())[0] == 0


async def test_module_on_a_pty(spawn):
    run = await spawn("module", "--listen", "pty", "--no-echo")
    path = run.first["listen"].removeprefix("pty:")
    assert Path(path).exists()
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    loop = asyncio.get_running_loop()
    client = AtClient(lambda data: os.write(fd, data))
    loop.add_reader(fd, lambda: client.feed(os.read(fd, 4096)))
    try:
        response = await client.command("AT+CGMM")
        assert response.ok and [line.text for line in response.lines] == ["ICA-MODULE-SIM"]
    finally:
        loop.remove_reader(fd)
        os.close(fd)
    assert (await run.stop())[0] == 0


async def test_module_against_a_separate_cloud_process(spawn):
    cloud = await spawn("cloud", "--device", "a1ext:dev:sec")
    assert set(cloud.first) == {"mqtt", "mqtts", "ca", "coap", "http"}
    run = await spawn("module", "--listen", "tcp:127.0.0.1:0", "--cloud", json.dumps(cloud.first))
    assert {k: run.first[k] for k in cloud.first} == cloud.first
    client, writer, pump = await at_over_tcp(run.first["listen"])
    await client.expect_ok('AT+IHTTPAUTH="a1ext","dev","sec"')
    assert (await client.wait_urc("+IHTTPAUTH")).text == "+IHTTPAUTH:OK"
    writer.close()
    pump.cancel()
    assert (await run.stop())[0] == 0
    code, out = await cloud.stop()
    assert code == 0 and "http.auth" in out


async def test_bad_arguments_are_clear():
    proc = await asyncio.create_subprocess_exec(*PYSIM, "module", "--listen", "udp:1", cwd=ROOT,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, err = await proc.communicate()
    assert proc.returncode == 2 and b"expected tcp:HOST:PORT or pty" in err
    proc = await asyncio.create_subprocess_exec(*PYSIM, "run", "--firmware", "/nonexistent.elf", "--quiet",
                                                cwd=ROOT, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    _, err = await proc.communicate()
    assert proc.returncode == 3 and b"no firmware at /nonexistent.elf" in err
