"""OTA through the module: the cloud announces, the module fetches and reports
+IOTANEWVER, the TE reads every block with its CRC and checks the image MD5."""

from __future__ import annotations

import hashlib
import json
import random

import pytest

from peripherals.ica import Faults
from peripherals.ica.commands.ota import crc16_ccitt_false
from pysim.events import kind_is
from test_mqtt_e2e import mqtt_online


def test_crc16_ccitt_false_matches_the_spec_example():
    assert crc16_ccitt_false(b"123456789") == 0x29B1
    assert crc16_ccitt_false(bytes.fromhex("112233AABB")) == 0x1DD1   # errata #49
    assert crc16_ccitt_false(bytes.fromhex("112233AABA")) == 0x0DF0


async def read_image(at, size: int, *, blocksize: int) -> tuple[bytes, int]:
    """Read every block as a TE would: check each CRC, re-read a bad one with =1."""
    image, rereads = bytearray(), 0
    while len(image) < size:
        response = await at.expect_ok("AT+IOTABLOCK=0")
        for attempt in range(3):
            header = response.line("+IOTABLOCK")
            length, crc = int(header.fields[0]), int(header.fields[1], 16)
            assert 0 < length <= blocksize
            if crc16_ccitt_false(header.payload) == crc and len(header.payload) == length:
                break
            rereads += 1
            response = await at.expect_ok("AT+IOTABLOCK=1")
        else:
            raise AssertionError("block failed its CRC three times")
        image += header.payload
    end = (await at.expect_ok("AT+IOTABLOCK=0")).line("+IOTABLOCK")
    assert end.fields[0] == "0"                        # end of image (DECISIONS §21)
    return bytes(image), rereads


@pytest.mark.parametrize("blocksize", [512, 4096])
async def test_100k_image_through_iotablock(module_factory, device, cloud, blocksize):
    m = await module_factory(faults=Faults(corrupt_ota_blocks={0, 7}))
    at = m.at
    await mqtt_online(at, device)
    await at.expect_ok(f'AT+IOTAPARA="BLOCKSIZE",{blocksize}')
    await at.expect_ok('AT+IOTAVER="hw_1.0.0 fw_1.2.0"')
    inform = await cloud.events.wait_for(kind_is("ota.inform"))
    assert inform.detail["version"] == "hw_1.0.0 fw_1.2.0"

    image = random.Random(100).randbytes(100 * 1024)
    await cloud.ota.announce(device.product_key, device.device_name, cloud.ota.add_image(image, "fw_1.3.0"))
    newver = await at.wait_urc("+IOTANEWVER", timeout=15)
    assert newver.fields == ["fw_1.3.0", str(len(image)), hashlib.md5(image).hexdigest()]
    assert (await at.expect_ok("AT+IOTANEWVER?")).line("+IOTANEWVER").fields == newver.fields

    await at.expect_ok('AT+IOTAPGS=0,"downloading"')
    received, rereads = await read_image(at, len(image), blocksize=blocksize)
    assert hashlib.md5(received).hexdigest() == newver.fields[2]
    assert received == image
    assert rereads == 2
    await at.expect_ok("AT+IOTAPGS=100")                # desc may be left out (DECISIONS §22)
    await at.expect_ok('AT+IOTAVER="fw_1.3.0"')
    await cloud.events.wait_for(lambda e: e.kind == "ota.inform" and e.detail.get("version") == "fw_1.3.0")
    progress = [e.detail for e in cloud.events.find(kind_is("ota.progress"))]
    assert [p["step"] for p in progress] == ["0", "100"] and progress[0]["desc"] == "downloading"


async def test_abort_then_a_fresh_announcement_starts_afresh(at, device, cloud):
    await mqtt_online(at, device)
    image = random.Random(1).randbytes(2000)
    img = cloud.ota.add_image(image, "v2")
    await cloud.ota.announce(device.product_key, device.device_name, img)
    await at.wait_urc("+IOTANEWVER")
    first = (await at.expect_ok("AT+IOTABLOCK=0")).line("+IOTABLOCK").payload
    await at.expect_ok("AT+IOTABORT")
    assert (await at.command("AT+IOTABLOCK=0")).final == "+CME ERROR:3"
    assert (await at.command("AT+IOTABORT")).final == "+CME ERROR:3"
    await cloud.ota.announce(device.product_key, device.device_name, img)
    await at.wait_urc("+IOTANEWVER")
    assert (await at.expect_ok("AT+IOTABLOCK=0")).line("+IOTABLOCK").payload == first


async def test_progress_failure_codes_reach_the_cloud(at, device, cloud):
    await mqtt_online(at, device)
    await at.expect_ok('AT+IOTAPGS=-2,"FLASH MEMORY IS NOT ENOUGH"')
    event = await cloud.events.wait_for(kind_is("ota.progress"))
    assert event.detail["step"] == "-2" and event.detail["desc"] == "FLASH MEMORY IS NOT ENOUGH"


async def test_ota_over_coap_polling_without_mqtt(at, device, cloud):
    """With only CoAP up, the module polls for upgrades (DECISIONS §20)."""
    image = random.Random(2).randbytes(1500)
    await cloud.ota.announce(device.product_key, device.device_name, cloud.ota.add_image(image, "v-coap"))
    await at.expect_ok(f'AT+ICOAPAUTH="{device.product_key}","{device.device_name}","{device.device_secret}"')
    assert (await at.wait_urc("+ICOAPAUTH")).text == "+ICOAPAUTH:OK"
    newver = await at.wait_urc("+IOTANEWVER", timeout=15)
    assert newver.fields[:2] == ["v-coap", "1500"]
    await at.expect_ok('AT+IOTAVER="v-coap"')     # reported over CoAP: no MQTT here
    await cloud.events.wait_for(lambda e: e.kind == "ota.inform" and e.detail.get("version") == "v-coap")
    payload = json.dumps({"x": 1})
    assert payload
