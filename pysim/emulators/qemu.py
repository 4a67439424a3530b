"""QEMU backend: ``qemu-system-arm`` connects as a client to two sockets the harness
listens on first (no start-up race, no port clash), one per serial port."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from .base import Emulator, EmulatorError
from .board import Board

LOCALHOST = "127.0.0.1"
PROMPT = b"(qemu) "
MONITOR_TIMEOUT = 5.0
_REGISTER = re.compile(r"\b(R\d\d|XPSR)=([0-9a-f]{8})")
_NAMES = {"R13": "sp", "R14": "lr", "R15": "pc", "XPSR": "xpsr"}


class QemuEmulator(Emulator):
    """``icount``: ``True`` runs with ``-icount shift=auto`` (virtual time near real time);
    a string is the ``-icount`` value itself (``shift=7,align=off,sleep=off``; see
    docs/determinism.md).
    ``gdb_port``/``gdb_wait`` (see ``Emulator``): ``-gdb tcp:127.0.0.1:PORT`` and ``-S``."""

    name = "qemu"
    executable = "qemu-system-arm"
    install_hint = "install it with `apt-get install qemu-system-arm` (or set PYSIM_QEMU to the binary)"
    supports_gdb = True

    def __init__(self, *, icount: bool | str = False, extra_args: tuple[str, ...] = (), **options: Any) -> None:
        super().__init__(**options)
        self.icount = icount
        self.extra_args = extra_args
        self._monitor: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._monitor_lock = asyncio.Lock()
        self._prompted = False  # the monitor's banner has been read

    def command_line(self, firmware: Path, board: Board, uart_port: int, console_port: int | None,
                     monitor_port: int | None = None) -> list[str]:
        """The QEMU command line; the serial indexes and machine come from ``board``; the
        HMP monitor (registers for crash reports) connects to ``monitor_port``."""
        ports = {board.uart.index: uart_port}
        if board.console is not None and console_port is not None:
            ports[board.console.index] = console_port
        argv = [self.command() or self.executable, "-M", board.qemu_machine, "-display", "none", "-monitor", "none"]
        if monitor_port is not None:
            argv += ["-chardev", f"socket,id=mon,host={LOCALHOST},port={monitor_port},nodelay=on",
                     "-mon", "chardev=mon,mode=readline"]
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
            argv += ["-gdb", f"tcp:{LOCALHOST}:{self.gdb_port}"] + (["-S"] if self.gdb_wait else [])
        return argv + list(self.extra_args)

    async def _launch(self, firmware: Path, board: Board) -> tuple[tuple[Any, Any], tuple[Any, Any] | None]:
        loop = asyncio.get_running_loop()
        wanted = 2 if board.console is not None else 1
        # the UART, the console if any, then the monitor
        accepted: list[asyncio.Future[tuple[Any, Any]]] = [loop.create_future() for _ in range(wanted + 1)]
        servers = []
        try:
            for future in accepted:
                servers.append(await asyncio.start_server(_accept_once(future), LOCALHOST, 0))
            ports = [s.sockets[0].getsockname()[1] for s in servers]
            await self._spawn(self.command_line(firmware, board, ports[0], ports[1] if wanted == 2 else None,
                                                ports[-1]))
            pairs = await self._until(asyncio.gather(*accepted), "connection to the serial sockets")
            self._monitor = pairs[-1]
        except BaseException:
            for future in accepted:
                if future.done() and not future.cancelled():
                    future.result()[1].close()
            raise
        finally:
            for server in servers:
                server.close()  # stop listening; the accepted connections stay open
        return pairs[0], (pairs[1] if wanted == 2 else None)


    # -- the HMP monitor ------------------------------------------------------------------
    async def monitor(self, command: str) -> str:
        """Run one HMP monitor command and return its output."""
        if self._monitor is None or self.returncode is not None:
            raise EmulatorError("qemu: the monitor is not connected (QEMU not running)")
        reader, writer = self._monitor
        async with self._monitor_lock:
            try:
                if not self._prompted:
                    await asyncio.wait_for(reader.readuntil(PROMPT), MONITOR_TIMEOUT)  # the banner
                    self._prompted = True
                writer.write(command.encode() + b"\n")
                output = await asyncio.wait_for(reader.readuntil(PROMPT), MONITOR_TIMEOUT)
            except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError) as error:
                raise EmulatorError(f"qemu: monitor command {command!r} failed: {error!r}") from None
        text = output[:-len(PROMPT)].decode("utf-8", "replace")
        return text.split("\r\n", 1)[-1]  # drop the echoed command line

    async def registers(self) -> dict[str, int]:
        text = await self.monitor("info registers")
        values = {_NAMES.get(name, f"r{int(name[1:])}" if name != "XPSR" else "xpsr"): int(value, 16)
                  for name, value in _REGISTER.findall(text)}
        if "pc" not in values:
            raise EmulatorError(f"qemu: no registers in the monitor's answer: {text[-200:]!r}")
        return values

    async def open_gdb_server(self, port: int) -> None:
        answer = await self.monitor(f"gdbserver tcp:{LOCALHOST}:{port}")
        if "Waiting for gdb connection" not in answer:
            raise EmulatorError(f"qemu: gdbserver failed: {answer.strip()}")

    async def stop(self) -> None:
        await super().stop()
        if self._monitor is not None:
            self._monitor[1].close()
            self._monitor = None


def _accept_once(accepted: asyncio.Future[tuple[Any, Any]]):
    def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if accepted.done():
            writer.close()  # only the emulator's first connection counts
        else:
            accepted.set_result((reader, writer))
    return on_connect
