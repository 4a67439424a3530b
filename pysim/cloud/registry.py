"""The cloud's device registry: who may connect, and with which secret."""

from __future__ import annotations

import hmac
from collections.abc import Iterator

from pysim.devauth import DeviceCredentials


class DeviceRegistry:
    """Devices known to the cloud, keyed by ``(product_key, device_name)``."""

    def __init__(self) -> None:
        self._devices: dict[tuple[str, str], DeviceCredentials] = {}

    def add(self, product_key: str, device_name: str, device_secret: str) -> DeviceCredentials:
        """Register (or re-register with a new secret) a device."""
        creds = DeviceCredentials(product_key, device_name, device_secret)
        self._devices[creds.key] = creds
        return creds

    def get(self, product_key: str, device_name: str) -> DeviceCredentials | None:
        return self._devices.get((product_key, device_name))

    def remove(self, product_key: str, device_name: str) -> None:
        self._devices.pop((product_key, device_name), None)

    def verify(self, product_key: str, device_name: str, client_id: str, signature: str) -> DeviceCredentials | None:
        """The device's credentials when ``signature`` is its sign over ``client_id``, else None."""
        creds = self.get(product_key, device_name)
        if creds is None or not isinstance(signature, str):
            return None
        if not hmac.compare_digest(creds.sign(client_id).encode(), signature.lower().encode()):
            return None
        return creds

    def __iter__(self) -> Iterator[DeviceCredentials]:
        return iter(list(self._devices.values()))

    def __len__(self) -> int:
        return len(self._devices)

    def __contains__(self, key: object) -> bool:
        return key in self._devices
