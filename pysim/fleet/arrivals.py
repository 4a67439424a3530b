"""``Arrivals``: what the fleet's independent observer noted, whichever client it is
(:mod:`pysim.fleet.subscriber`, paho-mqtt; :mod:`pysim.fleet.mosquitto_sub`, Debian's
``mosquitto_sub``).

A message on ``/<pk>/<device>/user/telemetry`` whose payload holds ``"seq":N`` is the
arrival of (device, N) at the time the client got it (wall clock, comparable with the
send times the shards note on the same machine). The first arrival of a (device, seq)
counts; a later one is a duplicate; a message without a device or a seq is unparsed."""

from __future__ import annotations

import os
import re
import threading

from .plan import PRODUCT_KEY

SEQ = re.compile(rb'"seq":(\d+)')


class Arrivals:
    """``arrivals`` {device: {seq: arrival time}}, ``duplicates``, ``unparsed``, ``count``
    (every telemetry message noted), ``received`` (distinct (device, seq))."""

    name = ""          # the observer's name in the summary and in ``--observer``

    def __init__(self, url: str, product_key: str = PRODUCT_KEY, qos: int = 1) -> None:
        self.url = url
        self.product_key = product_key
        self.topic = f"/{product_key}/+/user/telemetry"
        self.qos = qos
        self.arrivals: dict[str, dict[int, float]] = {}
        self.duplicates = 0
        self.unparsed = 0
        self.count = 0
        self._received = 0

    def note(self, device: str | None, payload: bytes, t: float) -> None:
        """One telemetry message of ``device`` (None: the topic named none) at ``t``."""
        self.count += 1
        match = SEQ.search(payload)
        if not device or match is None:
            self.unparsed += 1
            return
        seqs = self.arrivals.setdefault(device, {})
        seq = int(match.group(1))
        if seq in seqs:
            self.duplicates += 1
        else:
            seqs[seq] = t
            self._received += 1

    @property
    def received(self) -> int:
        """Distinct (device, seq) so far; safe to read while the observer's thread notes
        (iterating ``arrivals`` then is not: a new device changes its size)."""
        return self._received

    def cpu_s(self) -> float:
        """CPU seconds the observer's own threads and processes have used so far (0 once
        they have ended: take it before ``stop``)."""
        return 0.0

    def start(self, timeout: float = 10.0) -> None:
        """Return once subscribed (the devices may start); ``ConnectionError`` (one line) if not."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop observing; nothing of the observer stays (threads, processes, files)."""
        raise NotImplementedError


def stat_cpu_s(stat_path: str) -> float:
    """CPU seconds (user + system) in a /proc ``stat`` file; 0 if it is gone."""
    try:
        with open(stat_path) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_cpu_s(thread: threading.Thread | None) -> float:
    """CPU seconds of a live thread of this process; 0 if none or gone."""
    native_id = getattr(thread, "native_id", None)
    return stat_cpu_s(f"/proc/self/task/{native_id}/stat") if native_id is not None else 0.0
