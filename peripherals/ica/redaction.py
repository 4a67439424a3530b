"""Redaction of device secrets in AT command lines, before they reach a log, an event or a trace.

The only secret the TE ever sends is the third argument of the AUTH commands
(``AT+IMQTTAUTH``, ``AT+ICOAPAUTH``, ``AT+IHTTPAUTH``: productKey, deviceName,
deviceSecret). :func:`redact_line` replaces it, quoted or not, by ``"********"``
wherever such a command stands in a line (also after ``;`` and in the module's echo).
"""

from __future__ import annotations

import re

MASK = '"********"'
SECRET_ARG = 2   # deviceSecret: the third argument
_AUTH_SET = re.compile(r"\+I(?:MQTT|COAP|HTTP)AUTH[ \t]*=", re.IGNORECASE)


def _argument_spans(text: str, start: int) -> list[tuple[int, int]]:
    """(start, end) of each argument from ``start`` to the ``;``, CR, LF or end of the command,
    quotes respected."""
    spans, i, n, begin, quoted = [], start, len(text), start, False
    while i < n:
        c = text[i]
        if quoted:
            if c == "\\" and i + 1 < n:
                i += 2
                continue
            if c == '"':
                quoted = False
        elif c == '"':
            quoted = True
        elif c in ",;\r\n":
            spans.append((begin, i))
            if c != ",":
                return spans
            begin = i + 1
        i += 1
    spans.append((begin, n))
    return spans


def _secret_spans(text: str) -> list[tuple[int, int]]:
    if "AUTH" not in text.upper():
        return []
    found = []
    for match in _AUTH_SET.finditer(text):
        spans = _argument_spans(text, match.end())
        if len(spans) > SECRET_ARG and (not found or spans[SECRET_ARG][0] >= found[-1][1]):
            found.append(spans[SECRET_ARG])
    return found


def redact_line(text: str) -> str:
    """``text`` with the secret argument of every AUTH set command masked."""
    out, done = [], 0
    for begin, end in _secret_spans(text):
        out += [text[done:begin], MASK]
        done = end
    return "".join(out) + text[done:] if out else text


def secret_values(text: str) -> list[str]:
    """The secrets an AUTH line holds, as written and unquoted (to mask them in messages
    derived from the line, such as a conformance warning quoting the argument)."""
    values = []
    for begin, end in _secret_spans(text):
        raw = text[begin:end].strip(" \t")
        values.append(raw)
        if len(raw) >= 2 and raw[0] == raw[-1] == '"':
            values.append(raw[1:-1].replace('\\"', '"').replace("\\\\", "\\"))
    return [v for v in values if v]


def redact_detail(detail: dict) -> dict:
    """An event's detail with the secrets of its ``line`` masked in every text value."""
    line = detail.get("line")
    secrets = secret_values(line) if isinstance(line, str) else []
    if not secrets:
        return detail
    secrets.sort(key=len, reverse=True)

    def mask(value):
        if not isinstance(value, str):
            return value
        for secret in secrets:
            value = value.replace(secret, MASK)
        return value

    return {k: mask(v) for k, v in detail.items()}


def redact_bytes(data: bytes) -> bytes:
    """:func:`redact_line` for raw UART bytes (read as latin-1, one character per byte)."""
    if b"AUTH" not in data.upper():
        return data
    return redact_line(data.decode("latin-1")).encode("latin-1")
