"""Board descriptions (``<board>.json``, and the Renode files they name), shipped as
package data so an installed ``pysim`` finds them; ``pysim.emulators.board`` reads them."""

from __future__ import annotations

from pathlib import Path

DIRECTORY = Path(__file__).resolve().parent


def board_file(name: str) -> Path:
    """The description file of board ``name`` (it may not exist: the caller says so)."""
    return DIRECTORY / f"{name}.json"


def boards() -> list[str]:
    """The names of the boards described here."""
    return sorted(p.stem for p in DIRECTORY.glob("*.json"))
