"""Captures: every byte of a run on every link, with its time, in JSON lines.

Format (docs/determinism.md, "Captures"): the first line is a header, then one
record per line, in the order things happened::

    {"capture": "pysim", "version": 1, "meta": {...}}
    {"t": 0.012345, "link": "uart", "dir": "te2ta", "data": "AT\\r"}
    {"t": 0.012501, "link": "uart", "dir": "ta2te", "data": "\\r\\nOK\\r\\n"}
    {"t": 0.013000, "link": "console", "dir": "mcu", "data": "STEP at ok"}
    {"t": 0.020000, "link": "net", "dir": "up", "service": "mqtt", "conn": 1, "data": "\\u0010..."}
    {"t": 0.021000, "link": "event", "kind": "mqtt.publish", "detail": {...}}

``t``: seconds since the capture started (monotonic clock). ``data``: the bytes as a
string, one character per byte (latin-1), so JSON's escapes keep it exact and ASCII
stays readable; ``record_bytes`` turns it back into bytes. Secrets never reach a
capture: the writer is given the device secret and the credentials derived from it
(the MQTT password), and replaces each occurrence with as many ``*``; signatures in
CoAP/HTTP authentication (``"sign"``, ``"token"``, the ``password`` header) are starred too. The header's
``meta.masked`` says so; `pysim replay --device PK:DN:SECRET` puts the secret back. ``uart`` directions:
``te2ta`` (MCU to module) and ``ta2te``; ``net``: ``up`` (module to cloud) and
``down``, one ``conn`` number per TCP connection or UDP peer (the fault proxy sees
these bytes, so a network capture needs it). ``event``: the run's events (cloud
side, module, faults), detail values as JSON allows.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any, Iterator, TextIO

from pysim.events import Event
from pysim.uart import TA_TO_TE, TE_TO_TA, UartRecord

VERSION = 1
# signatures and tokens in authentication bodies and headers
# HMAC-SHA1 signatures (40 hex digits; an OTA announcement's 32-digit MD5 "sign" is no secret)
# and tokens in authentication bodies and headers
SIGN = re.compile(rb'(?:(?<="sign": ")|(?<="sign":"))[0-9A-Fa-f]{40}(?=")'
                  rb'|(?:(?<="token": ")|(?<="token":")|(?<=\npassword: ))[0-9A-Za-z]{16,128}')
UART_DIR = {TE_TO_TA: "te2ta", TA_TO_TE: "ta2te"}


def _text(data: bytes) -> str:
    return data.decode("latin-1")


def record_bytes(record: dict[str, Any]) -> bytes:
    return record["data"].encode("latin-1")


def _plain(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return _text(bytes(value))
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    return repr(value)


class CaptureWriter:
    """Writes a capture as things happen; listeners for a link, console, proxy and event log."""

    def __init__(self, sink: TextIO | Path | str, meta: dict[str, Any] | None = None,
                 t0: float | None = None, secrets: list[str] = ()) -> None:
        self._secrets = sorted({s.encode("latin-1") for s in secrets if s}, key=len, reverse=True)
        self._held: dict[str, bytes] = {}   # per direction: a possible secret's start, not written yet
        self._own = not hasattr(sink, "write")
        self._f: TextIO = open(sink, "w") if self._own else sink   # type: ignore[arg-type, assignment]
        self.t0 = time.monotonic() if t0 is None else t0
        self.count = 0
        self._write({"capture": "pysim", "version": VERSION,
                     "meta": {**_plain(meta or {}), "masked": ["device secret", "derived credentials"]}})

    def mask(self, data: bytes) -> bytes:
        for secret in self._secrets:
            data = data.replace(secret, b"*" * len(secret))
        return SIGN.sub(lambda m: b"*" * len(m.group(0)), data)

    def _write(self, record: dict[str, Any], *, masked: bool = False) -> None:
        if "data" in record and not masked:
            record["data"] = _text(self.mask(record["data"].encode("latin-1")))
        if "meta" in record:            # what a run's options hold may name a secret too
            record["meta"] = json.loads(_text(self.mask(json.dumps(record["meta"]).encode("latin-1"))))
        if "detail" in record:
            record["detail"] = json.loads(_text(self.mask(json.dumps(record["detail"]).encode("latin-1"))))
        self._f.write(json.dumps(record, separators=(",", ":")) + "\n")

    def _t(self, t: float) -> float:
        return round(t - self.t0, 6)

    def uart(self, record: UartRecord) -> None:
        """A secret may be split over chunks: what could be the start of one is held back
        and written with the direction's next chunk (or at close)."""
        direction = UART_DIR[record.direction]
        data = self.mask(self._held.pop(direction, b"") + record.data)
        keep = self._secret_prefix_at_end(data)
        if keep:
            data, self._held[direction] = data[:-keep], data[-keep:]
        if data:
            self.count += 1
            self._write({"t": self._t(record.t), "link": "uart", "dir": direction, "data": _text(data)}, masked=True)

    def _secret_prefix_at_end(self, data: bytes) -> int:
        """The length of the longest end of ``data`` that begins a secret (0 if none)."""
        for secret in self._secrets:
            for n in range(min(len(secret) - 1, len(data)), 0, -1):
                if data.endswith(secret[:n]):
                    return n
        return 0

    def console(self, t: float, line: str) -> None:
        self.count += 1
        self._write({"t": self._t(t), "link": "console", "dir": "mcu", "data": line})

    def net(self, service: str, direction: str, conn: int, data: bytes) -> None:
        self.count += 1
        self._write({"t": self._t(time.monotonic()), "link": "net", "dir": direction, "service": service,
                     "conn": conn, "data": _text(data)})

    def event(self, event: Event) -> None:
        if event.kind in ("at.command", "at.urc", "at.data"):   # the UART records hold these bytes
            return
        self.count += 1
        record = {"t": self._t(event.t), "link": "event", "kind": event.kind, "detail": _plain(event.detail)}
        if event.device:
            record["device"] = list(event.device)
        self._write(record)

    def close(self) -> None:
        for direction, data in self._held.items():
            self.count += 1
            self._write({"t": self._t(time.monotonic()), "link": "uart", "dir": direction, "data": _text(data)},
                        masked=True)
        self._held.clear()
        self._f.flush()
        if self._own:
            self._f.close()


class CaptureError(ValueError):
    """A file that is not a pysim capture (one line: which line and why)."""


def read_capture(path: Path | str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(header, records) of a capture file."""
    records = list(iter_capture(path))
    return records[0], records[1:]


def iter_capture(path: Path | str) -> Iterator[dict[str, Any]]:
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise CaptureError(f"{path}:{number}: not JSON ({error.msg})") from None
            if number == 1 and record.get("capture") != "pysim":
                raise CaptureError(f"{path}: not a pysim capture (no header line)")
            yield record
