"""The module's non-volatile store: a JSON file per module (or memory only).

The file is written with mode 0600 (owner only), atomically (a temporary file, then
rename). Secrets (the device secret of the AUTH commands) are never written in clear:
:meth:`NvStore.seal` encrypts them with AES-256-GCM under the module's NV key, and
:meth:`NvStore.unseal` decrypts them. The key comes from, in this order:

1. the environment variable ``ICA_NV_KEY`` (64 hex digits), for a key kept elsewhere;
2. the key file ``<nv file>.key`` beside the NV file (32 random bytes, mode 0600,
   made on first use), as a real module keeps its key in the chip, not in the flash
   page that holds the data;
3. with no NV file (memory only), a random key for the life of the process.

A sealed value reads ``"aesgcm:<base64 of nonce + ciphertext>"``; a value stored in clear
by an older version is still read (and sealed at the next write).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_ENV = "ICA_NV_KEY"
SEALED = "aesgcm:"
FILE_MODE = 0o600


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)    # also when the temporary file was left by a crash
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(tmp, path)


class NvStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path else None
        self._data: dict[str, Any] = {}
        self._key: bytes | None = None
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

    # ---- secrets -------------------------------------------------------------
    def seal(self, secret: str) -> str:
        """``secret`` encrypted for storing (see the module docstring for the key)."""
        nonce = secrets.token_bytes(12)
        sealed = nonce + AESGCM(self._nv_key()).encrypt(nonce, secret.encode(), b"ica-nv")
        return SEALED + base64.b64encode(sealed).decode()

    def unseal(self, stored: str) -> str | None:
        """The secret of a sealed value (a clear one as is); None when the key does not open it."""
        if not stored.startswith(SEALED):
            return stored
        try:
            raw = base64.b64decode(stored[len(SEALED):])
            return AESGCM(self._nv_key()).decrypt(raw[:12], raw[12:], b"ica-nv").decode()
        except (ValueError, InvalidTag):
            return None

    def _nv_key(self) -> bytes:
        if self._key is not None:
            return self._key
        env = os.environ.get(KEY_ENV)
        if env:
            key = bytes.fromhex(env)
            if len(key) != 32:
                raise ValueError(f"{KEY_ENV} must be 64 hex digits (a 256-bit key)")
        elif self.path is None:
            key = secrets.token_bytes(32)
        else:
            key_file = self.path.with_name(self.path.name + ".key")
            key = key_file.read_bytes() if key_file.exists() else b""
            if len(key) != 32:
                key = secrets.token_bytes(32)
                _write_private(key_file, key)
        self._key = key
        return key

    def _save(self) -> None:
        if not self.path:
            return
        _write_private(self.path, json.dumps(self._data, indent=1, sort_keys=True).encode())
