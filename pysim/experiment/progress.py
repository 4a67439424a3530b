"""Progress of long work (sweeps, matrices, OTA transfers) on a terminal, quiet elsewhere.

On a terminal (the stream is a tty and ``CI`` is not set) one line is redrawn in
place: ``label [#####.....] 12/40 cell text  eta 1m20s``. Elsewhere (CI logs, pipes)
nothing is drawn while it runs; :meth:`Progress.done` writes one summary line.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from typing import TextIO


def interactive(stream: TextIO) -> bool:
    return hasattr(stream, "isatty") and stream.isatty() and not os.environ.get("CI")


class Progress:
    def __init__(self, total: int, label: str, *, stream: TextIO | None = None,
                 live: bool | None = None, clock=time.monotonic) -> None:
        self.total, self.label = max(total, 0), label
        self.stream = stream or sys.stderr
        self.live = interactive(self.stream) if live is None else live
        self._clock = clock
        self.started = clock()
        self.count = 0
        self.note = ""

    def advance(self, n: int = 1, note: str = "") -> None:
        self.count = min(self.total, self.count + n) if self.total else self.count + n
        self.update(note)

    def update(self, note: str = "", count: int | None = None) -> None:
        if count is not None:
            self.count = count
        self.note = note or self.note
        if self.live:
            self.stream.write("\r" + self.line()[: shutil.get_terminal_size((100, 20)).columns - 1] + "\x1b[K")
            self.stream.flush()

    def line(self) -> str:
        width = 24
        frac = self.count / self.total if self.total else 0.0
        bar = "#" * int(frac * width) + "." * (width - int(frac * width))
        elapsed = self._clock() - self.started
        eta = f"  eta {_duration(elapsed / frac - elapsed)}" if 0 < frac < 1 else ""
        return f"{self.label} [{bar}] {self.count}/{self.total} {self.note}{eta}".rstrip()

    def done(self, summary: str = "") -> None:
        elapsed = _duration(self._clock() - self.started)
        text = f"{self.label}: {self.count}/{self.total} in {elapsed}" + (f"; {summary}" if summary else "")
        if self.live:
            self.stream.write("\r\x1b[K")
        self.stream.write(text + "\n")
        self.stream.flush()


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
