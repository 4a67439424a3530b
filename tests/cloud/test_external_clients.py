"""Independent clients: Debian's mosquitto_pub/mosquitto_sub and libcoap's coap-client-notls,
and the cloud run standalone as ``python -m pysim.cloud``."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from endpoint_clients import TOKEN_OPTION, auth_body, need, run
from pysim.peers import TIMEOUT, host_port

from pysim.devauth import mqtt_connect_fields
from pysim.events import kind_is

REPO = Path(__file__).resolve().parents[2]


def mosquitto_args(cloud, creds, *extra: str) -> list[str]:
    client_id, username, password = mqtt_connect_fields(creds)
    host, port = host_port(cloud.addresses["mqtt"])
    return ["-h", host, "-p", str(port), "-i", client_id, "-u", username, "-P", password, *extra]


async def test_mosquitto_clients(cloud, dev_a):
    sub_bin, pub_bin = need("mosquitto_sub"), need("mosquitto_pub")
    pk, dn = dev_a.key
    topic = f"/{pk}/{dn}/user/telemetry"
    sub = await asyncio.create_subprocess_exec(
        sub_bin, *mosquitto_args(cloud, dev_a, "-t", f"/{pk}/{dn}/user/#", "-q", "1", "-C", "1", "-v"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        await cloud.events.wait_for(kind_is("mqtt.subscribe", topic=f"/{pk}/{dn}/user/#"), TIMEOUT)
        # the publisher speaks MQTT 3.1 (MQIsdp); a device's plain client id is bound to it,
        # a second connection of the same device differs in the |...| parameters
        _, username, _ = mqtt_connect_fields(dev_a)
        pub_id = f"{dev_a.client_id}|securemode=3,signmethod=hmacsha1,role=pub|"
        host, port = host_port(cloud.addresses["mqtt"])
        code, _, err = await run(pub_bin, "-h", host, "-p", str(port), "-V", "mqttv31", "-i", pub_id,
                                 "-u", username, "-P", dev_a.sign(), "-t", topic, "-q", "1",
                                 "-m", "from mosquitto")
        assert code == 0, err
        out, err = await asyncio.wait_for(sub.communicate(), TIMEOUT)
        assert sub.returncode == 0, err.decode()
        assert out.decode().strip() == f"{topic} from mosquitto"
    finally:
        if sub.returncode is None:
            sub.kill()
            await sub.wait()


async def test_mosquitto_with_a_wrong_password_is_refused(cloud, dev_a):
    pub_bin = need("mosquitto_pub")
    client_id, username, _ = mqtt_connect_fields(dev_a)
    host, port = host_port(cloud.addresses["mqtt"])
    code, out, err = await run(pub_bin, "-h", host, "-p", str(port), "-i", client_id, "-u", username,
                               "-P", "0" * 40, "-t", f"/{dev_a.product_key}/{dev_a.device_name}/x", "-m", "x")
    assert code != 0
    assert "not authori" in (out + err).lower() or "refused" in (out + err).lower(), out + err


async def test_coap_client_notls(cloud, dev_a, service):
    coap_client = need("coap-client-notls")
    pk, dn = dev_a.key
    topic = f"/{pk}/{dn}/user/coap"
    await service.connect(cloud.addresses["mqtt"])
    await service.subscribe(topic, 0)
    base = cloud.addresses["coap"]
    body = json.dumps(auth_body(dev_a))
    code, out, err = await run(coap_client, "-m", "post", "-t", "json", "-e", body, "-B", "5", base + "/auth")
    assert code == 0, err
    token = json.loads(out.strip().splitlines()[-1])["token"]

    code, out, err = await run(coap_client, "-m", "post", "-O", f"{TOKEN_OPTION},{token}", "-e", "from libcoap",
                               "-B", "5", base + "/topic" + topic)
    assert code == 0, err
    assert json.loads(out.strip().splitlines()[-1])["code"] == 0
    assert (await service.next_message()).payload == b"from libcoap"

    code, out, err = await run(coap_client, "-m", "post", "-O", f"{TOKEN_OPTION},wrong", "-e", "x", "-v", "4",
                               "-B", "5", base + "/topic" + topic)
    assert "4.01" in out + err, out + err


async def test_standalone_cloud_process():
    """``python -m pysim.cloud`` prints its addresses first, events after, and stops on SIGTERM."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pysim.cloud", "--device", "a1PKcli:dev-cli:s3cret",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
    try:
        addresses = json.loads(await asyncio.wait_for(proc.stdout.readline(), TIMEOUT))
        assert sorted(addresses) == ["ca", "coap", "http", "mqtt", "mqtts"]
        assert addresses["mqtt"].startswith("mqtt://127.0.0.1:")
        host, port = host_port(addresses["mqtt"])
        reader, writer = await asyncio.open_connection(host, port)  # the broker is there
        writer.close()
        await writer.wait_closed()
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), TIMEOUT) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
