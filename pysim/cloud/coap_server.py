"""The cloud's CoAP server (aiocoap, UDP only), as docs/ARCHITECTURE.md's wire protocol says.

* ``POST /auth`` with a signed JSON body -> 2.05 ``{"token": ...}`` or 4.01.
* ``/topic/<device topic>`` with the token in option 2088: POST/PUT publish to the
  MQTT topic (2.04), GET the last stored payload (2.05), DELETE clears it (2.02).
* ``GET /ota/device/upgrade/<pk>/<dn>``: the device's current OTA announcement, or 4.04.
"""

from __future__ import annotations

import json
import socket
from typing import Any

import aiocoap
from aiocoap import Code, Message, resource

from pysim.devauth import DeviceCredentials
from pysim.events import EventLog

from .gateway import TOKEN_OK, TokenStore, TopicGateway
from .ota import OtaService
from .ports import bind_with_retry

TOKEN_OPTION = 2088
JSON_FORMAT = 50  # application/json


def json_message(code: Code, body: Any) -> Message:
    return Message(code=code, payload=json.dumps(body, separators=(",", ":")).encode(),
                   content_format=JSON_FORMAT)


def error_message(code: Code, message: str) -> Message:
    return json_message(code, {"code": code.dotted.replace(".", ""), "message": message})


def request_token(request: Message) -> str | None:
    """The token of option 2088 (a string option), or None."""
    options = request.opt.get_option(TOKEN_OPTION)
    if not options:
        return None
    value = options[0].value
    return value.decode("utf-8", "replace") if isinstance(value, (bytes, bytearray)) else str(value)


class CoapServer:
    """aiocoap server context serving the cloud's resources on ``host:port`` (UDP)."""

    def __init__(self, gateway: TopicGateway, ota: OtaService, events: EventLog) -> None:
        self.gateway = gateway
        self.ota = ota
        self.events = events
        self.tokens = TokenStore()
        self.host: str | None = None
        self.port: int | None = None
        self._context: aiocoap.Context | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        site = resource.Site()
        site.add_resource(["auth"], _AuthResource(self))
        site.add_resource(["topic"], _TopicResource(self))
        site.add_resource(["ota", "device", "upgrade"], _OtaUpgradeResource(self))
        self.host = host
        self._context, self.port = await bind_with_retry(
            lambda p: aiocoap.Context.create_server_context(site, bind=(host, p), transports=["udp6"]),
            host, port, socket.SOCK_DGRAM)
        return self.port

    async def stop(self) -> None:
        context, self._context = self._context, None
        if context is not None:
            await context.shutdown()

    @property
    def url(self) -> str:
        return f"coap://{self.host}:{self.port}"

    def authorise(self, request: Message) -> tuple[DeviceCredentials | None, Message | None]:
        """(device, None) for a valid token, else (None, a 4.01 answer)."""
        check = self.tokens.check(request_token(request))
        if check.status != TOKEN_OK:
            return None, error_message(Code.UNAUTHORIZED, f"token {check.status}")
        return check.creds, None

    def answered(self, request: Message, path: str, response: Message,
                 creds: DeviceCredentials | None) -> Message:
        self.events.emit("coap.request", creds.key if creds else None,
                         method=str(request.code), path=path, code=str(response.code))
        return response


class _Resource(resource.Resource):
    def __init__(self, server: CoapServer) -> None:
        super().__init__()
        self.server = server


class _AuthResource(_Resource):
    async def render_post(self, request: Message) -> Message:
        try:
            body = json.loads(request.payload.decode())
        except (UnicodeDecodeError, ValueError):
            body = None
        creds = self.server.gateway.authenticate(body)
        device = (body.get("productKey"), body.get("deviceName")) if isinstance(body, dict) else None
        self.server.events.emit("coap.auth", device, ok=creds is not None)
        if creds is None:
            return error_message(Code.UNAUTHORIZED, "auth check error")
        return json_message(Code.CONTENT, {"token": self.server.tokens.issue(creds)})


class _TopicResource(_Resource, resource.PathCapable):
    """``/topic/<device topic>``: the rest of the URI path is the MQTT topic."""

    async def render(self, request: Message) -> Message:
        topic = "/" + "/".join(request.opt.uri_path)
        path = "/topic" + topic
        creds, refusal = self.server.authorise(request)
        if refusal is not None:
            return self.server.answered(request, path, refusal, None)
        if not creds.owns_topic(topic):
            return self.server.answered(request, path, error_message(Code.FORBIDDEN, "topic not allowed"), creds)
        gateway = self.server.gateway
        if request.code in (Code.POST, Code.PUT):
            message_id = await gateway.publish(creds, topic, request.payload, source="coap")
            response = json_message(Code.CHANGED, {"code": 0, "message": "success", "messageId": message_id})
        elif request.code == Code.GET:
            response = Message(code=Code.CONTENT, payload=gateway.stored.get(topic, b""))
        elif request.code == Code.DELETE:
            gateway.clear(topic)
            response = Message(code=Code.DELETED)
        else:
            response = error_message(Code.METHOD_NOT_ALLOWED, "method not allowed")
        return self.server.answered(request, path, response, creds)


class _OtaUpgradeResource(_Resource, resource.PathCapable):
    """``GET /ota/device/upgrade/<pk>/<dn>``: the current announcement."""

    async def render(self, request: Message) -> Message:
        path = "/ota/device/upgrade/" + "/".join(request.opt.uri_path)
        creds, refusal = self.server.authorise(request)
        if refusal is not None:
            return self.server.answered(request, path, refusal, None)
        if request.code != Code.GET:
            response = error_message(Code.METHOD_NOT_ALLOWED, "method not allowed")
        elif tuple(request.opt.uri_path) != creds.key:
            response = error_message(Code.FORBIDDEN, "not this device")
        else:
            announcement = self.server.ota.current(*creds.key)
            response = (error_message(Code.NOT_FOUND, "no upgrade") if announcement is None
                        else json_message(Code.CONTENT, announcement))
        return self.server.answered(request, path, response, creds)
