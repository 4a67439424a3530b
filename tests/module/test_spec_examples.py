"""The spec's examples, section by section, with DECISIONS' corrections: ``:`` not ``=``
after a response name (errata #38), no spaces after ``:`` or ``,`` (#52), ``\\"`` for a
quote (#44), ids assigned by the module (the examples' 24761 is a placeholder, #67).
Each test drives the real module against the in-process cloud."""

from __future__ import annotations

import hashlib
import re

from peripherals.ica.commands.ota import crc16_ccitt_false
from pysim.peers import service_client
from test_mqtt_e2e import mqtt_online

ID = r"\d+"


def shape(line: str, pattern: str) -> bool:
    return re.fullmatch(pattern, line) is not None


async def test_5_2_mode_5_3_auth_5_4_para_5_5_conn_5_12_state(at, device):
    # device names from the example replaced by the registered device
    await at.expect_ok("ATE0")
    assert (await at.command("AT+IMQTTMODE?")).line("+IMQTTMODE").text == "+IMQTTMODE:0"   # §4's example
    await at.expect_ok('AT+IMQTTPARA="TIMEOUT", 2')
    await at.expect_ok('AT+IMQTTPARA="TIMEOUT", 2, "CLEAN", 1, "KEEPALIVE", 60, "VERSION", "3.1.1"')
    await at.expect_ok(f'AT+IMQTTAUTH="{device.product_key}", "{device.device_name}", "{device.device_secret}"')
    assert (await at.wait_urc("+IMQTTAUTH")).text == "+IMQTTAUTH:OK"
    await at.expect_ok("AT+IMQTTCONN")
    await at.wait_urc("+IMQTTSTATE")
    assert (await at.command("AT+IMQTTSTATE?")).line("+IMQTTSTATE").text == "+IMQTTSTATE:2"


async def test_5_6_pub_5_8_sub_5_9_unsub_5_10_rcvpub(at, device, cloud):
    await mqtt_online(at, device)
    topic = f"/{device.product_key}/{device.device_name}/test_topic_001"
    response = await at.expect_ok(f'AT+IMQTTSUB="{topic}",2')
    sub = response.line("+IMQTTSUB").text
    assert shape(sub, rf"\+IMQTTSUB:{ID}")
    assert shape((await at.wait_urc("+IMQTTSUB")).text, rf"\+IMQTTSUB:{sub.split(':')[1]},[0-2]")
    response = await at.expect_ok(f'AT+IMQTTPUB="{topic}",1,"hellosim"')
    packet_id = response.line("+IMQTTPUB").fields[0]
    assert (await at.wait_urc("+IMQTTPUB")).text == f"+IMQTTPUB:{packet_id},0"
    rcv = await at.wait_urc("+IMQTTRCVPUB")
    assert shape(rcv.text, rf'\+IMQTTRCVPUB:{ID},"{topic}",8,"hellosim"')
    peer = await service_client(cloud)
    try:
        await peer.publish(topic, b"hello", 1)
        assert shape((await at.wait_urc("+IMQTTRCVPUB")).text, rf'\+IMQTTRCVPUB:{ID},"{topic}",5,"hello"')
    finally:
        await peer.close()
    response = await at.expect_ok(f'AT+IMQTTUNSUB="{topic}"')
    unsub = response.line("+IMQTTUNSUB").fields[0]
    assert (await at.wait_urc("+IMQTTUNSUB")).text == f"+IMQTTUNSUB:{unsub},0"
    # the bytes on the wire: id line, OK, and the URC after (DECISIONS §9)
    raw = bytes(at.raw)
    assert re.search(rb"\r\n\+IMQTTUNSUB:\d+\r\n\r\nOK\r\n(.|\n)*\r\n\+IMQTTUNSUB:\d+,0\r\n", raw)


async def test_5_7_pubin_and_5_11_rcvpubin(at, device):
    await mqtt_online(at, device)
    topic = f"/{device.product_key}/{device.device_name}/test_topic_001"
    await at.expect_ok(f'AT+IMQTTSUB="{topic}",1')
    await at.wait_urc("+IMQTTSUB")
    at.raw.clear()
    response = await at.command(f'AT+IMQTTPUBIN="{topic}",1,5', data=b"\x11\x22\x33\xAA\xBA")
    packet_id = response.line("+IMQTTPUBIN").fields[0]
    assert (await at.wait_urc("+IMQTTPUBIN")).text == f"+IMQTTPUBIN:{packet_id},0"
    rcv = await at.wait_urc("+IMQTTRCVPUBIN")
    assert shape(rcv.text, rf'\+IMQTTRCVPUBIN:{ID},"{topic}",5') and rcv.payload == b"\x11\x22\x33\xAA\xBA"
    assert re.search(rb'\r\n\+IMQTTRCVPUBIN:\d+,"[^"]+",5\r\n\r\nOK\r\n\x11\x22\x33\xaa\xba', bytes(at.raw))


async def test_5_13_disconn_5_14_dbgpara_5_15_pingrsp(at, device):
    await mqtt_online(at, device)
    await at.expect_ok('AT+IMQTTDBGPARA="PINGRSP", 1')
    assert (await at.command("AT+IMQTTPINGRSP=?")).ok
    await at.expect_ok("AT+IMQTTDISCONN")
    assert (await at.wait_urc("+IMQTTSTATE")).text == "+IMQTTSTATE:0"


async def test_6_coap_examples(at, device):
    path = f"/{device.product_key}/{device.device_name}/livingroom/light"
    await at.expect_ok('AT+ICOAPARA="TIMEOUT", 2')
    await at.expect_ok(f'AT+ICOAPAUTH="{device.product_key}", "{device.device_name}", "{device.device_secret}"')
    assert (await at.wait_urc("+ICOAPAUTH")).text == "+ICOAPAUTH:OK"
    response = await at.expect_ok(f'AT+ICOAPSENDREQ=2, "{path}", "{{\\"action\\":\\"turnon\\"}}"')
    token = response.line("+ICOAPSENDREQ").fields[0]
    assert (await at.wait_urc("+ICOAPSENDREQ")).text == f"+ICOAPSENDREQ:{token},0"
    rsp = await at.wait_urc("+ICOAPRCVRSP")
    assert rsp.fields[:2] == [token, path] and int(rsp.fields[2]) == len(rsp.payload)
    response = await at.expect_ok(f'AT+ICOAPSENDREQN=2, "{path}", "{{\\"action\\":\\"turnon\\"}}"')
    assert shape(response.line("+ICOAPSENDREQN").text, rf"\+ICOAPSENDREQN:{ID}")
    response = await at.command(f'AT+ICOAPSENDBIN=2, "{path}", 5', data=b"\x11\x22\x33\xAA\xBA")
    token = response.line("+ICOAPSENDBIN").fields[0]
    assert (await at.wait_urc("+ICOAPSENDBIN")).text == f"+ICOAPSENDBIN:{token},0"
    response = await at.command(f'AT+ICOAPSENDNBIN=2,"{path}",5', data=b"\x11\x22\x33\xAA\xBA")
    assert shape(response.line("+ICOAPSENDNBIN").text, rf"\+ICOAPSENDNBIN:{ID}")


async def test_7_http_examples(at, device):
    path = f"/{device.product_key}/{device.device_name}/livingroom/light"
    await at.expect_ok('AT+IHTTPARA="KEEPALIVE", 1, "TIMEOUT", 6')
    await at.expect_ok(f'AT+IHTTPAUTH="{device.product_key}", "{device.device_name}", "{device.device_secret}"')
    assert (await at.wait_urc("+IHTTPAUTH")).text == "+IHTTPAUTH:OK"
    # §7.4's example with its unescaped quotes fixed (errata #44)
    await at.expect_ok(f'AT+IHTTPSEND=2, "{path}", "{{\\"action\\":\\"turnon\\"}}"')
    send = await at.wait_urc("+IHTTPSEND")
    assert shape(send.text, rf'\+IHTTPSEND:0,{len(send.payload)},".*"')
    response = await at.expect_ok(f'AT+IHTTPSENDREQ=2,"{path}","{{\\"action\\":\\"turnon\\"}}"')
    token = response.line("+IHTTPSENDREQ").fields[0]
    rsp = await at.wait_urc("+IHTTPRCVRSP")
    assert rsp.fields[:3] == [token, "0", path]
    # §7.6's example names the text command; the binary one is meant (errata #24)
    response = await at.command(f'AT+IHTTPSENDBIN=2, "{path}", 5', data=b"\x11\x22\x33\xAA\xBA")
    assert shape(response.line("+IHTTPSENDBIN").text, rf"\+IHTTPSENDBIN:{ID}")
    await at.expect_ok("AT+IHTTPDISCONN")


async def test_8_ota_examples(at, device, cloud):
    await mqtt_online(at, device)
    await at.expect_ok('AT+IOTAPARA="DURATION", 86400')
    await at.expect_ok('AT+IOTAPARA="DURATION", 86400, "BLOCKSIZE", 512')
    await at.expect_ok('AT+IOTAVER="hw_1.0.0 fw_1.2.0"')
    image = b"\x11\x22\x33\xAA\xBB" * 100
    await cloud.ota.announce(device.product_key, device.device_name, cloud.ota.add_image(image, "hw_1.0.0 fw_1.2.1"))
    newver = await at.wait_urc("+IOTANEWVER")
    assert newver.text == f'+IOTANEWVER:"hw_1.0.0 fw_1.2.1",500,"{hashlib.md5(image).hexdigest()}"'
    await at.expect_ok('AT+IOTAPARA="BLOCKSIZE",16')       # smallest block: the example's 5-byte rhythm
    block = (await at.expect_ok("AT+IOTABLOCK=0")).line("+IOTABLOCK")
    assert block.text == f"+IOTABLOCK:16,0x{crc16_ccitt_false(image[:16]):04X}"
    again = (await at.expect_ok("AT+IOTABLOCK=1")).line("+IOTABLOCK")
    assert again.text == block.text and again.payload == block.payload
    await at.expect_ok("AT+IOTAPGS=80")
    await at.expect_ok('AT+IOTAPGS=-2,"FLASH MEMORY IS NOT ENOUGH"')
    await at.expect_ok("AT+IOTABORT")


async def test_9_other_examples(at):
    await at.expect_ok("AT+ILOGLVL=1")
    await at.expect_ok("AT+IREBOOT=1")
    response = None
    for _ in range(50):   # errata #81: poll with AT until OK
        try:
            response = await at.command("AT", timeout=0.2)
            break
        except Exception:
            continue
    assert response is not None and response.ok
    await at.expect_ok("AT+IDEFAULT")
