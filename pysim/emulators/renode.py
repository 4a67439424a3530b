"""Renode backend: runs the board's ``.resc`` headless.

Renode's ``CreateServerSocketTerminal`` makes Renode the server, so this backend
picks two free ports, hands them to the script and connects to them once Renode
listens. Renode's process does not end on a semihosting exit, so the verdict is
the console line ``DONE <code>`` of the firmware contract (or Renode's own exit).
"""

from __future__ import annotations

import asyncio
import re
import socket
import tempfile
from pathlib import Path
from typing import Any

from .base import Emulator, EmulatorError
from .board import Board

LOCALHOST = "127.0.0.1"
CONNECT_RETRY = 0.05  # s between connection attempts while Renode boots
DONE_LINE = re.compile(r"^DONE (-?\d+)\s*$")


class RenodeEmulator(Emulator):
    name = "renode"
    executable = "renode"
    install_hint = ("Renode is in neither Debian nor PyPI: install a release package from the Renode "
                    "project (renode.io) and put `renode` on PATH (or set PYSIM_RENODE to it)")

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._workdir: tempfile.TemporaryDirectory[str] | None = None

    def script(self, firmware: Path, board: Board, uart_port: int, console_port: int) -> str:
        """The generated start-up script: sets the board script's variables, includes it, starts."""
        for path in (firmware, board.renode_script):
            if re.search(r"\s", str(path)):
                raise EmulatorError(f"renode: paths with white space are not supported: {path}")
        return "\n".join([
            f'$name="{board.name}"',
            f"$bin=@{firmware}",
            f"$uart_port={uart_port}",
            f"$console_port={console_port}",
            f"i @{board.renode_script}",
            "start",
            "",
        ])

    async def _launch(self, firmware: Path, board: Board) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
        uart_port, console_port = _free_ports(2)
        self._workdir = tempfile.TemporaryDirectory(prefix="pysim-renode-")
        script = Path(self._workdir.name) / "run.resc"
        script.write_text(self.script(firmware, board, uart_port, console_port))
        # stdin stays open: with --console an EOF on stdin would end the monitor
        await self._spawn([self.command() or self.executable, "--disable-xwt", "--console", str(script)],
                          cwd=Path(self._workdir.name), keep_stdin=True)
        uart = await self._until(_connect(uart_port), f"Renode listening on port {uart_port} (UART)")
        try:
            console = await self._until(_connect(console_port), f"Renode listening on port {console_port} (console)")
        except BaseException:
            uart[1].close()
            raise
        return uart, console

    async def _exit_code(self) -> int:
        assert self._exited is not None and self.console is not None
        done_line = asyncio.ensure_future(self.console.wait_for_line(DONE_LINE.match, timeout=None))
        try:
            await asyncio.wait({done_line, self._exited}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            done_line.cancel()
        if self._exited.done() or done_line.cancelled() or done_line.exception() is not None:
            return await self._exited  # Renode itself ended (or the console closed first)
        match = DONE_LINE.match(done_line.result())
        assert match is not None
        return int(match.group(1))

    async def stop(self) -> None:
        await super().stop()
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None


def _free_ports(count: int) -> list[int]:
    """Ports free right now (Renode must bind them itself, so a small race remains)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind((LOCALHOST, 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


async def _connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    while True:
        try:
            return await asyncio.open_connection(LOCALHOST, port)
        except ConnectionRefusedError:
            await asyncio.sleep(CONNECT_RETRY)
