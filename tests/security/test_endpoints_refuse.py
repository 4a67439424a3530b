"""Every endpoint of the cloud refuses wrong or missing credentials and another device's
topics, as a user checks it: real TLS, independent clients (paho-mqtt, mosquitto_pub/sub,
aiocoap's client, coap-client-notls, aiohttp), each trying what it must not."""

from __future__ import annotations

import json
import ssl
import stat

import aiocoap
import pytest
from endpoint_clients import REFUSED, TOKEN_OPTION, auth_body, coap_request, need, run

from pysim.devauth import mqtt_connect_fields
from pysim.events import kind_is
from pysim.peers import host_port

# ---- MQTT over TLS -------------------------------------------------------------------

def tls_paho(paho, cloud, creds=None, **fields):
    client = paho(creds, **fields)
    client.client.tls_set(ca_certs=str(cloud.tls.ca_file))
    return client


def test_tls_files_are_private(cloud):
    tls = cloud.tls
    assert stat.S_IMODE(tls.key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(tls.key_file.parent.stat().st_mode) == 0o700
    assert b"BEGIN CERTIFICATE" in tls.ca_file.read_bytes()


async def test_mqtts_refuses_wrong_and_missing_credentials(cloud, dev_a, paho):
    url = cloud.addresses["mqtts"].replace("mqtts://", "mqtt://")
    client_id, username, _ = mqtt_connect_fields(dev_a, tls=True)
    assert await tls_paho(paho, cloud, username=username, password="0" * 40, client_id=client_id).connect(url) in REFUSED
    assert await tls_paho(paho, cloud, client_id=client_id).connect(url) in REFUSED
    assert await tls_paho(paho, cloud, dev_a).connect(url) == 0
    failures = cloud.events.find(kind_is("mqtt.auth_fail"))
    assert {e.detail["reason"] for e in failures} == {"bad sign", "no username"}


async def test_mqtts_is_refused_by_a_client_that_does_not_trust_the_ca(cloud, dev_a, paho):
    client = paho(dev_a)
    client.client.tls_set()            # the system's CAs only
    with pytest.raises(ssl.SSLCertVerificationError):
        await client.connect(cloud.addresses["mqtts"].replace("mqtts://", "mqtt://"))


async def test_mqtts_cross_device_subscribe_and_publish_are_refused(cloud, dev_a, dev_b, paho, observer):
    url = cloud.addresses["mqtts"].replace("mqtts://", "mqtt://")
    victim_topic = f"/{dev_a.product_key}/{dev_a.device_name}/user/cmd"
    await observer.subscribe(victim_topic, 1)
    attacker = tls_paho(paho, cloud, dev_b)
    assert await attacker.connect(url) == 0
    assert await attacker.subscribe(f"/{dev_a.product_key}/{dev_a.device_name}/#", 1) == [0x80]
    assert await attacker.subscribe("#", 1) == [0x80]
    await attacker.publish(victim_topic, b"forged", 1)
    denied = await cloud.events.wait_for(kind_is("mqtt.denied", topic=victim_topic))
    assert denied.device == dev_b.key
    own = f"/{dev_b.product_key}/{dev_b.device_name}/user/x"
    await observer.subscribe(own, 1)
    await attacker.publish(own, b"own", 1)          # its own topic goes through, the forged one did not
    assert (await observer.next_message()).payload == b"own"


async def test_mosquitto_over_tls_refuses_a_wrong_password_and_a_foreign_topic(cloud, dev_a, dev_b):
    pub, sub = need("mosquitto_pub"), need("mosquitto_sub")
    host, port = host_port(cloud.addresses["mqtts"].replace("mqtts://", "mqtt://"))
    client_id, username, password = mqtt_connect_fields(dev_b, tls=True)
    base = ["-h", host, "-p", str(port), "--cafile", str(cloud.tls.ca_file), "-i", client_id, "-u", username]
    code, out, err = await run(pub, *base, "-P", "0" * 40, "-t", f"/{dev_b.product_key}/{dev_b.device_name}/x",
                               "-m", "x")
    said = (out + err).lower()
    assert code != 0 and ("not authori" in said or "refused" in said), said
    code, out, err = await run(sub, *base, "-P", password, "-t", f"/{dev_a.product_key}/{dev_a.device_name}/#",
                               "-q", "1", "-C", "1", "-W", "5")
    assert "all subscription requests were denied" in (out + err).lower(), out + err    # and it received nothing


# ---- CoAP ----------------------------------------------------------------------------

async def test_coap_refuses_bad_sign_missing_token_and_foreign_topic(cloud, dev_a, dev_b, coap):
    bad = await coap_request(coap, cloud, aiocoap.POST, "/auth", json.dumps(auth_body(dev_b, "0" * 40)).encode())
    assert bad.code == aiocoap.UNAUTHORIZED
    good = await coap_request(coap, cloud, aiocoap.POST, "/auth", json.dumps(auth_body(dev_b)).encode())
    assert good.code.is_successful() and dev_b.device_secret.encode() not in good.payload
    token = json.loads(good.payload)["token"]
    victim = f"/topic/{dev_a.product_key}/{dev_a.device_name}/user/cmd"
    assert (await coap_request(coap, cloud, aiocoap.POST, victim, b"x")).code == aiocoap.UNAUTHORIZED
    assert (await coap_request(coap, cloud, aiocoap.POST, victim, b"x", "forged")).code == aiocoap.UNAUTHORIZED
    assert (await coap_request(coap, cloud, aiocoap.POST, victim, b"x", token)).code == aiocoap.FORBIDDEN
    assert (await coap_request(coap, cloud, aiocoap.GET, victim, token=token)).code == aiocoap.FORBIDDEN
    ota = f"/ota/device/upgrade/{dev_a.product_key}/{dev_a.device_name}"
    assert (await coap_request(coap, cloud, aiocoap.GET, ota, token=token)).code == aiocoap.FORBIDDEN


async def test_coap_client_notls_with_a_forged_token_is_refused(cloud, dev_a):
    coap_client = need("coap-client-notls")
    topic = f"/topic/{dev_a.product_key}/{dev_a.device_name}/user/cmd"
    code, out, err = await run(coap_client, "-m", "get", "-O", f"{TOKEN_OPTION},forged", "-v", "4", "-B", "5",
                               cloud.addresses["coap"] + topic)
    assert "4.01" in out + err, out + err


# ---- HTTP ----------------------------------------------------------------------------

async def test_http_refuses_bad_sign_missing_token_and_foreign_topic(cloud, dev_a, dev_b, http):
    base = cloud.addresses["http"]
    async with http.post(base + "/auth", json=auth_body(dev_b, "0" * 40)) as response:
        assert (await response.json())["code"] == 20000
    async with http.post(base + "/auth", json=auth_body(dev_b)) as response:
        text = await response.text()
        assert dev_b.device_secret not in text
        token = json.loads(text)["info"]["token"]
    victim = f"{base}/topic/{dev_a.product_key}/{dev_a.device_name}/user/cmd"
    async with http.post(victim, data=b"x") as response:
        assert response.status == 401 and (await response.json())["code"] == 20002
    async with http.post(victim, data=b"x", headers={"password": "forged"}) as response:
        assert response.status == 401 and (await response.json())["code"] == 20003
    async with http.post(victim, data=b"x", headers={"password": token}) as response:
        assert response.status == 403 and (await response.json())["code"] == 40300
    async with http.get(victim, headers={"password": token}) as response:
        assert response.status == 403
