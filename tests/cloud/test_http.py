"""The HTTP server with a real aiohttp client: auth, token errors, topics, firmware."""

from __future__ import annotations

from endpoint_clients import auth_body

from pysim.cloud import Cloud
from pysim.events import kind_is


async def auth(http, cloud, creds, sign: str | None = None) -> dict:
    body = auth_body(creds, sign, timestamp="1700000000000")
    async with http.post(cloud.addresses["http"] + "/auth", json=body) as response:
        assert response.status == 200
        return await response.json()


async def call(http, cloud, method: str, path: str, token: str | None = None, data: bytes = b""):
    headers = {"password": token} if token is not None else {}
    async with http.request(method, cloud.addresses["http"] + path, data=data, headers=headers) as response:
        return response.status, await response.read()


async def test_auth_answers_token_and_expiry(cloud, dev_a, http):
    body = await auth(http, cloud, dev_a)
    assert body["code"] == 0 and body["message"] == "success"
    assert body["info"]["token"] and body["info"]["expires_in"] == 172800
    assert await auth(http, cloud, dev_a, sign="f" * 40) == {"code": 20000, "message": "auth check error"}


async def test_publish_reaches_an_mqtt_subscriber(cloud, dev_a, http, service):
    topic = f"/{dev_a.product_key}/{dev_a.device_name}/user/http"
    await service.connect(cloud.addresses["mqtt"])
    await service.subscribe(topic, 1)
    token = (await auth(http, cloud, dev_a))["info"]["token"]

    async with http.post(cloud.addresses["http"] + "/topic" + topic, data=b"hello",
                         headers={"password": token}) as response:
        assert response.status == 200
        body = await response.json()
    assert body["code"] == 0 and body["message"] == "success" and isinstance(body["info"]["messageId"], int)
    got = await service.next_message()
    assert (got.topic, got.payload) == (topic, b"hello")
    assert await call(http, cloud, "GET", "/topic" + topic, token) == (200, b"hello")
    assert (await call(http, cloud, "DELETE", "/topic" + topic, token))[0] == 200
    assert await call(http, cloud, "GET", "/topic" + topic, token) == (200, b"")
    assert [e.detail["status"] for e in cloud.events.find(kind_is("http.request"))] == [200, 200, 200, 200]


async def test_token_missing_invalid_and_foreign_topic(cloud, dev_a, dev_b, http):
    own = f"/topic/{dev_a.product_key}/{dev_a.device_name}/user/http"
    status, body = await call(http, cloud, "POST", own, None, b"x")
    assert (status, b'"code":20002' in body) == (401, True)
    status, body = await call(http, cloud, "POST", own, "bogus", b"x")
    assert (status, b'"code":20003' in body) == (401, True)
    token = (await auth(http, cloud, dev_a))["info"]["token"]
    status, body = await call(http, cloud, "POST", f"/topic/{dev_b.product_key}/{dev_b.device_name}/user/http",
                              token, b"x")
    assert (status, b'"code":40300' in body) == (403, True)
    assert not cloud.events.find(kind_is("mqtt.publish"))


async def test_expired_token_is_20001(http):
    async with Cloud(http_token_ttl=0) as cloud:
        dev = cloud.registry.add("a1PKttl", "dev-ttl", "secret-ttl")
        body = await auth(http, cloud, dev)
        assert body["info"]["expires_in"] == 0
        status, answer = await call(http, cloud, "POST", f"/topic/{dev.product_key}/{dev.device_name}/user/x",
                                    body["info"]["token"], b"late")
        assert (status, b'"code":20001' in answer) == (401, True)


async def test_unknown_firmware_is_404(cloud, http):
    assert (await call(http, cloud, "GET", "/ota/firmware/img999"))[0] == 404
