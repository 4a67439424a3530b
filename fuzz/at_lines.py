"""AT command lines made from the catalogue: seeds for the fuzzers, the atheris dictionary,
and the building blocks of the hypothesis strategies (tests/fuzz)."""

from __future__ import annotations

import random

from peripherals.ica.at.catalogue import COMMANDS, Form, Kind, Param


def sample_value(param: Param, rng: random.Random) -> str:
    """One argument for ``param``: in range, at an edge, or just outside it."""
    if param.choices:
        value = rng.choice(param.choices + (("x",) if param.kind is Kind.STR else (-1,)))
        return f'"{value}"' if isinstance(value, str) else str(value)
    if param.kind is Kind.STR:
        text = rng.choice(["", "a", "/pk/dn/user/t", "x" * rng.randint(1, 80), 'q\\"uote', "é,;"])
        return f'"{text}"'
    lo = int(param.lo) if param.lo is not None else -5
    hi = int(param.hi) if param.hi is not None else 70000
    value = rng.choice([lo, hi, lo - 1, hi + 1, rng.randint(lo, hi)])
    if param.kind is Kind.FLOAT:
        return rng.choice([str(value), f"{value}.5", "1e3", "nan"])
    return str(value)


def command_line(rng: random.Random) -> str:
    """A line of one catalogued command in one of its forms (or a form it lacks)."""
    definition = rng.choice(COMMANDS)
    form = rng.choice(sorted(definition.forms, key=lambda f: f.value) + [rng.choice(list(Form))])
    head = "AT" + definition.name
    if form is Form.TEST:
        return head + "=?"
    if form is Form.QUERY:
        return head + "?"
    if form is Form.EXECUTE:
        return head
    if definition.tags:
        tags = rng.sample(definition.tags, rng.randint(1, len(definition.tags)))
        return head + "=" + ",".join(f'"{t.name}",{sample_value(t, rng)}' for t in tags)
    params = list(definition.params)
    if definition.data_entry is not None and rng.random() < 0.7:
        args = [sample_value(p, rng) for p in params[:definition.data_entry]]
        return head + "=" + ",".join(args + [str(rng.choice([0, 1, 5, 64]))])
    count = len(params) + rng.choice([0, 0, 0, -1, 1])
    args = [sample_value(params[i % len(params)], rng) if params else "1" for i in range(max(count, 0))]
    return head + "=" + ",".join(args)


def seed_inputs(count: int, seed: int = 10) -> list[bytes]:
    """``count`` fuzz inputs: four bytes of chunk sizes, then a few command lines (some
    joined with ``;``, some with data after a data-entry command, some garbage)."""
    rng = random.Random(seed)
    inputs = []
    for _ in range(count):
        lines = []
        for _ in range(rng.randint(1, 4)):
            line = command_line(rng)
            if rng.random() < 0.2:
                line += ";" + command_line(rng)[2:]
            lines.append(line + "\r")
            if rng.random() < 0.2:
                lines.append(rng.choice(["abcde", "+++", "\b\bAT\r", "\n", "x" * 1100 + "\r"]))
        inputs.append(bytes(rng.randrange(256) for _ in range(4)) + "".join(lines).encode("latin-1"))
    return inputs


def dictionary() -> list[bytes]:
    """Tokens for the atheris (libFuzzer) dictionary: every command name and the syntax."""
    tokens = {b"AT", b"at", b"\r", b"\r\n", b"=?", b"?", b"=", b",", b";", b'"', b"+++", b"\b", b'\\"'}
    for definition in COMMANDS:
        tokens.add(("AT" + definition.name).encode())
        for param in definition.tags:
            tokens.add(f'"{param.name}"'.encode())
    return sorted(tokens)
