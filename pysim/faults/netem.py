"""The network fault model, sans-I/O: given a packet (or a TCP chunk), when is it
delivered, or is it lost? Given the time, is a service down, is a reset due?

The asyncio relays in :mod:`pysim.faults.proxy` ask :class:`NetemCore` and do what it
says; the core never sleeps, reads a clock or touches a socket: every call gets ``now``
(seconds, ``time.monotonic`` in the proxy).

Rules come from ``net.*`` fault specs (:mod:`pysim.faults.spec`). Several rules add
up: latency + jitter + loss delays are summed, bandwidth queues bytes behind the ones
before them, and a TCP stream's chunks are never reordered (a later chunk is never
delivered before an earlier one, as TCP guarantees).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Hashable

from .spec import FaultSpec

UP, DOWN = "up", "down"      # up: module -> cloud


@dataclass(eq=False)
class NetRule:
    spec: FaultSpec
    rng: random.Random
    t0: float                               # when the rule was applied
    wire_free: dict[tuple[str, str], float] = field(default_factory=dict)   # bandwidth queues
    lost_in_row: dict[Hashable, int] = field(default_factory=dict)          # per TCP stream
    next_reset: float | None = None
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.spec.kind

    def applies(self, service: str, direction: str | None = None) -> bool:
        wanted = self.spec.params.get("service", "all")
        if wanted != "all" and wanted != service:
            return False
        d = self.spec.params.get("dir", "both")
        return direction is None or d == "both" or d == direction

    def count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    def down_window(self) -> tuple[float, float]:
        start = self.t0 + self.spec["after"]
        length = self.spec["for"]
        return start, (start + length if length > 0 else float("inf"))


class NetemCore:
    """Active network rules and the decisions they make."""

    def __init__(self) -> None:
        self.rules: list[NetRule] = []
        self._stream_last: dict[Hashable, float] = {}

    def add(self, spec: FaultSpec, seed: int, now: float) -> NetRule:
        if spec.link != "net":
            raise ValueError(f"{spec.kind} is not a network fault")
        rule = NetRule(spec, random.Random(seed), now)
        if spec.kind == "net.reset":
            rule.next_reset = now + spec["after"]
        self.rules.append(rule)
        return rule

    def remove(self, rule: NetRule) -> None:
        if rule in self.rules:
            self.rules.remove(rule)

    def clear(self) -> None:
        self.rules.clear()

    # ---- decisions ---------------------------------------------------------
    def down(self, service: str, now: float) -> bool:
        for rule in self.rules:
            if rule.kind == "net.down" and rule.applies(service):
                start, end = rule.down_window()
                if start <= now < end:
                    return True
        return False

    def route(self, service: str, direction: str, nbytes: int, now: float, *,
              stream: Hashable | None = None) -> float | None:
        """When ``nbytes`` sent at ``now`` arrive, or None when lost. ``stream``: the TCP
        connection and direction (chunks of one stream keep their order and are never
        lost, only delayed); None for a datagram."""
        if self.down(service, now):
            return None
        t = now
        for rule in self.rules:
            if not rule.applies(service, direction):
                continue
            p = rule.spec.params
            if rule.kind == "net.latency":
                t += max(0.0, p["ms"] + (rule.rng.uniform(-p["jitter"], p["jitter"]) if p["jitter"] else 0.0)) / 1000
            elif rule.kind == "net.loss":
                if stream is None:
                    if rule.rng.random() < p["rate"]:
                        rule.count("dropped")
                        return None
                else:
                    lost = 0
                    while rule.rng.random() < p["rate"] and lost < 6:
                        t += p["rto"] * (2 ** lost) / 1000   # each resend waits twice as long
                        lost += 1
                    if lost:
                        rule.count("retransmitted")
            elif rule.kind == "net.bandwidth":
                key = (service, direction)
                start = max(t, rule.wire_free.get(key, 0.0))
                t = start + nbytes * 8 / (p["kbps"] * 1000)
                rule.wire_free[key] = t
        if stream is not None:
            t = max(t, self._stream_last.get(stream, 0.0))
            self._stream_last[stream] = t
        return t

    def forget(self, stream: Hashable) -> None:
        """A TCP stream has ended."""
        self._stream_last.pop(stream, None)

    # ---- timed changes -----------------------------------------------------
    def next_change(self, now: float) -> float | None:
        """The next time a service goes down or up, or a reset is due (None: never)."""
        times: list[float] = []
        for rule in self.rules:
            if rule.kind == "net.down":
                times += [t for t in rule.down_window() if t > now and t != float("inf")]
            elif rule.kind == "net.reset" and rule.next_reset is not None:
                times.append(max(rule.next_reset, now))
        return min(times) if times else None

    def resets_due(self, now: float) -> list[str]:
        """Services whose TCP connections must be reset now (each due reset reported once)."""
        services = []
        for rule in self.rules:
            if rule.kind == "net.reset" and rule.next_reset is not None and rule.next_reset <= now:
                services.append(rule.spec["service"])
                rule.count("resets")
                every = rule.spec["every"]
                rule.next_reset = rule.next_reset + every if every > 0 else None
        return services
