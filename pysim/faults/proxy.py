"""The fault proxy: asyncio TCP and UDP relays between the module and the cloud.

    proxy = FaultProxy(events)
    addresses = await proxy.start(cloud.addresses)   # same map, pointing at the relays
    config.use_cloud(addresses)                      # the module talks to the proxy
    rule = proxy.add(parse_fault("net.latency:ms=200"), seed=1)
    proxy.remove(rule); await proxy.stop()

One relay per service (MQTT and MQTT over TLS, HTTP: TCP; CoAP: UDP), each on a
free port of the same host. What happens to each chunk or datagram is decided by
:class:`pysim.faults.netem.NetemCore`; this module only waits and moves bytes.
TLS passes through untouched (the relay sees ciphertext).
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from typing import Callable
from urllib.parse import urlsplit

from pysim.events import EventLog

from .netem import DOWN, UP, NetemCore, NetRule
from .spec import FaultSpec

TCP_SERVICES = ("mqtt", "mqtts", "http")
UDP_SERVICES = ("coap",)
READ_SIZE = 65536


def _rst(writer: asyncio.StreamWriter | asyncio.BaseTransport | None) -> None:
    """Close with a TCP RST (SO_LINGER 0), as a reset connection ends."""
    if writer is None:
        return
    transport = writer.transport if isinstance(writer, asyncio.StreamWriter) else writer
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    transport.abort()


class _Pipe:
    """One direction of one TCP connection: chunks wait for their delivery time, in order."""

    def __init__(self, relay: "_TcpRelay", direction: str, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter, conn: int) -> None:
        self.relay, self.direction, self.conn = relay, direction, conn
        self.reader, self.writer = reader, writer
        self.queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()

    async def read(self) -> None:
        core, key = self.relay.proxy.core, (id(self), self.direction)
        try:
            while data := await self.reader.read(READ_SIZE):
                self.relay.proxy.tap(self.relay.service, self.direction, self.conn, data)
                due = core.route(self.relay.service, self.direction, len(data), time.monotonic(), stream=key)
                if due is None:       # the service went down under us
                    break
                self.queue.put_nowait((due, data))
        except (ConnectionError, OSError):
            pass
        finally:
            core.forget(key)
            self.queue.put_nowait(None)

    async def write(self) -> None:
        try:
            while (item := await self.queue.get()) is not None:
                due, data = item
                if (wait := due - time.monotonic()) > 0:
                    await asyncio.sleep(wait)
                self.writer.write(data)
                await self.writer.drain()
            if self.writer.can_write_eof():
                self.writer.write_eof()
        except (ConnectionError, OSError):
            pass


class _TcpRelay:
    def __init__(self, proxy: "FaultProxy", service: str, upstream: tuple[str, int], host: str) -> None:
        self.proxy, self.service, self.upstream, self.host = proxy, service, upstream, host
        self.port = 0
        self.server: asyncio.AbstractServer | None = None
        self.connections: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self.tasks: set[asyncio.Task] = set()

    async def listen(self) -> None:
        self.server = await asyncio.start_server(self._accept, self.host, self.port, reuse_address=True)
        self.port = self.server.sockets[0].getsockname()[1]

    async def close_listener(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        try:
            if self.proxy.core.down(self.service, time.monotonic()):
                self.proxy.emit("fault.net.refused", service=self.service)
                _rst(writer)
                return
            try:
                up_reader, up_writer = await asyncio.open_connection(*self.upstream)
            except OSError as error:
                self.proxy.emit("fault.net.upstream_error", service=self.service, error=str(error))
                _rst(writer)
                return
            for w in (writer, up_writer):
                sock = w.get_extra_info("socket")
                if sock is not None:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pair = (writer, up_writer)
            self.connections.add(pair)
            conn = self.proxy.new_conn()
            pipes = [_Pipe(self, UP, reader, up_writer, conn), _Pipe(self, DOWN, up_reader, writer, conn)]
            try:
                await asyncio.gather(*(p.read() for p in pipes), *(p.write() for p in pipes))
            except asyncio.CancelledError:
                pass                  # the proxy stops: the connection task ends quietly
            finally:
                self.connections.discard(pair)
                for w in pair:
                    w.close()
        finally:
            self.tasks.discard(task)

    def reset_all(self) -> int:
        n = len(self.connections)
        for client, upstream in list(self.connections):
            _rst(client)
            _rst(upstream)
        return n

    async def stop(self) -> None:
        await self.close_listener()
        self.reset_all()
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=2)   # reset streams end their pipes
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


class _UdpUpstream(asyncio.DatagramProtocol):
    def __init__(self, relay: "_UdpRelay", client: tuple) -> None:
        self.relay, self.client = relay, client
        self.conn = relay.proxy.new_conn()

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        self.relay.proxy.tap(self.relay.service, DOWN, self.conn, data)
        self.relay.forward(DOWN, data, lambda d: self.relay.transport and self.relay.transport.sendto(d, self.client))


class _UdpRelay(asyncio.DatagramProtocol):
    def __init__(self, proxy: "FaultProxy", service: str, upstream: tuple[str, int], host: str) -> None:
        self.proxy, self.service, self.upstream, self.host = proxy, service, upstream, host
        self.port = 0
        self.transport: asyncio.DatagramTransport | None = None
        self.peers: dict[tuple, asyncio.DatagramTransport] = {}
        self.pending: set[asyncio.TimerHandle] = set()
        self._opening: dict[tuple, asyncio.Future] = {}

    async def listen(self) -> None:
        loop = asyncio.get_running_loop()
        self.transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=(self.host, 0))
        self.port = self.transport.get_extra_info("sockname")[1]

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        peer = self.peers.get(addr)
        if peer is not None:
            self.proxy.tap(self.service, UP, peer.get_protocol().conn, data)
            self.forward(UP, data, peer.sendto)
            return
        asyncio.ensure_future(self._open_and_forward(data, addr))

    async def _open_and_forward(self, data: bytes, addr: tuple) -> None:
        if addr not in self._opening:
            loop = asyncio.get_running_loop()
            self._opening[addr] = asyncio.ensure_future(loop.create_datagram_endpoint(
                lambda: _UdpUpstream(self, addr), remote_addr=self.upstream))
        transport, protocol = await self._opening[addr]
        self.peers[addr] = transport
        self.proxy.tap(self.service, UP, protocol.conn, data)
        self.forward(UP, data, transport.sendto)

    def forward(self, direction: str, data: bytes, send) -> None:
        now = time.monotonic()
        due = self.proxy.core.route(self.service, direction, len(data), now)
        if due is None:
            self.proxy.emit("fault.net.dropped", service=self.service, dir=direction, bytes=len(data))
            return
        if due <= now:
            send(data)
            return
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle

        def fire() -> None:
            self.pending.discard(handle)
            send(data)
        handle = loop.call_at(loop.time() + (due - now), fire)
        self.pending.add(handle)

    def reset_all(self) -> int:
        return 0

    async def close_listener(self) -> None:
        pass

    async def stop(self) -> None:
        for handle in self.pending:
            handle.cancel()
        for transport in self.peers.values():
            transport.close()
        for future in self._opening.values():
            future.cancel()
        if self.transport is not None:
            self.transport.close()


class FaultProxy:
    """Relays for every service of an address map; network faults apply to them."""

    def __init__(self, events: EventLog | None = None, host: str = "127.0.0.1") -> None:
        self.events = events if events is not None else EventLog()
        self.host = host
        self.core = NetemCore()
        self.relays: dict[str, _TcpRelay | _UdpRelay] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._was_down: dict[str, bool] = {}
        self.taps: list[Callable[[str, str, int, bytes], None]] = []   # (service, up|down, conn, bytes)
        self._conns = 0

    def new_conn(self) -> int:
        self._conns += 1
        return self._conns

    def tap(self, service: str, direction: str, conn: int, data: bytes) -> None:
        """Bytes as they enter the proxy (before any fault), for captures."""
        for tap in self.taps:
            tap(service, direction, conn, data)

    def emit(self, kind: str, **detail) -> None:
        self.events.emit(kind, None, **detail)

    async def start(self, addresses: dict[str, str]) -> dict[str, str]:
        """Open a relay for each service in ``addresses``; returns the map pointing at them."""
        out = dict(addresses)
        try:
            for service, url in addresses.items():
                if service not in TCP_SERVICES + UDP_SERVICES:
                    continue
                parts = urlsplit(url)
                upstream = (parts.hostname or "127.0.0.1", parts.port or 0)
                cls = _TcpRelay if service in TCP_SERVICES else _UdpRelay
                relay = cls(self, service, upstream, self.host)
                await relay.listen()
                self.relays[service] = relay
                out[service] = f"{parts.scheme}://{self.host}:{relay.port}{parts.path}"
        except BaseException:
            await self.stop()
            raise
        return out

    # ---- rules ---------------------------------------------------------------
    def add(self, spec: FaultSpec, seed: int) -> NetRule:
        rule = self.core.add(spec, seed, time.monotonic())
        self.emit("fault.net.on", fault=str(spec))
        self._kick()
        return rule

    def remove(self, rule: NetRule) -> None:
        self.core.remove(rule)
        self.emit("fault.net.off", fault=str(rule.spec))
        self._kick()

    def clear(self) -> None:
        for rule in list(self.core.rules):
            self.remove(rule)

    def _kick(self) -> None:
        """Bring the relays to the rules' state now, then at the rules' next change."""
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(self._on_timer()))

    async def _on_timer(self) -> None:
        self._timer = None
        await self._apply_state()
        now = time.monotonic()
        change = self.core.next_change(now)
        if change is not None and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(
                max(0.0, change - now), lambda: asyncio.ensure_future(self._on_timer()))

    async def _apply_state(self) -> None:
        now = time.monotonic()
        for service in self.core.resets_due(now):
            for name, relay in self.relays.items():
                if service in ("all", name):
                    n = relay.reset_all()
                    self.emit("fault.net.reset", service=name, connections=n)
        for name, relay in self.relays.items():
            down = self.core.down(name, now)
            if down == self._was_down.get(name, False):
                continue
            self._was_down[name] = down
            if down:
                await relay.close_listener()
                n = relay.reset_all()
                self.emit("fault.net.down", service=name, connections=n)
            else:
                if isinstance(relay, _TcpRelay):
                    await relay.listen()
                self.emit("fault.net.up", service=name)

    async def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for relay in self.relays.values():
            await relay.stop()
        self.relays.clear()
