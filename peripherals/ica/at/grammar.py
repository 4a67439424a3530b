"""The command-line grammar (V.250 §5.4): what follows ``AT`` as a list of
:class:`Command` s. Basic commands (``E0``, ``I``), extended ones (``+NAME`` in
four forms, ``&X``), separated by ``;``; quotes respected."""

from __future__ import annotations

from typing import Callable, Iterator

from .catalogue import Form
from .errors import BadParams, Unknown
from .events import Command
from .fields import ESCAPES, Arg, find_outside_quotes, split_fields

Warner = Callable[[str], Callable[[str], None]]   # command text -> its warn callable


def parse_line(body: str, warner: Warner, escapes: str = ESCAPES) -> Iterator[Command]:
    """The commands of one line (``body`` is the text after ``AT``); ``escapes``: what a
    backslash escapes inside quotes.

    Raises :class:`Unknown` for text that is no command and :class:`BadParams`
    for bad syntax after a command name.
    """
    if body == "":
        yield Command("", Form.EXECUTE, [], "AT", warner("AT"))
        return
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if c in "+&":
            j = end_of_extended(body, i, escapes)
            yield parse_extended(body[i:j], warner, escapes)
            i = j + 1 if j < n and body[j] == ";" else j
        elif c.isalpha():
            j = i + 1
            while j < n and body[j].isdigit():
                j += 1
            text = body[i:j]
            name, value = text[0].upper(), text[1:]
            args = [Arg(value, False)] if value else []
            yield Command(name, Form.SET if value else Form.EXECUTE, args, "AT" + text, warner("AT" + text))
            i = j
            if i < n and body[i] == ";":
                i += 1
        elif c == " ":
            i += 1
        else:
            raise Unknown(f"cannot parse {body[i:]!r}")


def parse_extended(text: str, warner: Warner, escapes: str = ESCAPES) -> Command:
    """One extended command, ``+NAME`` and its form and arguments."""
    j = 1
    while j < len(text) and (text[j].isalnum() or text[j] in "_."):
        j += 1
    name, rest = text[:j].upper(), text[j:]
    if name in ("+", "&"):
        raise Unknown(f"no command name in {text!r}")
    warn = warner("AT" + text)
    if rest == "=?":
        return Command(name, Form.TEST, [], "AT" + text, warn)
    if rest == "?":
        return Command(name, Form.QUERY, [], "AT" + text, warn)
    if rest.startswith("="):
        return Command(name, Form.SET, split_fields(rest[1:], strict=True, escapes=escapes), "AT" + text, warn)
    if rest.strip() == "":
        return Command(name, Form.EXECUTE, [], "AT" + text, warn)
    raise BadParams(f"cannot parse {rest!r} after AT{name}")


def end_of_extended(body: str, i: int, escapes: str = ESCAPES) -> int:
    """Index of the ``;`` ending the extended command at ``i`` (or len), quotes respected."""
    return find_outside_quotes(body, i, ";", escapes)
