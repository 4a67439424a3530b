"""What the CoAP and HTTP servers share: signed device auth, tokens, topic access.

No I/O here: the servers translate their requests into these calls, and the
broker's ``publish`` is handed in.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pysim.devauth import DeviceCredentials

from .registry import DeviceRegistry

TOKEN_OK, TOKEN_MISSING, TOKEN_INVALID, TOKEN_EXPIRED = "ok", "missing", "invalid", "expired"


@dataclass(frozen=True)
class TokenCheck:
    status: str
    creds: DeviceCredentials | None = None


class TokenStore:
    """Random tokens that stand for a device, optionally with a lifetime in seconds."""

    def __init__(self, ttl: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._tokens: dict[str, tuple[DeviceCredentials, float | None]] = {}

    def issue(self, creds: DeviceCredentials) -> str:
        token = secrets.token_hex(16)
        expiry = None if self.ttl is None else self._clock() + self.ttl
        self._tokens[token] = (creds, expiry)
        return token

    def check(self, token: str | None) -> TokenCheck:
        if not token:
            return TokenCheck(TOKEN_MISSING)
        entry = self._tokens.get(token)
        if entry is None:
            return TokenCheck(TOKEN_INVALID)
        creds, expiry = entry
        if expiry is not None and self._clock() >= expiry:
            return TokenCheck(TOKEN_EXPIRED, creds)
        return TokenCheck(TOKEN_OK, creds)


Publish = Callable[..., Awaitable[None]]


class TopicGateway:
    """Device auth by signed request, and publishing/reading topics on a device's behalf.

    ``stored`` keeps the last payload of every topic the broker delivered (MQTT,
    CoAP, HTTP or the cloud itself): CoAP/HTTP GET answer it, DELETE clears it.
    """

    def __init__(self, registry: DeviceRegistry, publish: Publish) -> None:
        self.registry = registry
        self._publish = publish
        self._message_ids = itertools.count(1)
        self.stored: dict[str, bytes] = {}

    def authenticate(self, body: Any) -> DeviceCredentials | None:
        """Credentials of the device whose signed auth body this is, or None."""
        if not isinstance(body, dict):
            return None
        pk, dn = body.get("productKey"), body.get("deviceName")
        client_id, sign = body.get("clientId"), body.get("sign")
        method = str(body.get("signmethod", body.get("signMethod", "hmacsha1"))).lower()
        if method != "hmacsha1" or not all(isinstance(v, str) and v for v in (pk, dn, client_id, sign)):
            return None
        return self.registry.verify(pk, dn, client_id, sign)

    async def publish(self, creds: DeviceCredentials, topic: str, payload: bytes, source: str) -> int:
        """Publish for a device that owns ``topic``; returns the message id."""
        message_id = self.next_message_id()
        await self._publish(topic, payload, device=creds.key, source=source)
        return message_id

    def next_message_id(self) -> int:
        return next(self._message_ids)

    def record(self, topic: str, payload: bytes) -> None:
        self.stored[topic] = payload

    def clear(self, topic: str) -> None:
        self.stored.pop(topic, None)
