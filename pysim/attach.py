"""Attach points: serve a module's UART on a TCP port or on a pseudo-terminal, so a
serial terminal, host-built firmware or any script can be the TE.

TCP attach point, one TE at a time:

* A TE that connects while another is attached waits up to ``TAKEOVER_GRACE`` seconds
  for the other's connection to end (a TE that closes and at once reconnects is not
  refused because the server had not yet seen the close); then it is refused with one
  line ``busy: another TE is attached to this module``.
* Each connection starts and ends with :meth:`reset_input` of the module: a half line
  or an unfinished data entry of one TE is never carried to the next.
* Memory stays bounded when the TE does not read. Input is back-pressured: the module
  reads no more from the TE while more than ``OUTPUT_LIMIT`` bytes wait for the TE
  (its own socket then fills, as with hardware flow control). Output the module makes
  on its own meanwhile (URCs) is dropped past ``OUTPUT_LIMIT`` (drop-newest, as a full
  UART FIFO loses what arrives), and counted in ``TcpAttachPoint.dropped``.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import tty
from typing import Callable

from pysim.uart import TA_TO_TE, TE_TO_TA, ModuleEndpoint, UartRecord

Listener = Callable[[UartRecord], None]
OUTPUT_LIMIT = 256 * 1024   # bytes waiting for a TE that does not read
TAKEOVER_GRACE = 1.0        # seconds a new TE waits for the previous connection to end
BUSY_LINE = b"busy: another TE is attached to this module\r\n"


def _recorder(listener: Listener | None, direction: str) -> Callable[[bytes], None]:
    if listener is None:
        return lambda data: None
    return lambda data: listener(UartRecord(time.monotonic(), direction, bytes(data)))


def _reset_input(module: ModuleEndpoint) -> None:
    reset = getattr(module, "reset_input", None)
    if reset is not None:
        reset()


class TcpAttachPoint:
    """The module's UART on a TCP port (see the module docstring for the rules)."""

    def __init__(self, module: ModuleEndpoint, listener: Listener | None = None, *,
                 output_limit: int = OUTPUT_LIMIT, grace: float = TAKEOVER_GRACE) -> None:
        self.module = module
        self.output_limit = output_limit
        self.grace = grace
        self.dropped = 0            # output bytes dropped for a TE that did not read
        self.refused = 0            # connections refused as busy
        self.server: asyncio.AbstractServer | None = None
        self._record_in = _recorder(listener, TE_TO_TA)
        self._record_out = _recorder(listener, TA_TO_TE)
        self._current: asyncio.Task | None = None
        self._writer: asyncio.StreamWriter | None = None
        self.attached = asyncio.Event()     # set while a TE is attached

    @property
    def buffered(self) -> int:
        """Output bytes waiting for the attached TE (at most ``output_limit``)."""
        writer = self._writer
        return writer.transport.get_write_buffer_size() if writer is not None else 0

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen; returns the address as ``tcp:HOST:PORT``."""
        self.server = await asyncio.start_server(self._handle, host, port)
        bound_host, bound_port = self.server.sockets[0].getsockname()[:2]
        return f"tcp:{bound_host}:{bound_port}"

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        previous = self._current
        if previous is not None and not previous.done():
            await asyncio.wait({previous}, timeout=self.grace)
        if self._current is not None and not self._current.done():
            self.refused += 1
            writer.write(BUSY_LINE)
            writer.close()
            return
        self._current = asyncio.current_task()
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport = writer.transport
        transport.set_write_buffer_limits(high=self.output_limit // 2)   # input stops here, output drops at the limit

        def output(data: bytes) -> None:
            if transport.is_closing():
                return
            if transport.get_write_buffer_size() + len(data) > self.output_limit:
                self.dropped += len(data)
                return
            self._record_out(data)
            writer.write(data)

        _reset_input(self.module)
        self.module.on_output = output
        self._writer = writer
        self.attached.set()
        try:
            while True:
                await writer.drain()          # back-pressure: no input while the TE does not read
                data = await reader.read(4096)
                if not data:
                    break
                self._record_in(data)
                self.module.feed(data)
        except ConnectionError:
            pass
        finally:
            if self.module.on_output is output:
                self.module.on_output = None
                _reset_input(self.module)
            if self._writer is writer:
                self._writer = None
                self.attached.clear()
            writer.close()


async def serve_tcp(module: ModuleEndpoint, host: str = "127.0.0.1", port: int = 0,
                    listener: Listener | None = None) -> tuple[asyncio.AbstractServer, str]:
    """Serve the module's UART on TCP (a :class:`TcpAttachPoint`); returns the server and
    its address ``tcp:HOST:PORT``. Output for no TE is dropped, as on an unplugged UART."""
    point = TcpAttachPoint(module, listener)
    address = await point.start(host, port)
    point.server.attach_point = point     # for whoever wants the counters
    return point.server, address


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
