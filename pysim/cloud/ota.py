"""The cloud's OTA service: firmware images, announcements, and what devices report back.

Announcements go out on ``/ota/device/upgrade/<pk>/<dn>`` (MQTT, and CoAP GET);
devices report on ``/ota/device/inform/<pk>/<dn>`` (their version) and
``/ota/device/progress/<pk>/<dn>`` (upgrade steps), over any of MQTT, CoAP, HTTP.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pysim.events import EventLog


@dataclass(frozen=True)
class OtaImage:
    id: str
    version: str
    size: int
    md5: str
    data: bytes = field(repr=False)


def upgrade_topic(pk: str, dn: str) -> str:
    return f"/ota/device/upgrade/{pk}/{dn}"


def _device_report(topic: str) -> tuple[str, tuple[str, str]] | None:
    """``("inform"|"progress", (pk, dn))`` for a device's OTA report topic, else None."""
    parts = topic.split("/")
    if len(parts) == 6 and parts[1:3] == ["ota", "device"] and parts[3] in ("inform", "progress"):
        return parts[3], (parts[4], parts[5])
    return None


class OtaService:
    """Images by id, the current announcement per device, and versions/progress reported."""

    def __init__(self, publish: Callable[..., Awaitable[None]], events: EventLog,
                 firmware_url: Callable[[str], str]) -> None:
        self._publish = publish
        self._events = events
        self._firmware_url = firmware_url
        self._image_ids = itertools.count(1)
        self._announce_ids = itertools.count(1)
        self.images: dict[str, OtaImage] = {}
        self.announcements: dict[tuple[str, str], dict[str, Any]] = {}
        self.versions: dict[tuple[str, str], str] = {}
        self.progress: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def add_image(self, image: bytes, version: str) -> OtaImage:
        data = bytes(image)
        ota_image = OtaImage(id=f"img{next(self._image_ids)}", version=version, size=len(data),
                             md5=hashlib.md5(data).hexdigest(), data=data)
        self.images[ota_image.id] = ota_image
        return ota_image

    def image(self, image_id: str) -> OtaImage | None:
        return self.images.get(image_id)

    async def announce(self, pk: str, dn: str, image: OtaImage) -> dict[str, Any]:
        """Make ``image`` the device's upgrade and publish the announcement; returns it."""
        announcement = {
            "code": "1000",
            "data": {"size": image.size, "version": image.version, "url": self._firmware_url(image.id),
                     "md5": image.md5, "signMethod": "Md5", "sign": image.md5},
            "id": next(self._announce_ids),
            "message": "success",
        }
        self.announcements[(pk, dn)] = announcement
        self._events.emit("ota.announce", (pk, dn), image=image.id, version=image.version)
        await self._publish(upgrade_topic(pk, dn), json.dumps(announcement, separators=(",", ":")).encode(),
                            source="ota")
        return announcement

    def current(self, pk: str, dn: str) -> dict[str, Any] | None:
        """The device's current announcement, or None."""
        return self.announcements.get((pk, dn))

    def on_message(self, topic: str, payload: bytes) -> None:
        """Record a device's inform/progress report (any message the broker delivers)."""
        report = _device_report(topic)
        if report is None:
            return
        kind, device = report
        try:
            params = json.loads(payload.decode()).get("params", {})
        except (UnicodeDecodeError, ValueError, AttributeError):
            self._events.emit(f"ota.{kind}", device, error="malformed report", payload=payload)
            return
        if not isinstance(params, dict):
            params = {}
        if kind == "inform":
            self.versions[device] = str(params.get("version", ""))
            self._events.emit("ota.inform", device, version=self.versions[device])
        else:
            self.progress.setdefault(device, []).append(params)
            self._events.emit("ota.progress", device, step=params.get("step"), desc=params.get("desc"))
