"""Module life and stream handling over real asyncio: NV store, reboot, factory reset,
the data-entry timer, split and coalesced input, and the URC/command race."""

from __future__ import annotations

import asyncio
import random

from pysim.events import kind_is
from pysim.peers import service_client
from pysim.te import AtClient, TeParser
from test_mqtt_e2e import mqtt_online


async def test_good_credentials_are_stored_and_bare_auth_reuses_them(module_factory, device, tmp_path):
    m = await module_factory()
    await mqtt_online(m.at, device)
    query = await m.at.expect_ok("AT+IMQTTAUTH?")
    assert query.line("+IMQTTAUTH").fields == [device.product_key, device.device_name, "********"]
    assert device.device_secret not in query.line("+IMQTTAUTH").text      # masked (DECISIONS §17)
    await m.at.expect_ok("AT+IREBOOT=0")
    await m.module.events.wait_for(kind_is("module.ready"))
    assert (await m.at.command("AT+IMQTTSTATE?")).line("+IMQTTSTATE").fields == ["0"]
    assert (await m.at.command("AT+IMQTTCONN")).final == "+CME ERROR:3"      # not authenticated since boot
    await m.at.expect_ok("AT+IMQTTAUTH")                                     # stored credentials
    assert (await m.at.wait_urc("+IMQTTAUTH")).text == "+IMQTTAUTH:OK"
    await m.at.expect_ok("AT+IMQTTCONN")
    assert (await m.at.wait_urc("+IMQTTSTATE")).text == "+IMQTTSTATE:2"


async def test_failed_auth_does_not_overwrite_stored_credentials(module_factory, device):
    m = await module_factory()
    await mqtt_online(m.at, device)
    await m.at.expect_ok("AT+IMQTTDISCONN")
    await m.at.expect_ok(f'AT+IMQTTAUTH="{device.product_key}","{device.device_name}","bad"')
    assert (await m.at.wait_urc("+IMQTTAUTH")).text == "+IMQTTAUTH:FAIL"
    assert m.module.nv.unseal(m.module.nv.get("mqtt_auth")[2]) == device.device_secret   # sealed in NV


async def test_reboot_drops_connections_reads_nothing_then_answers_again(module_factory, device, cloud):
    m = await module_factory()
    await mqtt_online(m.at, device)
    await m.at.expect_ok('AT+IMQTTPARA="KEEPALIVE",90')
    m.at.raw.clear()
    m.module.feed(b"AT+IREBOOT=1\rAT\r")     # the AT after it falls into the reboot: unread
    await m.module.events.wait_for(kind_is("module.reboot"))
    await cloud.events.wait_for(kind_is("mqtt.disconnect"))
    await m.module.events.wait_for(kind_is("module.ready"))
    assert bytes(m.at.raw).count(b"OK") == 1
    assert (await m.at.command("AT")).ok                      # answers again, no ready line sent
    para = await m.at.expect_ok("AT+IMQTTPARA?")
    assert '+IMQTTPARA:"KEEPALIVE",60' in [line.text for line in para.lines]   # back to defaults


async def test_idefault_erases_the_nv_store(module_factory, device):
    m = await module_factory()
    await mqtt_online(m.at, device)
    assert m.module.nv.get("mqtt_auth")
    await m.at.expect_ok("AT+IDEFAULT")
    await m.module.events.wait_for(kind_is("module.ready"))
    assert m.module.nv.get("mqtt_auth") is None
    assert (await m.at.command("AT+IMQTTAUTH")).final == "+CME ERROR:3"
    assert (await m.at.command("AT+IMQTTAUTH?")).lines == []


async def test_nv_store_survives_a_new_module_on_the_same_file(module_factory, device, tmp_path):
    m = await module_factory()
    await mqtt_online(m.at, device)
    path = m.module.config.nv_path
    await m.module.stop()
    from peripherals.ica import IcaModule, ModuleConfig
    fresh = IcaModule(ModuleConfig(nv_path=path, echo=False))
    await fresh.start()
    client = AtClient(fresh.feed)
    fresh.on_output = client.feed
    try:
        assert (await client.command("AT+IMQTTAUTH?")).line("+IMQTTAUTH").fields[1] == device.device_name
    finally:
        await fresh.stop()


async def test_data_entry_times_out_with_error_31(module_factory):
    m = await module_factory(data_timeout=0.3, echo=False)
    # HTTP binary send needs no connection for its data entry; 3 of 10 bytes, then silence
    m.module.feed(b'AT+IHTTPSENDBIN=2,"/a/b",10\rabc')
    event = await m.module.events.wait_for(
        lambda e: e.kind == "at.command" and e.detail.get("final") == "+CME ERROR:31", timeout=5)
    assert "3 bytes dropped" in event.detail["reason"]
    assert bytes(m.at.raw) == b"\r\nOK\r\n\r\n+CME ERROR:31\r\n"
    assert (await m.at.command("AT")).ok


async def test_one_byte_at_a_time_and_all_at_once_give_the_same_bytes(module_factory):
    script = b'ATE0\rAT+IMQTTPARA="TIMEOUT",1,"CLEAN",0\rAT+IMQTTPARA?\rAT+NOPE\rAT+ICOAPARA=?\r'
    outputs = []
    for split in (1, None):
        m = await module_factory(echo=True)
        collected = bytearray()
        m.module.on_output = collected.extend
        if split:
            for i in range(len(script)):
                m.module.feed(script[i:i + 1])
        else:
            m.module.feed(script)
        outputs.append(bytes(collected))
    assert outputs[0] == outputs[1]
    assert outputs[0].count(b"\r\nOK\r\n") == 4 and b"+CME ERROR:4" in outputs[0]


async def test_urc_and_command_race_keeps_every_line_whole(module_factory, device, cloud, seed=20261124):
    """Messages pour in while the TE fires commands: every URC arrives whole, its OK is
    its own, and every command gets exactly one final result (DECISIONS §13)."""
    m = await module_factory()
    await mqtt_online(m.at, device)
    topic = f"/{device.product_key}/{device.device_name}/user/race"
    await m.at.expect_ok(f'AT+IMQTTSUB="{topic}",0')
    await m.at.wait_urc("+IMQTTSUB")
    rng = random.Random(seed)
    peer = await service_client(cloud)
    try:
        payloads = [bytes(rng.choice(b'ab",\r\nOK') for _ in range(rng.randint(1, 40))) for _ in range(60)]

        async def flood():
            for payload in payloads:
                await peer.publish(topic, payload, 0)

        async def commands():
            results = []
            for _ in range(60):
                results.append((await m.at.command("AT+IMQTTSTATE?")).final)
            return results

        _, finals = await asyncio.gather(flood(), commands())
        assert finals == ["OK"] * 60
        got = []
        while len(got) < len(payloads):
            got.append((await m.at.wait_urc("+IMQTTRCVPUB", timeout=10)).payload)
        assert got == payloads
    finally:
        await peer.close()
    # the raw stream re-parsed from scratch gives the same URCs
    lines = TeParser().feed(bytes(m.at.raw))
    assert [l.payload for l in lines if l.name == "+IMQTTRCVPUB"] == payloads



async def test_log_level_chooses_what_the_module_logs(module_factory, device):
    m = await module_factory()
    logs = lambda: [e.detail for e in m.module.events.find(kind_is("log"))]   # noqa: E731
    await mqtt_online(m.at, device)
    assert logs() == []                                   # level 0: log output off
    await m.at.expect_ok("AT+ILOGLVL=3")
    await m.at.expect_ok("AT+IMQTTDISCONN")
    await m.at.wait_urc("+IMQTTSTATE")
    await m.module.events.wait_for(lambda e: e.kind == "log" and "net.mqtt" in e.detail["text"])
    assert all(entry["level"] <= 3 for entry in logs())
    assert not [entry for entry in logs() if " -> " in entry["text"]]   # command lines are level 5
    await m.at.expect_ok("AT+ILOGLVL=5")
    await m.at.expect_ok("AT+IMQTTSTATE?")
    assert any(entry["text"] == "AT+IMQTTSTATE? -> OK" and entry["level"] == 5 for entry in logs())
