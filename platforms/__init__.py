"""Board descriptions (``<name>.json``) and the Renode files they name, as package data.

The format is documented in docs/boards.md; ``pysim.emulators.board`` loads and
validates it.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def directory() -> Path:
    """The folder holding the shipped board descriptions."""
    return Path(str(files(__name__)))


def board_file(name: str) -> Path:
    """The description file of the shipped board ``name`` (it may not exist)."""
    return directory() / f"{name}.json"


def board_names() -> list[str]:
    """The names of the shipped boards."""
    return sorted(p.stem for p in directory().glob("*.json"))
