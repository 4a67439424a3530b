"""The module's non-volatile store: a JSON file per module (or memory only)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class NvStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path else None
        self._data: dict[str, Any] = {}
        if self.path and self.path.exists():
            try:
                self._data = json.loads(self.path.read_text() or "{}")
            except json.JSONDecodeError:
                self._data = {}  # a torn write reads as erased, as flash would

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def put(self, key: str, value: Any) -> None:
        self._data[key] = value
        self._save()

    def erase(self) -> None:
        self._data = {}
        self._save()

    def _save(self) -> None:
        if not self.path:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        tmp.write_text(json.dumps(self._data, indent=1, sort_keys=True))
        os.replace(tmp, self.path)
