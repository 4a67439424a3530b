"""CoAP and HTTP through the module against the real servers; paho and an HTTP client watch the cloud side."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from pysim.events import kind_is
from endpoint_clients import held_http_server
from te_steps import authenticated


async def coap_online(at, device):
    await authenticated(at, "COAP", device)


async def http_online(at, device):
    await authenticated(at, "HTTP", device)


async def test_coap_confirmable_request_lands_and_answers(at, device, observer):
    path = f"/{device.product_key}/{device.device_name}/user/coap"
    await observer.subscribe(path, 1)
    await coap_online(at, device)
    response = await at.expect_ok(f'AT+ICOAPSENDREQ=2,"{path}","{{\\"action\\":\\"turnon\\"}}"')
    token = response.line("+ICOAPSENDREQ").fields[0]
    assert (await at.wait_urc("+ICOAPSENDREQ")).fields == [token, "0"]
    rsp = await at.wait_urc("+ICOAPRCVRSP")
    assert rsp.fields[:2] == [token, path]
    assert json.loads(rsp.payload)["code"] == 0
    message = await observer.next_message()
    assert (message.topic, message.payload) == (path, b'{"action":"turnon"}')
    query = await at.expect_ok("AT+ICOAPSENDREQ?")
    assert query.line("+ICOAPSENDREQ").fields == ["2", path, '{"action":"turnon"}']


async def test_coap_get_returns_last_stored_payload_and_non_confirmable(at, device, observer):
    path = f"/{device.product_key}/{device.device_name}/user/state"
    await coap_online(at, device)
    response = await at.expect_ok(f'AT+ICOAPSENDREQN=3,"{path}","on"')
    token = response.line("+ICOAPSENDREQN").fields[0]
    rsp = await at.wait_urc("+ICOAPRCVRSP", lambda l: l.fields[0] == token)
    assert json.loads(rsp.payload)["code"] == 0
    assert not [u for u in at.urcs if u.name == "+ICOAPSENDREQN"]    # no result URC for NON
    await at.expect_ok(f'AT+ICOAPSENDREQ=1,"{path}",""')
    rsp = await at.wait_urc("+ICOAPRCVRSP", lambda l: l.payload == b"on")
    assert rsp.fields[1] == path


async def test_coap_binary_request_both_forms(at, device, observer):
    path = f"/{device.product_key}/{device.device_name}/user/raw"
    await observer.subscribe(path, 1)
    await coap_online(at, device)
    response = await at.command(f'AT+ICOAPSENDBIN=2,"{path}",5', data=b"\x11\x22\x33\xaa\xba")
    token = response.line("+ICOAPSENDBIN").fields[0]
    assert (await at.wait_urc("+ICOAPSENDBIN")).fields == [token, "0"]
    assert (await observer.next_message()).payload == b"\x11\x22\x33\xaa\xba"
    response = await at.command(f'AT+ICOAPSENDNBIN=2,"{path}",0', data=b"\x00\xff", plus_escape=True)
    assert response.ok
    assert (await observer.next_message()).payload == b"\x00\xff"
    # GET of binary content comes back as +ICOAPRCVBIN with the raw bytes after OK
    response = await at.expect_ok(f'AT+ICOAPSENDREQ=1,"{path}",""')
    rsp = await at.wait_urc("+ICOAPRCVBIN")
    assert rsp.payload == b"\x00\xff" and rsp.fields[2] == "2"


async def test_coap_wrong_secret_fails(at, device):
    await at.expect_ok(f'AT+ICOAPAUTH="{device.product_key}","{device.device_name}","nope"')
    assert (await at.wait_urc("+ICOAPAUTH")).text == "+ICOAPAUTH:FAIL"
    assert (await at.command('AT+ICOAPSENDREQ=2,"/a/b","x"')).final == "+CME ERROR:3"


async def test_coap_timeout_when_server_is_gone(at, device, cloud):
    await coap_online(at, device)
    await at.expect_ok('AT+ICOAPARA="TIMEOUT",1')
    await cloud.coap.stop()
    response = await at.expect_ok(f'AT+ICOAPSENDREQ=2,"/{device.product_key}/{device.device_name}/x","y"')
    token = response.line("+ICOAPSENDREQ").fields[0]
    status = (await at.wait_urc("+ICOAPSENDREQ", timeout=10)).fields
    assert status[0] == token and status[1] in ("1", "2")


async def test_http_sync_send_lands_and_answers(at, device, observer, cloud):
    path = f"/{device.product_key}/{device.device_name}/user/http"
    await observer.subscribe(path, 1)
    await http_online(at, device)
    await at.expect_ok(f'AT+IHTTPSEND=2,"{path}","{{\\"action\\":\\"turnon\\"}}"')
    urc = await at.wait_urc("+IHTTPSEND")
    assert urc.fields[0] == "0"
    assert int(urc.fields[1]) == len(urc.payload)
    assert json.loads(urc.payload)["code"] == 0
    assert (await observer.next_message()).payload == b'{"action":"turnon"}'
    await cloud.events.wait_for(kind_is("http.request"))


async def test_http_async_text_and_binary(at, device, observer):
    path = f"/{device.product_key}/{device.device_name}/user/h2"
    await observer.subscribe(path, 1)
    await http_online(at, device)
    response = await at.expect_ok(f'AT+IHTTPSENDREQ=3,"{path}","v1"')
    token = response.line("+IHTTPSENDREQ").fields[0]
    rsp = await at.wait_urc("+IHTTPRCVRSP")
    assert rsp.fields[:3] == [token, "0", path] and json.loads(rsp.payload)["code"] == 0
    response = await at.command(f'AT+IHTTPSENDBIN=2,"{path}",3', data=b"\x01\x02\x03")
    token = response.line("+IHTTPSENDBIN").fields[0]
    await at.wait_urc("+IHTTPRCVRSP", lambda l: l.fields[0] == token)
    assert (await observer.next_message()).payload == b"v1"
    assert (await observer.next_message()).payload == b"\x01\x02\x03"
    # GET returns the stored binary body: +IHTTPRCVBIN + OK + raw bytes
    response = await at.expect_ok(f'AT+IHTTPSENDREQ=1,"{path}",""')
    token = response.line("+IHTTPSENDREQ").fields[0]
    rsp = await at.wait_urc("+IHTTPRCVBIN")
    assert rsp.fields[:4] == [token, "0", path, "3"] and rsp.payload == b"\x01\x02\x03"


async def test_http_without_token_reports_status_2(at, device):
    await at.expect_ok(f'AT+IHTTPSEND=2,"/{device.product_key}/{device.device_name}/x","y"')
    assert (await at.wait_urc("+IHTTPSEND")).text == "+IHTTPSEND:2"


async def test_http_expired_token_reports_status_1(at, device, cloud):
    now = [1000.0]
    cloud.http.tokens._clock = lambda: now[0]      # the cloud's token clock, moved by hand
    await http_online(at, device)
    now[0] += cloud.http.tokens.ttl + 1
    await at.expect_ok(f'AT+IHTTPSENDREQ=2,"/{device.product_key}/{device.device_name}/x","y"')
    assert (await at.wait_urc("+IHTTPRCVRSP")).fields[1] == "1"
    # re-authenticating with the stored credentials (bare AUTH) gives a fresh token
    await at.expect_ok("AT+IHTTPAUTH")
    assert (await at.wait_urc("+IHTTPAUTH")).text == "+IHTTPAUTH:OK"
    await at.expect_ok(f'AT+IHTTPSENDREQ=2,"/{device.product_key}/{device.device_name}/x","y"')
    assert (await at.wait_urc("+IHTTPRCVRSP")).fields[1] == "0"


async def test_http_foreign_topic_is_refused(at, device, cloud):
    cloud.registry.add("a1other", "dev-x", "sx")
    await http_online(at, device)
    await at.expect_ok('AT+IHTTPSEND=2,"/a1other/dev-x/user/http","steal"')
    assert (await at.wait_urc("+IHTTPSEND")).text == "+IHTTPSEND:255"


async def test_http_keepalive_and_disconnect(at, device):
    await at.expect_ok('AT+IHTTPARA="KEEPALIVE",1')
    await http_online(at, device)
    for _ in range(2):
        await at.expect_ok(f'AT+IHTTPSEND=2,"/{device.product_key}/{device.device_name}/k","v"')
        assert (await at.wait_urc("+IHTTPSEND")).fields[0] == "0"
    await at.expect_ok("AT+IHTTPDISCONN")
    await at.expect_ok("AT+IHTTPDISCONN")   # OK with none open (errata #75)


async def test_independent_http_client_sees_what_the_te_stored(at, device, cloud):
    path = f"/{device.product_key}/{device.device_name}/user/shared"
    await http_online(at, device)
    await at.expect_ok(f'AT+IHTTPSEND=3,"{path}","from-te"')
    assert (await at.wait_urc("+IHTTPSEND")).fields[0] == "0"
    async with aiohttp.ClientSession() as session:
        body = {"productKey": device.product_key, "deviceName": device.device_name,
                "clientId": "ext", "timestamp": "0", "sign": device.sign("ext"), "signmethod": "hmacsha1"}
        async with session.post(cloud.addresses["http"] + "/auth", json=body) as response:
            token = (await response.json())["info"]["token"]
        async with session.get(cloud.addresses["http"] + "/topic" + path, headers={"password": token}) as response:
            assert await response.read() == b"from-te"


async def test_http_server_gone_reports_status_4(at, device, cloud):
    await http_online(at, device)
    await cloud.http.stop()
    await at.expect_ok(f'AT+IHTTPSEND=2,"/{device.product_key}/{device.device_name}/x","y"')
    assert (await at.wait_urc("+IHTTPSEND")).text == "+IHTTPSEND:4"


@pytest.fixture
async def slow_server():
    """An HTTP server that answers only once ``release`` is set: (url, release)."""
    async with held_http_server() as (url, release):
        yield url, release


async def test_too_many_outstanding_requests_report_status_5(module_factory, slow_server):
    """A slow server: the fifth request in flight is refused with status 5."""
    url, release = slow_server
    m = await module_factory(echo=False, http_url=url)
    tokens = []
    for i in range(5):
        response = await m.at.expect_ok(f'AT+IHTTPSENDREQ=2,"/a/b/{i}","x"')
        tokens.append(response.line("+IHTTPSENDREQ").fields[0])
    refused = await m.at.wait_urc("+IHTTPRCVRSP")
    assert refused.fields == [tokens[4], "5"]
    release.set()
    done = [await m.at.wait_urc("+IHTTPRCVRSP") for _ in range(4)]
    assert sorted(u.fields[0] for u in done) == sorted(tokens[:4])
    assert all(u.fields[1] == "0" for u in done)


async def test_sync_send_timeout_reports_status_255(module_factory, slow_server):
    url, _ = slow_server
    m = await module_factory(echo=False, http_url=url)
    await m.at.expect_ok('AT+IHTTPARA="TIMEOUT",1')
    await m.at.expect_ok('AT+IHTTPSEND=2,"/a/b/c","x"')
    assert (await m.at.wait_urc("+IHTTPSEND", timeout=10)).text == "+IHTTPSEND:255"
