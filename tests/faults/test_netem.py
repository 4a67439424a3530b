"""The network fault model alone (sans-I/O): times in, decisions out."""

from __future__ import annotations

import pytest

from pysim.faults import parse_fault
from pysim.faults.netem import DOWN, UP, NetemCore


def core_with(*specs: str, now: float = 0.0, seed: int = 1) -> NetemCore:
    core = NetemCore()
    for i, text in enumerate(specs):
        core.add(parse_fault(text), seed + i, now)
    return core


def test_latency_and_jitter_are_seeded_and_bounded():
    a = core_with("net.latency:ms=100,jitter=20")
    b = core_with("net.latency:ms=100,jitter=20")
    times_a = [a.route("mqtt", UP, 10, 0.0) for _ in range(200)]
    assert times_a == [b.route("mqtt", UP, 10, 0.0) for _ in range(200)]
    assert all(0.08 <= t <= 0.12 for t in times_a) and len(set(times_a)) > 100


def test_a_tcp_stream_keeps_its_order_under_jitter():
    core = core_with("net.latency:ms=50,jitter=50")
    times = [core.route("mqtt", UP, 10, i * 0.001, stream="s") for i in range(100)]
    assert times == sorted(times)


def test_service_and_direction_select_the_traffic():
    core = core_with("net.latency:ms=100,service=coap,dir=down")
    assert core.route("coap", DOWN, 1, 0.0) == pytest.approx(0.1)
    assert core.route("coap", UP, 1, 0.0) == 0.0
    assert core.route("mqtt", DOWN, 1, 0.0) == 0.0


def test_loss_drops_datagrams_and_delays_tcp_chunks():
    core = core_with("net.loss:rate=0.3,rto=200")
    datagrams = [core.route("coap", UP, 10, 0.0) for _ in range(1000)]
    lost = datagrams.count(None)
    assert 250 < lost < 350
    chunks = [core.route("mqtt", UP, 10, 0.0, stream=i) for i in range(1000)]
    assert None not in chunks
    late = [t for t in chunks if t > 0]
    assert 250 < len(late) < 350 and min(late) == pytest.approx(0.2)


def test_bandwidth_queues_bytes():
    core = core_with("net.bandwidth:kbps=8")        # 1000 bytes/s
    assert core.route("http", UP, 500, 0.0) == pytest.approx(0.5)
    assert core.route("http", UP, 500, 0.0) == pytest.approx(1.0)   # behind the first
    assert core.route("http", DOWN, 500, 0.0) == pytest.approx(0.5)  # each direction its own wire


def test_down_and_back_and_reset_times():
    core = core_with("net.down:after=1,for=2,service=mqtt", "net.reset:after=0.5,every=1")
    assert not core.down("mqtt", 0.9) and core.down("mqtt", 1.0) and not core.down("mqtt", 3.0)
    assert not core.down("http", 1.5)
    assert core.route("mqtt", UP, 1, 1.5) is None
    assert core.next_change(0.0) == 0.5
    assert core.resets_due(0.4) == [] and core.resets_due(0.5) == ["all"]
    assert core.next_change(0.6) == 1.0               # the down window starts
    assert core.resets_due(1.5) == ["all"] and core.resets_due(1.6) == []
