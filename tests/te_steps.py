"""What a TE does to bring a module online, shared by the test areas (module, faults,
security): echo off, a family's AUTH with the device's credentials, for MQTT the
parameters and the connection. Imported as ``from te_steps import mqtt_online``
(tests/conftest.py's folder is on sys.path)."""

from __future__ import annotations

from pysim.te import AtClient


async def authenticated(at: AtClient, family: str, device) -> None:
    """``ATE0``, then ``AT+I<family>AUTH`` with the device's credentials, waiting for ``:OK``."""
    await at.expect_ok("ATE0")
    await at.expect_ok(f'AT+I{family}AUTH="{device.product_key}","{device.device_name}","{device.device_secret}"')
    assert (await at.wait_urc(f"+I{family}AUTH")).text == f"+I{family}AUTH:OK"


async def mqtt_online(at: AtClient, device, **para: object) -> None:
    """Authenticated for MQTT, ``AT+IMQTTPARA="<tag>",<value>`` for each of ``para``
    (``CLEAN=0``), then ``AT+IMQTTCONN``, waiting for ``+IMQTTSTATE:2``."""
    await authenticated(at, "MQTT", device)
    for tag, value in para.items():
        await at.expect_ok(f'AT+IMQTTPARA="{tag}",{value}')
    await at.expect_ok("AT+IMQTTCONN")
    assert (await at.wait_urc("+IMQTTSTATE")).text == "+IMQTTSTATE:2"
