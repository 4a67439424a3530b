"""A CoAP payload larger than one block (1024 bytes) goes through the module's CoAP
client block by block (Block1 up, Block2 down) to the real cloud and arrives whole."""

from __future__ import annotations

import pytest

from pysim.peers import service_client


@pytest.fixture
async def observer(cloud):
    client = await service_client(cloud)
    yield client
    await client.close()


async def test_payload_larger_than_a_block_both_ways(at, device, observer):
    path = f"/{device.product_key}/{device.device_name}/user/big"
    payload = bytes(range(256)) * 12                  # 3072 bytes: three blocks and a bit
    await observer.subscribe(path, 1)
    await at.expect_ok("ATE0")
    await at.expect_ok(f'AT+ICOAPAUTH="{device.product_key}","{device.device_name}","{device.device_secret}"')
    assert (await at.wait_urc("+ICOAPAUTH")).text == "+ICOAPAUTH:OK"
    reply = await at.command(f'AT+ICOAPSENDBIN=2,"{path}",{len(payload)}', data=payload)
    token = reply.line("+ICOAPSENDBIN").fields[0]
    assert (await at.wait_urc("+ICOAPSENDBIN", lambda l: l.fields[0] == token)).fields == [token, "0"]
    assert (await observer.next_message()).payload == payload
    reply = await at.expect_ok(f'AT+ICOAPSENDREQ=1,"{path}",""')
    token = reply.line("+ICOAPSENDREQ").fields[0]
    answer = await at.wait_urc("+ICOAPRCVBIN", lambda l: l.fields[0] == token)
    assert answer.payload == payload
