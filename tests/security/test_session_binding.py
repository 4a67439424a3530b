"""Defect 1 (issue 10): the broker binds the MQTT client identifier to the device that signed in.

An attacker device with a valid signature of its own, over the victim's client id, must not
get the victim's persistent session nor the messages queued in it."""

from __future__ import annotations

from endpoint_clients import REFUSED
from pysim.devauth import sign
from pysim.events import kind_is


async def test_foreign_client_id_with_own_signature_is_refused(cloud, dev_a, dev_b, paho, observer):
    url = cloud.addresses["mqtt"]
    topic = f"/{dev_a.product_key}/{dev_a.device_name}/user/inbox"
    victim = paho(dev_a, clean_session=False)
    assert await victim.connect(url) == 0
    assert await victim.subscribe(topic, 1) == [1]
    await victim.close()
    await cloud.events.wait_for(kind_is("mqtt.disconnect", client_id=victim.client._client_id.decode()))
    for n in range(3):
        await observer.publish(topic, b"for a only %d" % n, 1)

    # dev_b signs the victim's client id with its OWN secret: a valid sign, a foreign id
    victim_identifier = victim.client._client_id.decode()
    attacker = paho(username=f"{dev_b.device_name}&{dev_b.product_key}",
                    password=sign(dev_b.device_secret, dev_a.client_id, dev_b.device_name, dev_b.product_key),
                    client_id=victim_identifier, clean_session=False)
    assert await attacker.connect(url) in REFUSED
    failure = await cloud.events.wait_for(kind_is("mqtt.auth_fail", client_id=victim_identifier))
    assert failure.detail["reason"] == "client id of another device"
    assert attacker.messages.empty()

    # the victim's session is intact: the three messages are still there for it
    victim_again = paho(dev_a, clean_session=False)
    assert await victim_again.connect(url) == 0
    got = [(await victim_again.next_message()).payload for _ in range(3)]
    assert sorted(got) == [b"for a only %d" % n for n in range(3)]


async def test_own_client_id_with_parameters_is_accepted(cloud, dev_a, paho):
    """Binding is on the plain id: the ``|...|`` parameters (securemode, check=1) may vary."""
    client = paho(username=f"{dev_a.device_name}&{dev_a.product_key}", password=dev_a.sign(),
                  client_id=f"{dev_a.client_id}|securemode=3,signmethod=hmacsha1,check=1|")
    assert await client.connect(cloud.addresses["mqtt"]) == 0
