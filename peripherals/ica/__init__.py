"""The ICA AT command set module model (spec V0.4 with DECISIONS.md)."""

from .config import Faults, ModuleConfig, parse_cloud_spec
from .module import IcaModule

__all__ = ["Faults", "IcaModule", "ModuleConfig", "parse_cloud_spec"]
