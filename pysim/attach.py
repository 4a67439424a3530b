"""Attach points: serve a module's UART on a TCP port or on a pseudo-terminal, so a
serial terminal, host-built firmware or any script can be the TE."""

from __future__ import annotations

import asyncio
import os
import socket
import time
import tty
from typing import Callable

from pysim.uart import TA_TO_TE, TE_TO_TA, ModuleEndpoint, UartRecord

Listener = Callable[[UartRecord], None]


def _recorder(listener: Listener | None, direction: str) -> Callable[[bytes], None]:
    if listener is None:
        return lambda data: None
    return lambda data: listener(UartRecord(time.monotonic(), direction, bytes(data)))


async def serve_tcp(module: ModuleEndpoint, host: str = "127.0.0.1", port: int = 0,
                    listener: Listener | None = None) -> tuple[asyncio.AbstractServer, str]:
    """Serve the module's UART on TCP: one TE at a time (a second one is refused with a
    line saying so); output for no TE is dropped, as on an unplugged UART."""
    record_in, record_out = _recorder(listener, TE_TO_TA), _recorder(listener, TA_TO_TE)
    busy = asyncio.Lock()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if busy.locked():
            writer.write(b"busy: another TE is attached to this module\r\n")
            writer.close()
            return
        async with busy:
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def output(data: bytes) -> None:
                record_out(data)
                writer.write(data)

            module.on_output = output
            try:
                while data := await reader.read(4096):
                    record_in(data)
                    module.feed(data)
            except ConnectionError:
                pass
            finally:
                module.on_output = None
                writer.close()

    server = await asyncio.start_server(handle, host, port)
    bound_host, bound_port = server.sockets[0].getsockname()[:2]
    return server, f"tcp:{bound_host}:{bound_port}"


def open_pty(module: ModuleEndpoint, listener: Listener | None = None) -> tuple[str, Callable[[], None]]:
    """Serve the module's UART on a new pseudo-terminal (raw mode); returns its path and a closer."""
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    path = os.ttyname(slave)
    loop = asyncio.get_running_loop()
    record_in, record_out = _recorder(listener, TE_TO_TA), _recorder(listener, TA_TO_TE)

    def readable() -> None:
        try:
            data = os.read(master, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:   # EIO: no TE has the slave open
            return
        if data:
            record_in(data)
            module.feed(data)

    def output(data: bytes) -> None:
        record_out(data)
        try:
            os.write(master, data)
        except OSError:
            pass

    loop.add_reader(master, readable)
    module.on_output = output

    def close() -> None:
        loop.remove_reader(master)
        module.on_output = None
        os.close(master)
        os.close(slave)   # kept open until now so the pty outlives TEs that come and go

    return path, close
