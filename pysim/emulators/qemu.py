"""QEMU backend: ``qemu-system-arm`` connects as a client to two sockets the harness
listens on first (no start-up race, no port clash), one per serial port."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from .base import Emulator
from .board import Board

LOCALHOST = "127.0.0.1"


class QemuEmulator(Emulator):
    """``icount``: ``True`` runs with ``-icount shift=auto`` (virtual time near real time);
    a string is the ``-icount`` value itself (``shift=7,align=off,sleep=off``; see
    docs/determinism.md).
    ``gdb_port``: open a GDB server there and hold the CPU until GDB continues."""

    name = "qemu"
    executable = "qemu-system-arm"
    install_hint = "install it with `apt-get install qemu-system-arm` (or set PYSIM_QEMU to the binary)"

    def __init__(self, *, icount: bool | str = False, gdb_port: int | None = None, extra_args: tuple[str, ...] = (),
                 **options: Any) -> None:
        super().__init__(**options)
        self.icount = icount
        self.gdb_port = gdb_port
        self.extra_args = extra_args

    def command_line(self, firmware: Path, board: Board, uart_port: int, console_port: int) -> list[str]:
        """The QEMU command line; the serial indexes and machine come from ``board``."""
        ports = {board.uart.index: uart_port, board.console.index: console_port}
        argv = [self.command() or self.executable, "-M", board.qemu_machine, "-display", "none", "-monitor", "none"]
        for index in range(max(ports) + 1):
            if index in ports:
                argv += ["-chardev", f"socket,id=s{index},host={LOCALHOST},port={ports[index]},nodelay=on",
                         "-serial", f"chardev:s{index}"]
            else:
                argv += ["-serial", "null"]
        argv += ["-kernel", str(firmware), "-semihosting-config", "enable=on,target=native"]
        if self.icount:
            argv += ["-icount", self.icount if isinstance(self.icount, str) else "shift=auto"]
        if self.gdb_port is not None:
            argv += ["-gdb", f"tcp:{LOCALHOST}:{self.gdb_port}", "-S"]
        return argv + list(self.extra_args)

    async def _launch(self, firmware: Path, board: Board) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
        loop = asyncio.get_running_loop()
        uart: asyncio.Future[tuple[Any, Any]] = loop.create_future()
        console: asyncio.Future[tuple[Any, Any]] = loop.create_future()
        servers = []
        try:
            for accepted in (uart, console):
                servers.append(await asyncio.start_server(_accept_once(accepted), LOCALHOST, 0))
            uart_port, console_port = (s.sockets[0].getsockname()[1] for s in servers)
            await self._spawn(self.command_line(firmware, board, uart_port, console_port))
            pairs = await self._until(asyncio.gather(uart, console), "connection to the serial sockets")
        except BaseException:
            for accepted in (uart, console):
                if accepted.done() and not accepted.cancelled():
                    accepted.result()[1].close()
            raise
        finally:
            for server in servers:
                server.close()  # stop listening; the accepted connections stay open
        return pairs[0], pairs[1]


def _accept_once(accepted: asyncio.Future[tuple[Any, Any]]):
    def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if accepted.done():
            writer.close()  # only the emulator's first connection counts
        else:
            accepted.set_result((reader, writer))
    return on_connect
