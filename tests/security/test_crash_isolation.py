"""A crash of one module never disturbs the others and leaves no process or port behind:
three ``pysim module`` processes on one cloud, one killed with SIGKILL mid-session."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

from pysim.peers import service_client
from pysim.te import AtClient

ROOT = Path(__file__).resolve().parents[2]
MODULES = 3


async def start_module(cloud) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pysim.cli", "module", "--listen", "tcp:127.0.0.1:0", "--no-echo",
        "--cloud", json.dumps(cloud.addresses), cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    first = json.loads(await asyncio.wait_for(proc.stdout.readline(), 20))
    return proc, first["listen"]


async def attach(listen: str) -> tuple[AtClient, asyncio.StreamWriter, asyncio.Task]:
    _, host, port = listen.split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    client = AtClient(writer.write)

    async def pump() -> None:
        while data := await reader.read(4096):
            client.feed(data)
    return client, writer, asyncio.create_task(pump())


async def test_killing_one_module_leaves_the_others_working_and_nothing_behind(cloud):
    devices = [cloud.registry.add("a1PKcrash", f"dev{i}", f"secret-{i}") for i in range(MODULES)]
    observer = await service_client(cloud, client_id="crash-observer")
    procs, tes = [], []
    try:
        for creds in devices:
            proc, listen = await start_module(cloud)
            procs.append((proc, listen))
            at, writer, pump = await attach(listen)
            tes.append((at, writer, pump))
            await at.expect_ok(f'AT+IMQTTAUTH="{creds.product_key}","{creds.device_name}","{creds.device_secret}"')
            assert (await at.wait_urc("+IMQTTAUTH")).text == "+IMQTTAUTH:OK"
            await at.expect_ok("AT+IMQTTCONN")
            assert (await at.wait_urc("+IMQTTSTATE")).text == "+IMQTTSTATE:2"
            await observer.subscribe(f"/{creds.product_key}/{creds.device_name}/user/#", 1)

        victim, listen = procs[1]
        victim.send_signal(signal.SIGKILL)
        assert await asyncio.wait_for(victim.wait(), 10) == -signal.SIGKILL
        await cloud.events.wait_for(lambda e: e.kind == "mqtt.disconnect" and e.device == devices[1].key, 20)

        for i in (0, 2):                                   # the others carry on
            at = tes[i][0]
            topic = f"/{devices[i].product_key}/{devices[i].device_name}/user/after"
            response = await at.expect_ok(f'AT+IMQTTPUB="{topic}",1,"still here {i}"')
            packet_id = response.line("+IMQTTPUB").fields[0]
            assert (await at.wait_urc("+IMQTTPUB", lambda l: l.fields[0] == packet_id)).fields[1] == "0"
            message = await observer.next_message()
            assert (message.topic, message.payload) == (topic, b"still here %d" % i)

        _, host, port = listen.split(":")                   # the dead module's port is free
        try:
            _, writer = await asyncio.open_connection(host, int(port))
            writer.close()
            raise AssertionError(f"something still listens on {listen}")
        except ConnectionRefusedError:
            pass
    finally:
        await observer.close()
        for at, writer, pump in tes:
            writer.close()
            pump.cancel()
        for proc, _ in procs:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                await asyncio.wait_for(proc.wait(), 15)
    assert all(proc.returncode is not None for proc, _ in procs)
