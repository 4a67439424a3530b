"""MCU emulator backends behind one interface (see ``base.Emulator``).

``get_emulator(name)`` picks a backend by name, or by what is installed:
``None``/``"auto"`` (or ``$PYSIM_EMULATOR``) means QEMU, or Renode when QEMU is
missing and ``renode`` is on PATH.
"""

from __future__ import annotations

import os
from typing import Any

from .base import Emulator, EmulatorError, EmulatorUnavailable, SerialStream
from .board import Board
from .console import Console, ConsoleClosed
from .qemu import QemuEmulator
from .pyrenode3_backend import PyRenode3Emulator
from .renode import RenodeEmulator

BACKENDS: dict[str, type[Emulator]] = {"qemu": QemuEmulator, "renode": RenodeEmulator,
                                       "pyrenode3": PyRenode3Emulator}  # Renode in this process


def emulator_class(name: str | None = None) -> type[Emulator]:
    """The backend class for ``name``; raises ``EmulatorUnavailable`` naming what to install."""
    key = (name or os.environ.get("PYSIM_EMULATOR") or "auto").lower()
    if key == "auto":
        for cls in BACKENDS.values():  # QEMU first
            if cls.available():
                return cls
        reasons = "; ".join(filter(None, (cls.why_unavailable() for cls in BACKENDS.values())))
        raise EmulatorUnavailable(f"no emulator available: {reasons}")
    try:
        cls = BACKENDS[key]
    except KeyError:
        raise ValueError(f"unknown emulator {name!r}; choose one of: auto, {', '.join(BACKENDS)}") from None
    reason = cls.why_unavailable()
    if reason:
        raise EmulatorUnavailable(reason)
    return cls


def get_emulator(name: str | None = None, **options: Any) -> Emulator:
    """A new, not yet started emulator: ``"qemu"``, ``"renode"`` or ``None``/``"auto"``."""
    return emulator_class(name)(**options)


select_emulator = get_emulator  # the name used in docs/ARCHITECTURE.md

__all__ = [
    "BACKENDS", "Board", "Console", "ConsoleClosed", "Emulator", "EmulatorError", "EmulatorUnavailable",
    "PyRenode3Emulator", "QemuEmulator", "RenodeEmulator", "SerialStream", "emulator_class", "get_emulator", "select_emulator",
]
