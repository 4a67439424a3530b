"""The cloud's HTTP server (aiohttp), as docs/ARCHITECTURE.md's wire protocol says.

* ``POST /auth`` with a signed JSON body -> ``{"code":0,...,"info":{"token","expires_in"}}``
  or ``{"code":20000,"message":"auth check error"}`` (both HTTP 200).
* ``/topic<device topic>`` with header ``password: <token>``: POST/PUT publish,
  GET the stored body, DELETE clears it. Token expired/missing/invalid: 401 with
  code 20001/20002/20003; another device's topic: 403 with code 40300.
* ``GET /ota/firmware/<image_id>``: the image bytes.

aiohttp sets TCP_NODELAY on every connection (``BaseProtocol.connection_made``).
"""

from __future__ import annotations

import json
import socket
from typing import Any

from aiohttp import web

from pysim.events import EventLog

from .gateway import TOKEN_EXPIRED, TOKEN_MISSING, TOKEN_OK, TokenStore, TopicGateway
from .ota import OtaService

TOKEN_ERRORS = {
    TOKEN_EXPIRED: (20001, "token expired"),
    TOKEN_MISSING: (20002, "token missing"),
}
TOKEN_INVALID_ERROR = (20003, "token invalid")
FORBIDDEN_ERROR = (40300, "topic not allowed")


def _json(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(status=status, body=json.dumps(body, separators=(",", ":")).encode(),
                        content_type="application/json")


def _success(message_id: int) -> web.Response:
    return _json({"code": 0, "message": "success", "info": {"messageId": message_id}})


class HttpServer:
    """aiohttp application serving the cloud's HTTP API on ``host:port``."""

    def __init__(self, gateway: TopicGateway, ota: OtaService, events: EventLog,
                 token_ttl: float = 172800) -> None:
        self.gateway = gateway
        self.ota = ota
        self.events = events
        self.tokens = TokenStore(ttl=token_ttl)
        self.host: str | None = None
        self.port: int | None = None
        self._runner: web.AppRunner | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        app = web.Application()
        app.router.add_post("/auth", self._auth)
        app.router.add_route("*", "/topic/{topic:.*}", self._topic)
        app.router.add_get("/ota/firmware/{image_id}", self._firmware)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            await web.SockSite(runner, sock).start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self._runner = runner
        self.host, self.port = host, sock.getsockname()[1]
        return self.port

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def firmware_url(self, image_id: str) -> str:
        return f"{self.url}/ota/firmware/{image_id}"

    async def _auth(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        creds = self.gateway.authenticate(body)
        device = (body.get("productKey"), body.get("deviceName")) if isinstance(body, dict) else None
        self.events.emit("http.auth", device, ok=creds is not None)
        if creds is None:
            return _json({"code": 20000, "message": "auth check error"})
        return _json({"code": 0, "message": "success",
                      "info": {"token": self.tokens.issue(creds), "expires_in": self.tokens.ttl}})

    async def _topic(self, request: web.Request) -> web.Response:
        topic = "/" + request.match_info["topic"]
        check = self.tokens.check(request.headers.get("password"))
        creds = check.creds if check.status == TOKEN_OK else None
        if creds is None:
            code, message = TOKEN_ERRORS.get(check.status, TOKEN_INVALID_ERROR)
            response = _json({"code": code, "message": message}, status=401)
        elif not creds.owns_topic(topic):
            code, message = FORBIDDEN_ERROR
            response = _json({"code": code, "message": message}, status=403)
        elif request.method in ("POST", "PUT"):
            response = _success(await self.gateway.publish(creds, topic, await request.read(), source="http"))
        elif request.method == "GET":
            response = web.Response(body=self.gateway.stored.get(topic, b""),
                                    content_type="application/octet-stream")
        elif request.method == "DELETE":
            self.gateway.clear(topic)
            response = _success(self.gateway.next_message_id())
        else:
            response = _json({"code": 405, "message": "method not allowed"}, status=405)
        self.events.emit("http.request", creds.key if creds else None,
                         method=request.method, path="/topic" + topic, status=response.status)
        return response

    async def _firmware(self, request: web.Request) -> web.Response:
        image = self.ota.image(request.match_info["image_id"])
        if image is None:
            self.events.emit("ota.fetch", None, image=request.match_info["image_id"], status=404)
            return _json({"code": 404, "message": "no such image"}, status=404)
        self.events.emit("ota.fetch", None, image=image.id, size=image.size, status=200)
        return web.Response(body=image.data, content_type="application/octet-stream")
