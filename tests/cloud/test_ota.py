"""The OTA service end to end: announce over MQTT, download over HTTP, reports recorded."""

from __future__ import annotations

import hashlib
import json
import random

import aiohttp

from pysim.events import kind_is


async def test_announce_download_inform_progress(cloud, dev_a, paho):
    pk, dn = dev_a.key
    image_bytes = random.Random(1234).randbytes(20_000)
    image = cloud.ota.add_image(image_bytes, "2.0.0")
    assert (image.version, image.size, image.md5) == ("2.0.0", 20_000, hashlib.md5(image_bytes).hexdigest())

    device = paho(dev_a)
    await device.connect(cloud.addresses["mqtt"])
    assert await device.subscribe(f"/ota/device/upgrade/{pk}/{dn}", 1) == [1]
    announcement = await cloud.ota.announce(pk, dn, image)

    got = await device.next_message()
    assert got.topic == f"/ota/device/upgrade/{pk}/{dn}"
    message = json.loads(got.payload)
    assert message == announcement
    url = f"{cloud.addresses['http']}/ota/firmware/{image.id}"
    assert message == {"code": "1000", "data": {"size": 20_000, "version": "2.0.0", "url": url, "md5": image.md5,
                                                 "signMethod": "Md5", "sign": image.md5},
                       "id": message["id"], "message": "success"}
    assert isinstance(message["id"], int)

    async with aiohttp.ClientSession() as http, http.get(message["data"]["url"]) as response:
        assert response.status == 200
        downloaded = await response.read()
    assert downloaded == image_bytes and hashlib.md5(downloaded).hexdigest() == message["data"]["md5"]
    await cloud.events.wait_for(kind_is("ota.fetch", image=image.id, status=200), 5)

    await device.publish(f"/ota/device/progress/{pk}/{dn}",
                         json.dumps({"id": 1, "params": {"step": "50", "desc": "half"}}).encode(), 1)
    await device.publish(f"/ota/device/progress/{pk}/{dn}", json.dumps({"id": 2, "params": {"step": "100"}}).encode(), 1)
    await device.publish(f"/ota/device/inform/{pk}/{dn}", json.dumps({"id": 3, "params": {"version": "2.0.0"}}).encode(), 1)
    event = await cloud.events.wait_for(kind_is("ota.inform"), 5)
    assert event.device == (pk, dn) and event.detail["version"] == "2.0.0"
    assert cloud.ota.versions[(pk, dn)] == "2.0.0"
    assert cloud.ota.progress[(pk, dn)] == [{"step": "50", "desc": "half"}, {"step": "100"}]
    assert [e.detail["step"] for e in cloud.events.find(kind_is("ota.progress"))] == ["50", "100"]
    assert cloud.ota.current(pk, dn) == announcement


async def test_current_is_none_before_any_announcement(cloud, dev_a):
    assert cloud.ota.current(*dev_a.key) is None
