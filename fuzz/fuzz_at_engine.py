"""Coverage-guided fuzzer (atheris/libFuzzer) of the AT engine through an offline module.

    python -m fuzz.fuzz_at_engine [libFuzzer options] WORK_CORPUS fuzz/corpus/at_engine

Each input: 4 bytes of chunk sizes, then the bytes a TE sends. The invariants are those
of :mod:`fuzz.at_harness`; a broken one is a crash (libFuzzer writes the input to
``crash-*``). At the end (``-runs`` or ``-max_total_time``) it prints one line with the counts.
"""

from __future__ import annotations

import atheris

from fuzz.runner import fuzz

with atheris.instrument_imports(include=["peripherals"]):
    from fuzz.at_harness import AtHarness

harness = AtHarness()


def test_one_input(data: bytes) -> None:
    harness.run(data[4:], data[:4])


def report() -> str:
    c = harness.counts
    return (f"fuzz_at_engine: {c.inputs} inputs, {c.lines} lines, {c.commands} command lines "
          f"(one final result code each), {c.data_entries} data entries, 0 invariant failures")


if __name__ == "__main__":
    fuzz(test_one_input, lambda: harness.counts.inputs, report)
