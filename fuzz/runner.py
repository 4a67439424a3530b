"""Runs an atheris fuzzer and prints its counts when it ends (libFuzzer's own exit
skips Python's atexit, so the run is ended here: at ``-runs=N`` inputs or after
``-max_total_time=S`` seconds, whichever comes first)."""

from __future__ import annotations

import os
import sys
import time
from typing import Callable

import atheris


def _option(name: str) -> float | None:
    for arg in sys.argv[1:]:
        if arg.startswith(f"-{name}="):
            return float(arg.split("=", 1)[1])
    return None


def fuzz(test_one_input: Callable[[bytes], None], inputs: Callable[[], int], report: Callable[[], str]) -> None:
    runs = _option("runs")
    seconds = _option("max_total_time")
    start = time.monotonic()
    deadline = start + seconds if seconds else None

    def one(data: bytes) -> None:
        test_one_input(data)
        done = inputs()
        if (runs is not None and done >= runs) or (deadline is not None and done % 64 == 0
                                                   and time.monotonic() >= deadline):
            print(f"{report()} in {time.monotonic() - start:.0f} s", flush=True)
            sys.stdout.flush()
            os._exit(0)

    atheris.Setup(sys.argv, one)
    atheris.Fuzz()
