"""Renode's control channel: its Robot Framework remote server (XML-RPC).

``renode --robot-server-port N`` serves Renode's own keywords (``ExecuteCommand``,
``CreateTerminalTester``, ``WaitForLineOnUart``, ...) over XML-RPC. Unlike the
monitor's telnet port, each call answers with a status and Renode's error text, so a
failed monitor command is an exception here, not a line to guess from the output.
The calls block, so each runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import http.client
import xmlrpc.client
from typing import Any

from .base import EmulatorError


class RenodeCommandError(EmulatorError):
    """Renode answered a keyword or monitor command with FAIL."""


class _Transport(xmlrpc.client.Transport):
    def __init__(self, timeout: float | None) -> None:
        super().__init__()
        self.timeout = timeout

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        connection = super().make_connection(host)
        connection.timeout = self.timeout
        return connection


class RenodeControl:
    """Keywords and monitor commands of one Renode process, by its robot server port."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.url = f"http://{host}:{port}/"

    def _proxy(self, timeout: float | None) -> xmlrpc.client.ServerProxy:
        return xmlrpc.client.ServerProxy(self.url, transport=_Transport(timeout), allow_none=True)

    async def ready(self, retry: float = 0.1) -> None:
        """Return once the server answers (Renode takes a few seconds to get there)."""
        while True:
            try:
                await asyncio.to_thread(lambda: self._proxy(5.0).get_keyword_names())
                return
            except (OSError, http.client.HTTPException):
                await asyncio.sleep(retry)

    async def keyword(self, name: str, *args: Any, timeout: float | None = 60.0) -> Any:
        """Run one of Renode's keywords; its return value, or ``RenodeCommandError``."""
        def call() -> dict[str, Any]:
            return self._proxy(timeout).run_keyword(name, [str(a) if isinstance(a, float) else a for a in args])
        try:
            result = await asyncio.to_thread(call)
        except (OSError, http.client.HTTPException, xmlrpc.client.Error) as error:
            raise EmulatorError(f"renode: control channel failed during {name}: {error}") from error
        if result.get("status") != "PASS":
            message = (result.get("error") or "").strip()
            raise RenodeCommandError(f"renode: {name} {' '.join(map(str, args))}: {message}")
        return result.get("return")

    async def execute(self, command: str, timeout: float | None = 60.0) -> str:
        """A monitor command (as typed at Renode's ``(monitor)`` prompt); its output."""
        return str(await self.keyword("ExecuteCommand", command, timeout=timeout) or "").strip()
