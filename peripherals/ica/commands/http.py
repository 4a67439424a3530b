"""HTTP commands (spec §7): IHTTPARA, IHTTPAUTH, IHTTPSEND (synchronous),
IHTTPSENDREQ and IHTTPSENDBIN (asynchronous), IHTTPRCVRSP, IHTTPRCVBIN, IHTTPDISCONN."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Awaitable

import aiohttp

from ..devauth import DeviceCredentials

from ..at import Command, CommandTable, DataEntry, Reply, from_at, quote
from ..interfaces import ModuleContext
from .auth import AuthCommand
from .coap import send_args
from .para import ParaCommand
from .received import Received
from .replies import ok_reply

METHODS = {1: "GET", 2: "POST", 3: "PUT", 4: "DELETE"}
# <status> of §7.4/7.7/7.8
OK, TOKEN_EXPIRED, TOKEN_MISSING, TOKEN_INVALID, SEND_FAILED, TOO_MANY, OTHER = 0, 1, 2, 3, 4, 5, 255
CLOUD_CODES = {20001: TOKEN_EXPIRED, 20002: TOKEN_MISSING, 20003: TOKEN_INVALID}
MAX_OUTSTANDING = 4   # asynchronous requests in flight before "too many sends" (status 5)


class HttpCommands:
    def __init__(self, ctx: ModuleContext, table: CommandTable) -> None:
        self.ctx = ctx
        self.para = ParaCommand(table, "+IHTTPARA", on_change=self._para_changed)
        self.auth = AuthCommand(ctx, table, "+IHTTPAUTH", "http_auth", self._authenticate)
        self.token: str | None = None
        self._session: aiohttp.ClientSession | None = None
        self._outstanding = 0
        self.last_sent: dict[str, tuple[list[str], bytes]] = {}
        self.received = Received(ctx, table, "+IHTTPRCVRSP", "+IHTTPRCVBIN")
        table.command("+IHTTPSEND", test=lambda _c: Reply(['+IHTTPSEND:"method","path","message"']),
                      query=lambda _c: self._query_sent("+IHTTPSEND"), set=self.send_sync)
        table.command("+IHTTPSENDREQ", test=lambda _c: Reply(['+IHTTPSENDREQ:"method","path","message"']),
                      query=lambda _c: self._query_sent("+IHTTPSENDREQ"), set=self.send_request)
        table.command("+IHTTPSENDBIN", test=lambda _c: Reply(['+IHTTPSENDBIN:"method","path","msg_len"']),
                      query=lambda _c: self._query_sent("+IHTTPSENDBIN"), set=self.send_binary)
        table.command("+IHTTPDISCONN", test=ok_reply, execute=self.disconnect)

    # ---- transport ---------------------------------------------------------
    def _base(self) -> str:
        endpoint = self.ctx.config.endpoint("http")
        if endpoint is None:
            raise ConnectionError("no HTTP server configured")
        scheme = "https" if (self.ctx.config.http_url or "").startswith("https:") else "http"
        return f"{scheme}://{endpoint[0]}:{endpoint[1]}"

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # KEEPALIVE 0: a new TCP connection per request; aiohttp sets TCP_NODELAY itself
            connector = aiohttp.TCPConnector(force_close=not self.para["KEEPALIVE"])
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    def _para_changed(self, changed: dict) -> None:
        if "KEEPALIVE" in changed and self._session is not None:
            self.ctx.spawn(self.close_session(), "http session close")

    async def close_session(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def shutdown(self) -> None:
        self.token = None
        self.auth.reset()
        await self.close_session()

    def disconnect(self, cmd: Command) -> Reply:
        """Close the kept-alive connection; OK even when none is open (errata #75)."""
        self.ctx.spawn(self.close_session(), "http disconnect")
        return Reply()

    # ---- AUTH --------------------------------------------------------------
    def _authenticate(self, creds: DeviceCredentials) -> Awaitable[tuple[bool, str]]:
        """Ask the server for a token, within the TIMEOUT in effect when the command came."""
        return self._request_token(creds, self.para["TIMEOUT"])

    async def _request_token(self, creds: DeviceCredentials, total: float) -> tuple[bool, str]:
        client_id = f"{creds.product_key}.{creds.device_name}"
        body = {"productKey": creds.product_key, "deviceName": creds.device_name, "clientId": client_id,
                "timestamp": str(int(time.time() * 1000)), "sign": creds.sign(client_id),
                "signmethod": "hmacsha1"}
        timeout = aiohttp.ClientTimeout(total=total)
        async with self._client().post(self._base() + "/auth", json=body, timeout=timeout) as response:
            answer = await response.json(content_type=None)
        token = (answer.get("info") or {}).get("token") if answer.get("code") == 0 else None
        if not token:
            return False, f"cloud answered {answer}"
        self.token = token
        return True, "token received"

    # ---- SEND ---------------------------------------------------------------
    def _query_sent(self, name: str) -> Reply:
        last = self.last_sent.get(name)
        if last is None:
            return Reply()
        fields, payload = last
        return Reply([f"{name}:" + ",".join(fields)], payload=payload)

    def _text_args(self, cmd: Command, name: str) -> tuple[int, str, bytes]:
        method, path, message = send_args(cmd)
        self.last_sent[name] = ([str(method), quote(path), quote(message)], b"")
        return method, path, message.encode("latin-1")

    def send_sync(self, cmd: Command) -> Reply:
        method, path, body = self._text_args(cmd, "+IHTTPSEND")
        self.ctx.spawn(self._send_sync(method, path, body, self.para["TIMEOUT"]), "http send")
        return Reply()

    async def _send_sync(self, method: int, path: str, body: bytes, total: float) -> None:
        status, answer = await self._exchange(method, path, body, total)
        if status != OK:
            self.ctx.urc(f"+IHTTPSEND:{status}")
            return
        self.ctx.urc(f"+IHTTPSEND:{OK},{len(answer)},".encode("latin-1") + b'"' + answer + b'"')

    def send_request(self, cmd: Command) -> Reply:
        method, path, body = self._text_args(cmd, "+IHTTPSENDREQ")
        return self._start_async("+IHTTPSENDREQ", method, path, body)

    def send_binary(self, cmd: Command) -> Reply:
        method, path, length = send_args(cmd)

        def complete(payload: bytes) -> Reply:
            self.last_sent["+IHTTPSENDBIN"] = ([str(method), quote(path), str(len(payload))], payload)
            return self._start_async("+IHTTPSENDBIN", method, path, payload)

        return Reply(final=None, data_entry=DataEntry(length, complete))

    def _start_async(self, name: str, method: int, path: str, body: bytes) -> Reply:
        token = self.ctx.next_id()
        self.ctx.spawn(self._send_async(token, method, path, body, self.para["TIMEOUT"]), f"http {name}")
        return Reply([f"{name}:{token}"])

    async def _send_async(self, token: int, method: int, path: str, body: bytes, total: float) -> None:
        if self._outstanding >= MAX_OUTSTANDING:
            self.received.deliver_status([str(token), str(TOO_MANY)])
            return
        self._outstanding += 1
        try:
            status, answer = await self._exchange(method, path, body, total)
        finally:
            self._outstanding -= 1
        if status != OK:
            self.received.deliver_status([str(token), str(status)])
        else:
            self.received.deliver([str(token), str(OK), quote(path)], answer)

    async def _exchange(self, method: int, path: str, body: bytes, total: float) -> tuple[int, bytes]:
        """One request to ``/topic<path>`` within ``total`` s (the TIMEOUT of the command's
        time): (status of §7.4, response body)."""
        headers = {"password": self.token} if self.token else {}
        timeout = aiohttp.ClientTimeout(total=total)
        url = self._base() + "/topic" + from_at(path)
        try:
            async with self._client().request(METHODS[method], url, data=body or None, headers=headers,
                                              timeout=timeout) as response:
                answer = await response.read()
                http_status = response.status
        except asyncio.TimeoutError:
            self.ctx.emit("net.http", what="timeout", path=path)
            return OTHER, b""                       # errata #70
        except aiohttp.ClientError as error:
            self.ctx.emit("net.http", what="failed", path=path, reason=f"{type(error).__name__}: {error}")
            return SEND_FAILED, b""
        self.ctx.emit("net.http", what="response", path=path, status=http_status)
        if http_status == 429:
            return TOO_MANY, b""
        if http_status >= 400:
            try:
                code = json.loads(answer).get("code")
            except (ValueError, AttributeError):
                code = None
            return CLOUD_CODES.get(code, OTHER), b""
        return OK, answer
