"""Replies several families share."""

from __future__ import annotations

from ..at import Command, Reply


def ok_reply(cmd: Command) -> Reply:
    """A form that only answers OK (the spec's test rows that show just ``OK``)."""
    return Reply()


def last_line(name: str, fields: list[str] | None) -> Reply:
    """The query of a "last request sent" command: its line, or bare OK when none."""
    return Reply([f"{name}:" + ",".join(fields)]) if fields else Reply()
