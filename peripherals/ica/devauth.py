"""The device signing scheme shared by the module and the cloud (DECISIONS §18).

Alibaba IoT's published scheme: HMAC-SHA1 keyed with the device secret over
``clientId<id>deviceName<dn>productKey<pk>``, written as lower-case hex.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass


@dataclass(frozen=True)
class DeviceCredentials:
    product_key: str
    device_name: str
    device_secret: str

    @property
    def client_id(self) -> str:
        return f"{self.product_key}.{self.device_name}"

    @property
    def key(self) -> tuple[str, str]:
        return (self.product_key, self.device_name)

    def sign(self, client_id: str | None = None) -> str:
        return sign(self.device_secret, client_id or self.client_id, self.device_name, self.product_key)

    def topic_prefixes(self) -> tuple[str, ...]:
        """Topic prefixes this device may use (and no other device may)."""
        pk, dn = self.product_key, self.device_name
        return (f"/{pk}/{dn}/", f"/sys/{pk}/{dn}/")

    def owns_topic(self, topic: str) -> bool:
        pk, dn = self.product_key, self.device_name
        if any(topic.startswith(p) for p in self.topic_prefixes()):
            return True
        parts = topic.split("/")
        # /ota/device/<kind>/<pk>/<dn>
        return len(parts) == 6 and parts[1:3] == ["ota", "device"] and parts[4:] == [pk, dn]


def sign(device_secret: str, client_id: str, device_name: str, product_key: str) -> str:
    content = f"clientId{client_id}deviceName{device_name}productKey{product_key}"
    return hmac.new(device_secret.encode(), content.encode(), hashlib.sha1).hexdigest()


def mqtt_connect_fields(creds: DeviceCredentials, tls: bool = False, *,
                        credential_check: bool = False) -> tuple[str, str, str]:
    """(MQTT client identifier, username, password) for a device's CONNECT.

    ``credential_check``: the identifier of a connection that only checks the
    credentials (``AT+IMQTTAUTH``): same device and sign, but ``,check=1`` among the
    parameters, so the broker keeps it apart from the device's (persistent) session
    and its clean CONNECT wipes nothing queued for the device."""
    securemode = 2 if tls else 3
    check = ",check=1" if credential_check else ""
    client_identifier = f"{creds.client_id}|securemode={securemode},signmethod=hmacsha1{check}|"
    return client_identifier, f"{creds.device_name}&{creds.product_key}", creds.sign()


def parse_mqtt_username(username: str) -> tuple[str, str] | None:
    """``"<dn>&<pk>"`` -> (pk, dn), or None when it is not of that form."""
    dn, sep, pk = username.partition("&")
    if not sep or not dn or not pk:
        return None
    return pk, dn


def parse_mqtt_client_identifier(client_identifier: str) -> str:
    """The plain client id of ``"<id>|securemode=..|"``."""
    return client_identifier.split("|", 1)[0]
