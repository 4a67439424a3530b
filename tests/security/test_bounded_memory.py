"""Defect 4 (issue 10): memory stays bounded when a TE does not read, and the event log
keeps no whole 64 KiB payloads."""

from __future__ import annotations

import asyncio
import socket
import sys

from peripherals.ica import IcaModule, ModuleConfig
from pysim.attach import OUTPUT_LIMIT, serve_tcp
from pysim.events import EventLog, PayloadDigest, kind_is

PAYLOAD = bytes(range(256)) * 256          # 64 KiB, the largest data entry


def test_event_log_keeps_a_digest_of_long_payloads():
    log = EventLog()
    event = log.emit("at.data", None, length=len(PAYLOAD), payload=PAYLOAD)
    kept = event.detail["payload"]
    assert isinstance(kept, PayloadDigest) and sys.getsizeof(kept.prefix) < 200
    assert kept == PAYLOAD and len(kept) == len(PAYLOAD) and kept != PAYLOAD[:-1] + b"x"
    assert kept.prefix == PAYLOAD[:64] and "65536 bytes" in str(event)
    assert log.emit("x", None, payload=b"short").detail["payload"] == b"short"


async def test_data_entries_leave_no_whole_payload_in_the_events(cloud, device, module_factory):
    m = await module_factory(echo=False)
    await m.at.expect_ok(f'AT+IMQTTAUTH="{device.product_key}","{device.device_name}","{device.device_secret}"')
    assert (await m.at.wait_urc("+IMQTTAUTH")).text == "+IMQTTAUTH:OK"
    await m.at.expect_ok("AT+IMQTTCONN")
    assert (await m.at.wait_urc("+IMQTTSTATE")).text == "+IMQTTSTATE:2"
    topic = f"/{device.product_key}/{device.device_name}/user/big"
    for _ in range(3):
        await m.at.expect_ok(f'AT+IMQTTPUBIN="{topic}",1,{len(PAYLOAD)}', data=PAYLOAD)
        assert (await m.at.wait_urc("+IMQTTPUBIN")).fields[1] == "0"
    published = await cloud.events.wait_for(kind_is("mqtt.publish", topic=topic))
    assert published.detail["payload"] == PAYLOAD            # still comparable with what was sent
    entries = cloud.events.find(kind_is("at.data", length=len(PAYLOAD)))
    assert len(entries) == 3
    kept = sum(len(v) for e in cloud.events.events for v in e.detail.values() if isinstance(v, (bytes, bytearray)))
    assert kept < 16 * 1024, kept


async def test_tcp_attach_point_drops_output_for_a_te_that_does_not_read():
    module = IcaModule(ModuleConfig(echo=False))
    server, address = await serve_tcp(module)
    _, host, port = address.split(":")
    te = socket.socket()
    te.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    te.connect((host, int(port)))
    te.setblocking(False)
    try:
        await asyncio.wait_for(server.attach_point.attached.wait(), 10)
        line = "+IMQTTRCVPUB:1,\"/t\",1000,\"" + "x" * 1000 + "\""
        for _ in range(20_000):                 # 20 MB of URCs the TE never reads
            module.ctx.urc(line)
        assert server.attach_point.buffered <= OUTPUT_LIMIT, server.attach_point.buffered
        assert server.attach_point.dropped > 10_000_000
    finally:
        te.close()
        server.close()
        await server.wait_closed()
        await module.stop()

