"""CoAP commands (spec §6): ICOAPARA, ICOAPAUTH, ICOAPSENDREQ, ICOAPSENDBIN,
ICOAPSENDREQN, ICOAPSENDNBIN, ICOAPRCVRSP, ICOAPRCVBIN."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, Awaitable

import aiocoap
from aiocoap.optiontypes import StringOption

from ..devauth import DeviceCredentials

from ..at import BadParams, Command, CommandTable, DataEntry, NotAllowed, Reply, command_args, from_at, quote
from ..interfaces import ModuleContext
from ..net.coap_client import CoapClient
from .auth import AuthCommand
from .para import ParaCommand
from .received import Received

TOKEN_OPTION = 2088            # the cloud's auth token option (DECISIONS §18)
METHODS = {1: aiocoap.GET, 2: aiocoap.POST, 3: aiocoap.PUT, 4: aiocoap.DELETE}
STATUS_OK, STATUS_TIMEOUT, STATUS_ERROR = 0, 1, 2


def send_args(cmd: Command) -> tuple[int, str, str | int]:
    """method, path and message (or msg_len) of a CoAP or HTTP send command."""
    method, path, third = command_args(cmd)
    if not path.startswith("/"):
        raise BadParams(f"path must start with '/', got {path!r}")
    return method, path, third


@dataclass
class SendKind:
    """One of the four send commands: its name, confirmable or not, text or binary."""

    name: str
    confirmable: bool
    binary: bool

    @property
    def test_line(self) -> str:
        third = "msg_len" if self.binary else "message"
        return f'{self.name}:"method","path","{third}"'


SEND_KINDS = (SendKind("+ICOAPSENDREQ", True, False), SendKind("+ICOAPSENDBIN", True, True),
              SendKind("+ICOAPSENDREQN", False, False), SendKind("+ICOAPSENDNBIN", False, True))


class CoapCommands:
    def __init__(self, ctx: ModuleContext, table: CommandTable) -> None:
        self.ctx = ctx
        self.para = ParaCommand(table, "+ICOAPARA")
        self.auth = AuthCommand(ctx, table, "+ICOAPAUTH", "coap_auth", self._authenticate)
        self.token: str | None = None
        self._context: CoapClient | None = None
        self._context_lock = asyncio.Lock()
        self._remotes: dict[str, Any] = {}     # base URI -> the server's address, looked up once
        self.last_sent: dict[str, tuple[list[str], bytes]] = {}
        self.received = Received(ctx, table, "+ICOAPRCVRSP", "+ICOAPRCVBIN")
        self.on_authenticated = lambda: None
        for kind in SEND_KINDS:
            table.command(kind.name, test=lambda _c, k=kind: Reply([k.test_line]),
                          query=lambda _c, k=kind: self._query_sent(k),
                          set=lambda c, k=kind: self._send(c, k))

    # ---- transport ---------------------------------------------------------
    def _base(self) -> str:
        endpoint = self.ctx.config.endpoint("coap")
        if endpoint is None:
            raise ConnectionError("no CoAP server configured")
        host, port = endpoint
        return f"coap://{host}:{port}"

    async def _client(self) -> tuple[CoapClient, Any]:
        """The client context and the server's address, both made once. Requests reach
        the server in the order they were made: the lock is first come, first served, and
        the server's name is looked up (in a thread) once, here, so that no later request
        waits on a lookup another one may overtake."""
        base = self._base()
        async with self._context_lock:     # two first requests at once make one context, not two
            if self._context is None:
                self._context = await CoapClient.create_client_context()
            if base not in self._remotes:
                probe = aiocoap.Message(code=aiocoap.GET, uri=base)
                await self._context.find_remote_and_interface(probe)
                self._remotes[base] = probe.remote
            return self._context, self._remotes[base]

    async def request(self, code: aiocoap.Code, path: tuple[str, ...], payload: bytes, *,
                      confirmable: bool = True, token: str | None = None) -> aiocoap.Message:
        """One CoAP request to the configured server (path as segments). Cancelling it (a
        caller's timeout) abandons the request completely (:mod:`..net.coap_client`)."""
        message = aiocoap.Message(code=code, payload=payload, uri=self._base(),
                                  transport_tuning=aiocoap.Reliable if confirmable else aiocoap.Unreliable)
        message.opt.uri_path = path
        if token:
            message.opt.add_option(StringOption(TOKEN_OPTION, token))
        context, message.remote = await self._client()
        return await context.request(message).response

    async def shutdown(self) -> None:
        context, self._context = self._context, None
        self._remotes = {}
        self.token = None
        self.auth.reset()
        if context is not None:
            await context.shutdown()

    # ---- AUTH --------------------------------------------------------------
    def _authenticate(self, creds: DeviceCredentials) -> Awaitable[tuple[bool, str]]:
        """Ask the server for a token, within the TIMEOUT in effect when the command came."""
        return self._request_token(creds, self.para["TIMEOUT"])

    async def _request_token(self, creds: DeviceCredentials, timeout: float) -> tuple[bool, str]:
        client_id = f"{creds.product_key}&{creds.device_name}"
        body = json.dumps({"productKey": creds.product_key, "deviceName": creds.device_name,
                           "clientId": client_id, "sign": creds.sign(client_id),
                           "signmethod": "hmacsha1"}).encode()
        response = await asyncio.wait_for(self.request(aiocoap.POST, ("auth",), body), timeout)
        if not response.code.is_successful():
            return False, f"{response.code} {response.payload[:80]!r}"
        token = json.loads(response.payload or b"{}").get("token")
        if not token:
            return False, "no token in the /auth answer"
        self.token = token
        self.on_authenticated()
        return True, "token received"

    # ---- SEND ---------------------------------------------------------------
    def _query_sent(self, kind: SendKind) -> Reply:
        last = self.last_sent.get(kind.name)
        if last is None:
            return Reply()
        fields, payload = last
        return Reply([f"{kind.name}:" + ",".join(fields)], payload=payload if kind.binary else b"")

    def _send(self, cmd: Command, kind: SendKind) -> Reply:
        method, path, third = send_args(cmd)
        self._require_token()
        if not kind.binary:
            message = str(third)
            return self._start(kind, method, path, message.encode("latin-1"), [quote(message)])
        length = int(third)
        return Reply(final=None, data_entry=DataEntry(
            length, lambda payload: self._start(kind, method, path, payload, [str(len(payload))])))

    def _require_token(self) -> None:
        if self.auth.credentials is None or self.token is None:
            raise NotAllowed("CoAP not authenticated: AT+ICOAPAUTH first and wait for +ICOAPAUTH:OK")

    def _start(self, kind: SendKind, method: int, path: str, payload: bytes, third: list[str]) -> Reply:
        token = self.ctx.next_id()
        self.last_sent[kind.name] = ([str(method), quote(path), *third], payload)
        # the TIMEOUT and token in effect now, not when the exchange starts running
        self.ctx.spawn(self._exchange(kind, token, method, path, payload, self.para["TIMEOUT"], self.token),
                       f"coap {kind.name}")
        return Reply([f"{kind.name}:{token}"])

    async def _exchange(self, kind: SendKind, token: int, method: int, path: str, payload: bytes,
                        timeout: float, auth_token: str | None) -> None:
        segments = ("topic", *from_at(path).strip("/").split("/"))
        try:
            response = await asyncio.wait_for(
                self.request(METHODS[method], segments, payload, confirmable=kind.confirmable,
                             token=auth_token), timeout)
        except asyncio.TimeoutError:
            self.ctx.emit("net.coap", what="timeout", token=token, path=path)
            if kind.confirmable:
                self.ctx.urc(f"{kind.name}:{token},{STATUS_TIMEOUT}")
            return
        except Exception as error:
            self.ctx.emit("net.coap", what="failed", token=token, reason=f"{type(error).__name__}: {error}")
            if kind.confirmable:
                self.ctx.urc(f"{kind.name}:{token},{STATUS_ERROR}")
            return
        self.ctx.emit("net.coap", what="response", token=token, code=str(response.code))
        if kind.confirmable:
            self.ctx.urc(f"{kind.name}:{token},{STATUS_OK}")
        self.received.deliver([str(token), quote(path)], response.payload)
