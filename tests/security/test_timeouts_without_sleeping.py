"""The module's timeouts, tested without waiting for them (issue 10, "time you can control").

The module takes its time from the clock it is given, else from its event loop:

* an injected clock: the test moves it and calls ``module.poll()``;
* a virtual-time loop (``looptime``, marker ``@pytest.mark.looptime``): the loop jumps to
  its next timer whenever every task waits, so a 60 s HTTP timeout or a 90 s keep-alive
  loss takes milliseconds of wall time and the module's own timers stay consistent."""

from __future__ import annotations

import asyncio
import time

import pytest

from peripherals.ica import IcaModule, ModuleConfig
from pysim.te import AtClient
from endpoint_clients import held_http_server
from te_steps import mqtt_online


async def test_data_entry_timeout_with_an_injected_clock(cloud, device):
    now = [1000.0]
    config = ModuleConfig(echo=False)
    config.use_cloud(cloud.addresses)
    module = IcaModule(config, events=cloud.events, clock=lambda: now[0])
    at = AtClient(module.feed)
    module.on_output = at.feed
    try:
        await mqtt_online(at, device)
        topic = f"/{device.product_key}/{device.device_name}/user/t"
        at.raw.clear()
        module.feed(f'AT+IMQTTPUBIN="{topic}",0,10\r'.encode())
        module.feed(b"abc")                      # 3 of 10 bytes, then silence
        now[0] += config.data_timeout - 0.01
        module.poll()
        assert b"+CME ERROR" not in at.raw
        module.feed(b"d")                        # a byte restarts the silence
        now[0] += config.data_timeout - 0.01
        module.poll()
        assert b"+CME ERROR" not in at.raw
        now[0] += 0.02
        module.poll()
        assert at.raw.endswith(b"\r\n+CME ERROR:31\r\n"), bytes(at.raw)
        assert (await at.command("AT")).ok      # the engine reads commands again
    finally:
        await module.stop()


@pytest.mark.looptime
async def test_http_timeout_of_60_s_in_virtual_time(module_factory):
    loop = asyncio.get_running_loop()
    async with held_http_server() as (url, _never_released):
        m = await module_factory(echo=False, http_url=url)
        await m.at.expect_ok('AT+IHTTPARA="TIMEOUT",60')
        wall, virtual = time.monotonic(), loop.time()
        await m.at.expect_ok('AT+IHTTPSEND=2,"/a/b/c","x"')
        assert (await m.at.wait_urc("+IHTTPSEND", timeout=120)).text == "+IHTTPSEND:255"
        assert loop.time() - virtual >= 60
        assert time.monotonic() - wall < 30


class SilentPingBroker:
    """A raw MQTT "broker": CONNACK 0 and SUBACK as asked, but never a PINGRESP."""

    def __init__(self) -> None:
        self.pings = 0
        self.server: asyncio.AbstractServer | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"mqtt://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                first = (await reader.readexactly(1))[0]
                length, shift = 0, 0
                while True:
                    byte = (await reader.readexactly(1))[0]
                    length |= (byte & 0x7F) << shift
                    shift += 7
                    if not byte & 0x80:
                        break
                body = await reader.readexactly(length)
                kind = first >> 4
                if kind == 1:                                  # CONNECT
                    writer.write(b"\x20\x02\x00\x00")
                elif kind == 8:                                # SUBSCRIBE
                    writer.write(b"\x90\x03" + body[:2] + b"\x01")
                elif kind == 12:                               # PINGREQ: no answer
                    self.pings += 1
                elif kind == 14:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def close(self) -> None:
        self.server.close()
        await self.server.wait_closed()


@pytest.mark.looptime
async def test_keepalive_loss_in_virtual_time(module_factory, device):
    broker = SilentPingBroker()
    url = await broker.start()
    loop = asyncio.get_running_loop()
    try:
        m = await module_factory(echo=False, mqtt_url=url)
        await m.at.expect_ok('AT+IMQTTPARA="KEEPALIVE",60')
        await mqtt_online(m.at, device)
        wall, virtual = time.monotonic(), loop.time()
        assert (await m.at.wait_urc("+IMQTTSTATE", timeout=300)).text == "+IMQTTSTATE:0"
        assert broker.pings == 1
        assert 60 + 30 - 1 <= loop.time() - virtual <= 60 + 30 + 5   # PINGREQ after 60 s, lost 30 s later
        assert time.monotonic() - wall < 30
    finally:
        await broker.close()
