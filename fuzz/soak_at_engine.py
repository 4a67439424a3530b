"""A long, seeded, uninstrumented run of the AT engine harness, for volume (millions of
lines) where the coverage-guided fuzzer is slower:

    python -m fuzz.soak_at_engine --seconds 3600 --seed 1 [--lines 10000000]

Inputs are catalogue command lines (fuzz/at_lines.py), mutated (bytes flipped, cut,
doubled, garbage and backspaces inserted), in random chunkings. Progress goes to
stderr each minute; the last line on stdout holds the counts. A broken invariant
stops the run with the failing input (exit status 1).
"""

from __future__ import annotations

import argparse
import random
import sys
import time

from fuzz.at_harness import AtHarness, InvariantBroken
from fuzz.at_lines import command_line

NOISE = [b"\b", b"\n", b"+++", b" ", b"\x00", b"AT", b'"', b";", b"\r", b"\xff", b"x" * 1030]


def mutate(line: bytes, rng: random.Random) -> bytes:
    data = bytearray(line)
    for _ in range(rng.choice((0, 0, 1, 2, 4))):
        op = rng.randrange(4)
        at = rng.randrange(len(data) + 1)
        if op == 0 and data:
            data[min(at, len(data) - 1)] = rng.randrange(256)
        elif op == 1:
            data[at:at] = rng.choice(NOISE)
        elif op == 2:
            del data[at:at + rng.randint(1, 8)]
        else:
            data[at:at] = data[:rng.randint(0, 16)]
    return bytes(data)


def make_input(rng: random.Random, lines: int) -> bytes:
    parts = []
    for _ in range(lines):
        parts.append(mutate(command_line(rng).encode("latin-1"), rng) + b"\r")
        if rng.random() < 0.05:
            parts.append(bytes(rng.randrange(256) for _ in range(rng.randint(1, 64))))
    return b"".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60, help="how long to run (default: 60)")
    parser.add_argument("--lines", type=int, default=0, help="stop after this many lines (default: 0 = no limit)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    parser.add_argument("--lines-per-input", type=int, default=20, help="(default: 20)")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    harness = AtHarness()
    start = last = time.monotonic()
    data = b""
    try:
        while time.monotonic() - start < args.seconds and (not args.lines or harness.counts.lines < args.lines):
            data = make_input(rng, args.lines_per_input)
            cuts = bytes(rng.randrange(256) for _ in range(rng.randint(0, 4)))
            harness.run(data, cuts)
            if time.monotonic() - last >= 60:
                last = time.monotonic()
                print(f"soak: {harness.counts} after {last - start:.0f} s", file=sys.stderr, flush=True)
    except InvariantBroken as error:
        print(f"soak_at_engine: FAILED after {harness.counts.inputs} inputs: {error}\ninput: {data!r}", flush=True)
        return 1
    finally:
        harness.close()
    c = harness.counts
    print(f"soak_at_engine: {c.inputs} inputs, {c.lines} lines, {c.commands} command lines (one final "
          f"result code each), {c.data_entries} data entries, 0 invariant failures in "
          f"{time.monotonic() - start:.0f} s (seed {args.seed})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
