"""The demo firmware (build/demo.elf in QEMU) against the real module model and cloud.

QEMU is started directly (as in test_qemu_boot.py) so that this test checks the
firmware, not the session orchestration: USART1 is pumped to an IcaModule,
USART2's lines are collected, the cloud plays its part of the scenario (a LED
command, an OTA image), and the firmware's semihosting exit code is the verdict.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from peripherals.ica import IcaModule, ModuleConfig
from peripherals.ica.config import Faults
from pysim.cloud import Cloud

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"
PK, DN, SECRET = "a1demoPK", "demo-device-01", "demo-secret-01"  # the firmware's defaults
TIMEOUT = 60.0

pytestmark = pytest.mark.skipif(
    shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
    reason="needs qemu-system-arm and arm-none-eabi-gcc",
)


def build_demo() -> Path:
    subprocess.run(["make", "-s", "-C", str(FIRMWARE), "build/demo.elf"], check=True, capture_output=True)
    return FIRMWARE / "build" / "demo.elf"


class DemoRig:
    """Cloud + module + demo.elf in QEMU, with the console lines collected."""

    def __init__(self, cloud: Cloud, module: IcaModule):
        self.cloud, self.module = cloud, module
        self.lines: list[str] = []
        self._line_added = asyncio.Condition()
        self.proc: asyncio.subprocess.Process | None = None
        self._servers: list[asyncio.AbstractServer] = []
        self._writers: list[asyncio.StreamWriter] = []
        self._tasks: list[asyncio.Task] = []

    async def start(self, elf: Path) -> None:
        link, console = asyncio.get_running_loop().create_future(), asyncio.get_running_loop().create_future()
        ports = []
        for accepted in (link, console):
            server = await asyncio.start_server(
                lambda r, w, f=accepted: f.done() or f.set_result((r, w)), "127.0.0.1", 0)
            self._servers.append(server)
            ports.append(server.sockets[0].getsockname()[1])
        cmd = ["qemu-system-arm", "-M", "netduinoplus2", "-display", "none", "-monitor", "none"]
        for i, port in enumerate(ports):
            cmd += ["-chardev", f"socket,id=s{i},host=127.0.0.1,port={port},nodelay=on",
                    "-serial", f"chardev:s{i}"]
        cmd += ["-kernel", str(elf), "-semihosting-config", "enable=on,target=native"]
        self.proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.DEVNULL,
                                                         stderr=asyncio.subprocess.DEVNULL)
        (link_r, link_w), (con_r, con_w) = await asyncio.wait_for(asyncio.gather(link, console), TIMEOUT)
        self._writers += [link_w, con_w]
        self._tasks.append(asyncio.create_task(self._read_console(con_r)))
        await self.wait_line(lambda line: line.startswith("BOOT "))
        self.module.on_output = link_w.write
        self._tasks.append(asyncio.create_task(self._pump_link(link_r)))

    async def _read_console(self, reader: asyncio.StreamReader) -> None:
        while line := await reader.readline():
            async with self._line_added:
                self.lines.append(line.decode(errors="replace").rstrip("\r\n"))
                self._line_added.notify_all()

    async def _pump_link(self, reader: asyncio.StreamReader) -> None:
        while data := await reader.read(4096):
            self.module.feed(data)

    async def wait_line(self, predicate, timeout: float = TIMEOUT) -> str:
        async def scan() -> str:
            seen = 0
            async with self._line_added:
                while True:
                    for line in self.lines[seen:]:
                        if predicate(line):
                            return line
                    seen = len(self.lines)
                    await self._line_added.wait()
        try:
            return await asyncio.wait_for(scan(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"console line not seen; console so far: {self.lines}") from None

    async def exit_code(self, timeout: float = TIMEOUT) -> int:
        return await asyncio.wait_for(self.proc.wait(), timeout)

    async def stop(self) -> None:
        if self.proc and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        for task in self._tasks:
            task.cancel()
        for writer in self._writers:
            writer.close()
        for server in self._servers:
            server.close()
            await server.wait_closed()


@pytest.fixture
async def rig_for(tmp_path: Path):
    elf = build_demo()
    made: list[tuple[Cloud, IcaModule | None, DemoRig | None]] = []

    async def make(secret: str = SECRET, faults: Faults | None = None) -> DemoRig:
        cloud = Cloud()
        await cloud.start()
        made.append((cloud, None, None))
        cloud.registry.add(PK, DN, secret)
        config = ModuleConfig(nv_path=tmp_path / "ica.nv.json", faults=faults or Faults())
        config.use_cloud(cloud.addresses)
        module = IcaModule(config, events=cloud.events)
        await module.start()
        rig = DemoRig(cloud, module)
        made[-1] = (cloud, module, rig)
        await rig.start(elf)
        return rig

    yield make
    for cloud, module, rig in made:
        if rig:
            await rig.stop()
        if module:
            await module.stop()
        await cloud.stop()


async def test_demo_scenario_completes_with_exit_code_0(rig_for):
    rig = await rig_for(faults=Faults(corrupt_ota_blocks={1}))
    cloud = rig.cloud

    await rig.wait_line(lambda line: line == "STEP mqtt_subscribe ok")
    await cloud.publish(f"/{PK}/{DN}/user/command", b'{"led":1}', qos=1)
    await rig.wait_line(lambda line: line == "STEP http_request ok")
    image = random.Random(7).randbytes(64 * 1024)
    await cloud.ota.announce(PK, DN, cloud.ota.add_image(image, "1.1.0"))

    assert await rig.exit_code() == 0, rig.lines
    console = rig.lines
    assert console[0] == "BOOT ica-demo fw=1.0.0"
    for step in ("at", "mqtt_auth", "mqtt_connect", "mqtt_subscribe", "ota_version", "coap_auth",
                 "coap_request", "http_auth", "http_request", "led", "ota", "telemetry"):
        assert f"STEP {step} ok" in console, step
    assert "LOG ota crc mismatch block 1, re-read" in console
    assert f"LOG ota image ok blocks {64 * 1024 // 512} md5 {hashlib.md5(image).hexdigest()}" in console
    assert console[-1] == "DONE 0"

    published = [e.detail for e in cloud.events.events if e.kind == "mqtt.publish"]
    telemetry = [json.loads(p["payload"]) for p in published if p["topic"] == f"/{PK}/{DN}/user/telemetry"]
    assert [t["seq"] for t in telemetry][:3] == [1, 2, 3]
    acks = [json.loads(p["payload"]) for p in published if p["topic"] == f"/{PK}/{DN}/user/ack"]
    assert acks == [{"ack": "led", "value": 1}]
    steps = [e.detail["step"] for e in cloud.events.events if e.kind == "ota.progress"]
    assert steps[0] == "0" and steps[-1] == "100"
    assert {"25", "50", "75"} <= set(steps)
    assert cloud.ota.versions[(PK, DN)] == "1.1.0"


async def test_demo_wrong_secret_fails_auth_with_exit_code_2(rig_for):
    rig = await rig_for(secret="another-secret")
    assert await rig.exit_code() == 2, rig.lines
    assert "STEP mqtt_auth fail FAIL" in rig.lines
    assert rig.lines[-1] == "DONE 2"
