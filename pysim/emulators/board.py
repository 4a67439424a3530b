"""Board descriptions: what an emulator needs to know about a board (``platforms/*.json``)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Where board descriptions live: ``$PYSIM_PLATFORMS`` or the repository's ``platforms/``.
PLATFORMS_DIR = Path(os.environ.get("PYSIM_PLATFORMS", Path(__file__).resolve().parents[2] / "platforms"))
DEFAULT_BOARD = "netduinoplus2"


@dataclass(frozen=True)
class MemoryRegion:
    base: int
    size: int


@dataclass(frozen=True)
class SerialWiring:
    """One USART of the board and where each emulator exposes it."""

    peripheral: str  # e.g. "USART1"
    index: int  # QEMU ``-serial`` position
    base: int
    irq: int
    renode: str  # Renode peripheral path, e.g. "sysbus.usart1"


@dataclass(frozen=True)
class Board:
    name: str
    description: str
    mcu: str
    cpu: str
    memory: dict[str, MemoryRegion]
    uart: SerialWiring  # wired to the module (AT traffic only)
    console: SerialWiring  # the firmware's debug console
    qemu_machine: str
    renode_script: Path  # the board's .resc, absolute
    renode_platform: str  # the .repl it loads, in Renode's own path syntax
    path: Path  # the description file

    @classmethod
    def load(cls, name_or_path: str | os.PathLike[str] = DEFAULT_BOARD) -> "Board":
        """Read a board by name (``platforms/<name>.json``) or from a JSON file path."""
        path = Path(name_or_path)
        if path.suffix != ".json":
            path = PLATFORMS_DIR / f"{name_or_path}.json"
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            known = sorted(p.stem for p in PLATFORMS_DIR.glob("*.json"))
            raise FileNotFoundError(f"no board description {path} (known boards: {', '.join(known) or 'none'})") from None
        return cls.from_dict(data, path.resolve())

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: Path) -> "Board":
        try:
            serial = data["serial"]
            return cls(
                name=data["name"],
                description=data.get("description", ""),
                mcu=data["mcu"],
                cpu=data["cpu"],
                memory={k: MemoryRegion(_int(v["base"]), _int(v["size"])) for k, v in data["memory"].items()},
                uart=_wiring(serial["uart"]),
                console=_wiring(serial["console"]),
                qemu_machine=data["qemu"]["machine"],
                renode_script=(path.parent / data["renode"]["script"]).resolve(),
                renode_platform=data["renode"]["platform"],
                path=path,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: bad board description: {exc!r}") from exc


def _int(value: int | str) -> int:
    return value if isinstance(value, int) else int(value, 0)


def _wiring(data: dict[str, Any]) -> SerialWiring:
    return SerialWiring(data["peripheral"], int(data["index"]), _int(data["base"]), int(data["irq"]), data["renode"])
