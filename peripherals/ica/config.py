"""How a module is set up: where its cloud is, its start-up options, its faults."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from .profiles import profile


@dataclass
class Faults:
    """Faults the module injects, for experiments and negative tests.

    ``corrupt_ota_blocks``: indexes (0-based) of OTA blocks whose bytes are
    corrupted on the UART the first time they are sent; the CRC in the header
    stays that of the true block, so the TE sees a mismatch and re-reads with
    ``AT+IOTABLOCK=1``. ``corrupt_ota_image``: the TE's whole-image MD5 check fails.
    """

    corrupt_ota_blocks: set[int] = field(default_factory=set)
    # flip one byte of a downloaded image after the module's own check, as a bad flash
    # write would: every block's CRC matches what is sent, but the image MD5 does not
    corrupt_ota_image: bool = False


@dataclass
class ModuleConfig:
    mqtt_url: str | None = None          # mqtt://host:port
    mqtts_url: str | None = None         # mqtts://host:port: MQTT over TLS, for AT+IMQTTMODE=1
    ca_file: Path | None = None          # the CA that signs the mqtts server (None: the system's)
    coap_url: str | None = None          # coap://host:port
    http_url: str | None = None          # http://host:port
    nv_path: Path | None = None          # non-volatile store; None = in memory only
    name: str = "ica0"
    echo: bool = True                    # ATE default (DECISIONS §3)
    urc_ok: bool = True                  # OK after receive URCs (DECISIONS §11)
    reboot_seconds: float = 0.2          # time the module reads nothing after AT+IREBOOT
    data_timeout: float = 10.0           # silence that ends a binary data entry (DECISIONS §16)
    manufacturer: str = "ICA-SIM"
    model: str = "ICA-MODULE-SIM"
    revision: str = "ica-at-0.4-sim-1"
    serial: str = "869000000000001"      # AT+CGSN: the product serial number (an IMEI)
    rx_format: str = "auto"              # auto | text | binary: how received payloads are reported
    # spec | sdk2 | sdk3: behave as the MCU-side clients of Alibaba's SDK 2.x/3.x need (profiles.py)
    profile: str = "spec"
    faults: Faults = field(default_factory=Faults)

    def __post_init__(self) -> None:
        profile(self.profile)            # an unknown name fails here, with the known ones

    def endpoint(self, scheme: str) -> tuple[str, int] | None:
        url = {"mqtt": self.mqtt_url, "mqtts": self.mqtts_url, "coap": self.coap_url,
               "http": self.http_url}[scheme]
        if not url:
            return None
        parts = urlsplit(url)
        default = {"mqtt": 1883, "mqtts": 8883, "coap": 5683, "http": 80}.get(parts.scheme, 0)
        return parts.hostname or "127.0.0.1", parts.port or default

    def use_cloud(self, addresses: dict[str, str]) -> None:
        """Point at the services named in a cloud's address map."""
        self.mqtt_url = addresses.get("mqtt", self.mqtt_url)
        self.mqtts_url = addresses.get("mqtts", self.mqtts_url)
        self.coap_url = addresses.get("coap", self.coap_url)
        self.http_url = addresses.get("http", self.http_url)
        if addresses.get("ca"):
            self.ca_file = Path(addresses["ca"])


SERVICES = ("mqtt", "mqtts", "coap", "http", "ca")


def parse_cloud_spec(spec: str) -> dict[str, str]:
    """``--cloud`` value: a JSON address map (as ``pysim cloud`` prints) or URLs separated by commas."""
    spec = spec.strip()
    if spec.startswith("{"):
        data = json.loads(spec)
        return {k: v for k, v in data.items() if k in SERVICES}
    out: dict[str, str] = {}
    for url in filter(None, (u.strip() for u in spec.split(","))):
        scheme = urlsplit(url).scheme
        key = {"mqtt": "mqtt", "mqtts": "mqtts", "tcp": "mqtt", "coap": "coap", "http": "http",
               "https": "http"}.get(scheme)
        if key is None:
            raise ValueError(f"unknown service in {url!r}: use mqtt://, mqtts://, coap:// or http://")
        out[key] = url
    return out
