"""Splitting a comma-separated AT field list with quoted strings, written once.

Used by the module for a command's arguments (``strict``: bad syntax is
``+CME ERROR:50``), by the TE client for response lines and by the trace
(lenient: a field list is read as far as it makes sense). Inside quotes ``\\"``
is a quote and ``\\\\`` a backslash (DECISIONS §6); any other backslash is kept.
``escapes`` names the characters a backslash escapes (a compatibility profile may
take ``"`` alone, see ``peripherals/ica/profiles.py``).
"""

from __future__ import annotations

import re

from dataclasses import dataclass

from .errors import BadParams


@dataclass(frozen=True, slots=True)
class Arg:
    """One field as written: its text (unescaped) and whether it was quoted."""

    text: str
    quoted: bool


_BLANK = " \t"


ESCAPES = '"\\'   # what a backslash escapes inside quotes (DECISIONS §6)
_PLAIN_RUN = re.compile(r'[^"\\]*')   # inside quotes: what is neither a quote nor a backslash


def split_fields(text: str, *, strict: bool = False, escapes: str = ESCAPES) -> list[Arg]:
    """The fields of ``text`` (what follows ``=`` or ``+NAME:``); spaces around fields allowed.

    ``strict``: an unterminated string, text after a closing quote or a quote inside
    an unquoted field raises :class:`BadParams`; otherwise the string runs to the end,
    the text after it up to the next comma is skipped and the quote is kept.
    """
    args: list[Arg] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in _BLANK:
            i += 1
        if i < n and text[i] == '"':
            i += 1
            out: list[str] = []
            while True:
                run = _PLAIN_RUN.match(text, i).end()   # ordinary characters, taken at once
                if run > i:
                    out.append(text[i:run])
                    i = run
                if i >= n:
                    if strict:
                        raise BadParams("unterminated string")
                    break
                c = text[i]
                if c == "\\" and i + 1 < n and text[i + 1] in escapes:
                    out.append(text[i + 1])
                    i += 2
                    continue
                i += 1
                if c == '"':
                    break
                out.append(c)
            args.append(Arg("".join(out), True))
            while i < n and text[i] in _BLANK:
                i += 1
            if i < n and text[i] != ",":
                if strict:
                    raise BadParams(f"unexpected {text[i]!r} after a string")
                i = _next_comma(text, i)
        else:
            start = i
            i = _next_comma(text, i)
            if strict and '"' in text[start:i]:
                raise BadParams("quote inside an unquoted argument")
            args.append(Arg(text[start:i].strip(_BLANK), False))
        if i >= n:
            return args
        i += 1  # the comma


def find_outside_quotes(text: str, i: int, stops: str, escapes: str = ESCAPES) -> int:
    """Index of the first character of ``stops`` at or after ``i`` that is outside a
    quoted string (len(text) when there is none)."""
    n = len(text)
    # most lines have no stop character, or no quote before the first one: found by
    # str.find, without walking the line a character at a time
    first = min((j for j in (text.find(stop, i) for stop in stops) if j >= 0), default=-1)
    if first < 0:
        return n
    if text.find('"', i, first) < 0:
        return first
    in_quote = False
    while i < n:
        c = text[i]
        if in_quote:
            if c == "\\" and i + 1 < n and text[i + 1] in escapes:
                i += 2
                continue
            if c == '"':
                in_quote = False
        elif c == '"':
            in_quote = True
        elif c in stops:
            return i
        i += 1
    return n


def _next_comma(text: str, i: int) -> int:
    j = text.find(",", i)
    return len(text) if j < 0 else j


def field_texts(text: str) -> list[str]:
    """The fields of a response line's argument part, as plain strings (lenient)."""
    if '"' not in text:   # most response lines: numbers and names, split by str.split
        return [part.strip(_BLANK) for part in text.split(",")]
    return [arg.text for arg in split_fields(text)]


def quote(value: str) -> str:
    """A string parameter as the module writes it: quoted, with \\" and \\\\."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
