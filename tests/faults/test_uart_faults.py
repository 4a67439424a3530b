"""UART faults: ByteFaults alone (rates, seeds), and on a running link between two real
socket pairs (switched on and off by spec; delay, stall, break)."""

from __future__ import annotations

import asyncio
import random
import socket

import pytest

from pysim.faults import FaultController
from pysim.uart import TA_TO_TE, TE_TO_TA, ByteFaults, UartLink

DATA = random.Random(1).randbytes(50_000)


@pytest.mark.parametrize("name, counter", [("drop", "dropped"), ("flip", "flipped"), ("dup", "duplicated")])
def test_byte_faults_at_their_rate_and_seeded(name, counter):
    faults = ByteFaults(3, **{name: 0.05})
    out = faults(DATA)
    n = getattr(faults, counter)
    assert 0.04 * len(DATA) < n < 0.06 * len(DATA)
    if name == "drop":
        assert len(out) == len(DATA) - n
    elif name == "dup":
        assert len(out) == len(DATA) + n
    else:
        assert len(out) == len(DATA) and sum(a != b for a, b in zip(out, DATA)) == n
    assert ByteFaults(3, **{name: 0.05})(DATA) == out and ByteFaults(4, **{name: 0.05})(DATA) != out


async def stream_pair():
    """Two connected (reader, writer) pairs over a socketpair."""
    a, b = socket.socketpair()
    return await asyncio.open_connection(sock=a), await asyncio.open_connection(sock=b)


class Wired:
    """A running link; ``te``/``ta`` are the far ends (reader, writer); ``faults`` its controller."""

    def __init__(self, link, te, ta) -> None:
        self.link, self.te, self.ta = link, te, ta
        self.faults = FaultController(link=link, seed=11)

    async def te_sends(self, data: bytes, expect: int) -> tuple[bytes, float]:
        """The TE writes ``data``; returns the ``expect`` bytes the TA got and how long it took."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        self.te[1].write(data)
        got = await asyncio.wait_for(self.ta[0].readexactly(expect), 10)
        return got, loop.time() - start


@pytest.fixture
async def wired():
    (te_near, te_far), (ta_near, ta_far) = await stream_pair(), await stream_pair()
    link = UartLink()
    await link.start(te_near, ta_near)
    yield Wired(link, te_far, ta_far)
    await link.stop()
    for _, writer in (te_near, te_far, ta_near, ta_far):
        writer.close()


async def test_byte_faults_switch_on_and_off_during_a_run(wired):
    handle = wired.faults.apply("uart.dup:rate=1,dir=te2ta")
    assert (await wired.te_sends(b"AT\r", 6))[0] == b"AATT\r\r"
    wired.faults.remove(handle)
    assert (await wired.te_sends(b"AT\r", 3))[0] == b"AT\r"
    handle = wired.faults.apply("uart.drop:rate=1,dir=ta2te")   # the other direction is untouched
    assert (await wired.te_sends(b"AT\r", 3))[0] == b"AT\r"
    wired.ta[1].write(b"lost")
    await wired.link.wait_for(TE_TO_TA, b"AT\r")
    wired.faults.remove(handle)
    wired.ta[1].write(b"\r\nOK\r\n")
    assert await asyncio.wait_for(wired.te[0].readexactly(6), 5) == b"\r\nOK\r\n"   # "lost" never came


async def test_delay_holds_chunks_in_order(wired):
    wired.faults.apply("uart.delay:rate=1,ms=200,dir=te2ta")
    got, took = await wired.te_sends(b"AT\r", 3)
    assert got == b"AT\r" and took >= 0.19
    assert wired.link.faults[TE_TO_TA].delayed >= 1


async def test_stall_carries_nothing_then_everything(wired):
    wired.faults.apply("uart.stall:for=0.4,dir=ta2te")
    loop = asyncio.get_running_loop()
    start = loop.time()
    wired.ta[1].write(b"\r\nOK\r\n")
    assert await asyncio.wait_for(wired.te[0].readexactly(6), 5) == b"\r\nOK\r\n"   # none lost
    assert loop.time() - start >= 0.35
    got, took = await wired.te_sends(b"AT\r", 3)                  # the other direction was not stalled
    assert took < 0.3


async def test_break_reads_as_nul_bytes(wired):
    wired.faults.apply("uart.break:bytes=4,dir=ta2te")
    assert await asyncio.wait_for(wired.te[0].readexactly(4), 5) == b"\x00" * 4
    assert any(r.data == b"\x00" * 4 and r.direction == TA_TO_TE for r in wired.link.records)
