"""The in-process cloud: ``Cloud`` and its parts (see docs/ARCHITECTURE.md)."""

from .cloud import Cloud
from .ota import OtaImage, OtaService
from .registry import DeviceRegistry

__all__ = ["Cloud", "DeviceRegistry", "OtaImage", "OtaService"]
