"""``Arrivals``: what the fleet's independent observer noted, whichever client it is
(:mod:`pysim.fleet.subscriber`, paho-mqtt; :mod:`pysim.fleet.mosquitto_sub`, Debian's
``mosquitto_sub``).

A message on ``/<pk>/<device>/user/telemetry`` whose payload holds ``"seq":N`` is the
arrival of (device, N) at the time the client got it (wall clock, comparable with the
send times the shards note on the same machine). The first arrival of a (device, seq)
counts; a later one is a duplicate; a message without a device or a seq is unparsed."""

from __future__ import annotations

import re

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

    @property
    def received(self) -> int:
        return sum(len(s) for s in self.arrivals.values())

    def start(self, timeout: float = 10.0) -> None:
        """Return once subscribed (the devices may start); ``ConnectionError`` (one line) if not."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop observing; nothing of the observer stays (threads, processes, files)."""
        raise NotImplementedError
