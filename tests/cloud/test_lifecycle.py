"""Cloud start/stop: addresses, idempotence, and nothing left open after stop."""

from __future__ import annotations

import asyncio
import socket

import pytest
from pysim.peers import host_port

from pysim.cloud import Cloud


async def test_addresses_stop_closes_every_socket_and_task():
    cloud = Cloud()
    before = {t for t in asyncio.all_tasks()}
    async with cloud:
        await cloud.start()  # a second start is a no-op
        addresses = cloud.addresses
        assert set(addresses) == {"mqtt", "mqtts", "ca", "coap", "http"}
        assert addresses["mqtt"].startswith("mqtt://127.0.0.1:")
        assert addresses["mqtts"].startswith("mqtts://127.0.0.1:")
        assert addresses["coap"].startswith("coap://127.0.0.1:")
        assert addresses["http"].startswith("http://127.0.0.1:")
        services = {k: v for k, v in addresses.items() if k != "ca"}
        assert len({host_port(url)[1] for url in services.values()}) == 4
    await cloud.stop()  # idempotent

    for scheme in ("mqtt", "mqtts", "http"):
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection(*host_port(addresses[scheme]))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(host_port(addresses["coap"]))  # the CoAP port is free again
    assert {t for t in asyncio.all_tasks() if not t.done()} <= before


async def test_fixed_ports_are_used_and_a_taken_port_fails_cleanly():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        before = set(asyncio.all_tasks())
        with pytest.raises(OSError):
            await Cloud(http_port=port).start()
        assert not {t for t in asyncio.all_tasks() if not t.done()} - before
    async with Cloud(http_port=port) as cloud:
        assert cloud.addresses["http"] == f"http://127.0.0.1:{port}"


async def test_stop_with_connected_clients_leaves_nothing_behind(paho):
    cloud = Cloud()
    before = set(asyncio.all_tasks())
    await cloud.start()
    try:
        creds = cloud.registry.add("a1PKlife", "dev-life", "secret")
        device = paho(creds)
        assert await device.connect(cloud.addresses["mqtt"]) == 0
        await device.subscribe("/a1PKlife/dev-life/#", 1)
        with socket.socket() as idle:  # a TCP client that never sends CONNECT
            idle.connect(host_port(cloud.addresses["mqtt"]))
            await cloud.stop()
    finally:
        await cloud.stop()
    leftovers = {t for t in asyncio.all_tasks() if not t.done()} - before
    assert not leftovers, leftovers
