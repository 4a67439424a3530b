"""The CoAP server with a real aiocoap client: auth, token-checked topics, OTA."""

from __future__ import annotations

import json

from aiocoap import Code
from endpoint_clients import auth_body, coap_request
from pysim.peers import TIMEOUT

from pysim.events import kind_is


async def token_for(coap, cloud, creds) -> str:
    response = await coap_request(coap, cloud, Code.POST, "/auth", json.dumps(auth_body(creds)).encode())
    assert response.code == Code.CONTENT, response
    return json.loads(response.payload)["token"]


async def test_auth_gives_a_token_and_refuses_a_bad_sign(cloud, dev_a, coap):
    assert await token_for(coap, cloud, dev_a)
    bad_sign = json.dumps(auth_body(dev_a, sign="0" * 40)).encode()
    refused = await coap_request(coap, cloud, Code.POST, "/auth", bad_sign)
    assert refused.code == Code.UNAUTHORIZED
    assert json.loads(refused.payload)["code"] == "401"
    assert [e.detail["ok"] for e in cloud.events.find(kind_is("coap.auth"))] == [True, False]


async def test_post_reaches_an_mqtt_subscriber(cloud, dev_a, coap, service):
    topic = f"/{dev_a.product_key}/{dev_a.device_name}/user/coap"
    await service.connect(cloud.addresses["mqtt"])
    await service.subscribe(topic, 1)
    token = await token_for(coap, cloud, dev_a)

    response = await coap_request(coap, cloud, Code.POST, "/topic" + topic, b'{"t":21.5}', token)
    assert response.code == Code.CHANGED
    body = json.loads(response.payload)
    assert body["code"] == 0 and body["message"] == "success" and isinstance(body["messageId"], int)
    got = await service.next_message()
    assert (got.topic, got.payload) == (topic, b'{"t":21.5}')

    stored = await coap_request(coap, cloud, Code.GET, "/topic" + topic, token=token)
    assert (stored.code, stored.payload) == (Code.CONTENT, b'{"t":21.5}')
    assert (await coap_request(coap, cloud, Code.DELETE, "/topic" + topic, token=token)).code == Code.DELETED
    assert (await coap_request(coap, cloud, Code.GET, "/topic" + topic, token=token)).payload == b""


async def test_get_returns_what_the_cloud_published_over_mqtt(cloud, dev_a, coap, service):
    topic = f"/{dev_a.product_key}/{dev_a.device_name}/user/command"
    await service.connect(cloud.addresses["mqtt"])
    await service.publish(topic, b"reboot", 1)
    await cloud.events.wait_for(kind_is("mqtt.publish", topic=topic), TIMEOUT)
    token = await token_for(coap, cloud, dev_a)
    assert (await coap_request(coap, cloud, Code.GET, "/topic" + topic, token=token)).payload == b"reboot"


async def test_bad_or_missing_token_is_401_and_foreign_topic_403(cloud, dev_a, dev_b, coap):
    own = f"/topic/{dev_a.product_key}/{dev_a.device_name}/user/coap"
    assert (await coap_request(coap, cloud, Code.POST, own, b"x", "not-a-token")).code == Code.UNAUTHORIZED
    assert (await coap_request(coap, cloud, Code.POST, own, b"x")).code == Code.UNAUTHORIZED
    token = await token_for(coap, cloud, dev_a)
    foreign = f"/topic/{dev_b.product_key}/{dev_b.device_name}/user/coap"
    assert (await coap_request(coap, cloud, Code.POST, foreign, b"x", token)).code == Code.FORBIDDEN
    assert (await coap_request(coap, cloud, Code.GET, foreign, token=token)).code == Code.FORBIDDEN
    assert not cloud.events.find(kind_is("mqtt.publish"))


async def test_ota_announcement_over_coap(cloud, dev_a, dev_b, coap):
    path = f"/ota/device/upgrade/{dev_a.product_key}/{dev_a.device_name}"
    token = await token_for(coap, cloud, dev_a)
    assert (await coap_request(coap, cloud, Code.GET, path, token=token)).code == Code.NOT_FOUND

    image = cloud.ota.add_image(b"\x01\x02" * 300, "1.1.0")
    announcement = await cloud.ota.announce(dev_a.product_key, dev_a.device_name, image)
    response = await coap_request(coap, cloud, Code.GET, path, token=token)
    assert response.code == Code.CONTENT
    assert json.loads(response.payload) == announcement == cloud.ota.current(*dev_a.key)

    assert (await coap_request(coap, cloud, Code.GET, path)).code == Code.UNAUTHORIZED
    other = f"/ota/device/upgrade/{dev_b.product_key}/{dev_b.device_name}"
    assert (await coap_request(coap, cloud, Code.GET, other, token=token)).code == Code.FORBIDDEN
