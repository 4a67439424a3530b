"""Defect 5 (issue 10): nothing of one TE connection on the TCP attach point leaks to the next.

A TE that closes and at once reconnects is not refused as busy; a half line or an
unfinished data entry of one connection is gone when the next one starts."""

from __future__ import annotations

import asyncio

import pytest

from peripherals.ica import IcaModule, ModuleConfig
from pysim.attach import serve_tcp
from pysim.events import EventLog, kind_is

TRIES = 50


@pytest.fixture
async def attach_point(cloud):
    """A module (echo off) on the cloud, served on a TCP attach point; yields (module, host, port)."""
    config = ModuleConfig(echo=False)
    config.use_cloud(cloud.addresses)
    module = IcaModule(config, events=EventLog())
    server, address = await serve_tcp(module)
    _, host, port = address.split(":")
    try:
        yield module, host, int(port)
    finally:
        server.close()
        await server.wait_closed()
        await module.stop()


async def exchange(host: str, port: int, send: bytes, until: bytes = b"OK\r\n") -> bytes:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(send)
        return await asyncio.wait_for(reader.readuntil(until), 10)
    except asyncio.IncompleteReadError as error:
        return error.partial
    finally:
        writer.close()


async def test_fast_reconnect_is_never_refused(attach_point):
    """Each new TE connection opens just before the previous one closes (a terminal that
    reopens its port): the server may see the new connection before the old one's end."""
    _module, host, port = attach_point
    reader, writer = await asyncio.open_connection(host, port)
    refused = 0
    for _ in range(TRIES):
        next_reader, next_writer = await asyncio.open_connection(host, port)
        writer.close()
        reader, writer = next_reader, next_writer
        writer.write(b"AT\r")
        answer = await asyncio.wait_for(_answer(reader), 10)
        refused += b"busy" in answer
        assert refused or answer == b"\r\nOK\r\n", answer
    writer.close()
    assert refused == 0, f"{refused} of {TRIES} reconnects refused as busy"


async def _answer(reader: asyncio.StreamReader) -> bytes:
    """Bytes up to an OK, or up to the end of a refused connection."""
    try:
        return await reader.readuntil(b"OK\r\n")
    except asyncio.IncompleteReadError as error:
        return error.partial


async def test_half_line_of_one_connection_is_gone_for_the_next(attach_point):
    module, host, port = attach_point
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(b"AT+CGM")                  # no CR: a half line
    await writer.drain()
    writer.close()
    assert await exchange(host, port, b"AT\r") == b"\r\nOK\r\n"


async def test_unfinished_data_entry_of_one_connection_is_gone_for_the_next(attach_point, device):
    module, host, port = attach_point
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f'AT+IMQTTAUTH="{device.product_key}","{device.device_name}","{device.device_secret}"\r'.encode())
    await asyncio.wait_for(reader.readuntil(b"+IMQTTAUTH:OK\r\n"), 10)
    writer.write(b"AT+IMQTTCONN\r")
    await asyncio.wait_for(reader.readuntil(b"+IMQTTSTATE:2\r\n"), 10)
    topic = f"/{device.product_key}/{device.device_name}/user/t"
    writer.write(f'AT+IMQTTPUBIN="{topic}",0,10\r'.encode())
    assert await asyncio.wait_for(reader.readuntil(b"OK\r\n"), 10) == b"\r\nOK\r\n"
    writer.write(b"abc")                     # 3 of the 10 bytes announced, then the TE goes
    await writer.drain()
    writer.close()
    await module.events.wait_for(kind_is("at.command", final="+CME ERROR:3"), 10)
    assert await exchange(host, port, b"AT\r") == b"\r\nOK\r\n"
