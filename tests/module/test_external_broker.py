"""The module pointed at an external broker: Debian's mosquitto, a server this
project did not write, with a mosquitto_sub client watching."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from peripherals.ica import IcaModule, ModuleConfig
from pysim.devauth import DeviceCredentials
from pysim.te import AtClient

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
pytestmark = pytest.mark.skipif(MOSQUITTO is None or shutil.which("mosquitto_sub") is None,
                                reason="needs Debian's mosquitto and mosquitto-clients (`make deps`)")
DEVICE = DeviceCredentials("a1ext", "dev-ext", "secret-ext")


async def test_module_publishes_and_receives_through_mosquitto(mosquitto, tmp_path):
    module = IcaModule(ModuleConfig(mqtt_url=mosquitto, echo=False, nv_path=tmp_path / "nv.json"))
    await module.start()
    at = AtClient(module.feed)
    module.on_output = at.feed
    port = mosquitto.rsplit(":", 1)[1]
    sub = await asyncio.create_subprocess_exec("mosquitto_sub", "-h", "127.0.0.1", "-p", port, "-t", "/ext/#",
                                               "-C", "1", "-v", stdout=asyncio.subprocess.PIPE)
    try:
        await at.expect_ok(f'AT+IMQTTAUTH="{DEVICE.product_key}","{DEVICE.device_name}","{DEVICE.device_secret}"')
        assert (await at.wait_urc("+IMQTTAUTH")).text == "+IMQTTAUTH:OK"
        await at.expect_ok("AT+IMQTTCONN")
        assert (await at.wait_urc("+IMQTTSTATE")).text == "+IMQTTSTATE:2"
        await at.expect_ok('AT+IMQTTSUB="/ext/down",1')
        await at.wait_urc("+IMQTTSUB")
        # mosquitto_sub is subscribed once it has connected: publish until it has the message
        for _ in range(100):
            await at.expect_ok('AT+IMQTTPUB="/ext/up",1,"to mosquitto"')
            await at.wait_urc("+IMQTTPUB")
            try:
                line = await asyncio.wait_for(sub.stdout.readline(), 0.2)
                break
            except asyncio.TimeoutError:
                continue
        assert line == b"/ext/up to mosquitto\n"
        pub = await asyncio.create_subprocess_exec("mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-t", "/ext/down",
                                                   "-q", "1", "-m", "from mosquitto_pub")
        assert await pub.wait() == 0
        assert (await at.wait_urc("+IMQTTRCVPUB")).payload == b"from mosquitto_pub"
    finally:
        if sub.returncode is None:
            sub.kill()
        await sub.wait()
        await module.stop()
