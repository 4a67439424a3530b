"""UartLink between stream pairs (no emulator): pumping, faults, pacing arithmetic."""

from __future__ import annotations

import asyncio
import time

import pytest

from pysim.uart import TA_TO_TE, TE_TO_TA, ByteFaults, Pacer, UartLink


async def connected_pair():
    """Two ends of one TCP connection on 127.0.0.1, each a (reader, writer) pair."""
    accepted: asyncio.Future = asyncio.get_running_loop().create_future()
    server = await asyncio.start_server(lambda r, w: accepted.set_result((r, w)), "127.0.0.1", 0)
    try:
        near = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
        return near, await asyncio.wait_for(accepted, 5)
    finally:
        server.close()


@pytest.fixture
async def two_pairs():
    """((te_link_side, te_far), (ta_link_side, ta_far)): the link sits between two sockets."""
    pairs = [await connected_pair(), await connected_pair()]
    yield pairs
    for pair in pairs:
        for _, writer in pair:
            writer.close()


async def test_link_pumps_between_stream_pairs(two_pairs):
    (te_near, te_far), (ta_near, ta_far) = two_pairs
    link = UartLink()
    await link.start(te_near, ta_near)
    try:
        te_far[1].write(b"AT\r")
        assert await asyncio.wait_for(ta_far[0].readexactly(3), 5) == b"AT\r"
        ta_far[1].write(b"\r\nOK\r\n")
        assert await asyncio.wait_for(te_far[0].readexactly(6), 5) == b"\r\nOK\r\n"
        await link.wait_for(TA_TO_TE, b"OK", timeout=5)
    finally:
        await link.stop()
    assert [(r.direction, r.data) for r in link.records] == [(TE_TO_TA, b"AT\r"), (TA_TO_TE, b"\r\nOK\r\n")]


async def test_fault_hooks_alter_one_direction_only(two_pairs):
    (te_near, te_far), (ta_near, ta_far) = two_pairs
    drop_all = ByteFaults(seed=1, drop=1.0)
    hook_ran = asyncio.Event()

    def drop(data: bytes) -> bytes:
        hook_ran.set()
        return drop_all(data)

    link = UartLink(faults={TE_TO_TA: drop, TA_TO_TE: lambda data: data.replace(b"OK", b"ERROR")})
    await link.start(te_near, ta_near)
    try:
        te_far[1].write(b"AT\r")
        ta_far[1].write(b"\r\nOK\r\n")
        assert await asyncio.wait_for(te_far[0].readexactly(9), 5) == b"\r\nERROR\r\n"
        await asyncio.wait_for(hook_ran.wait(), 5)
    finally:
        await link.stop()
    assert link.delivered(TE_TO_TA) == b"" and drop_all.dropped == 3


async def test_te_end_of_stream_sets_te_closed(two_pairs):
    (te_near, te_far), (ta_near, _) = two_pairs
    link = UartLink()
    await link.start(te_near, ta_near)
    te_far[1].close()
    await asyncio.wait_for(link.te_closed.wait(), 5)
    with pytest.raises(ConnectionError):
        await link.wait_for(TE_TO_TA, b"never", timeout=5)
    await link.stop()


def test_byte_faults_are_reproducible_from_the_seed():
    data = bytes(range(256)) * 4
    first, second = ByteFaults(seed=42, drop=0.1, flip=0.1), ByteFaults(seed=42, drop=0.1, flip=0.1)
    assert first(data) == second(data)
    assert first.dropped > 0 and first.flipped > 0
    assert ByteFaults(seed=42)(data) == data


async def test_pacer_releases_no_byte_before_its_frame_ends():
    pacer = Pacer(9600)  # 1.0417 ms a byte
    released: list[tuple[float, int]] = []

    async def deliver(piece: bytes) -> None:
        released.append((time.monotonic(), len(piece)))

    start = time.monotonic()
    await pacer.send(b"x" * 48, deliver)
    await pacer.send(b"y" * 48, deliver)  # queued behind the first burst on the wire
    total = 0
    for t, count in released:
        total += count
        assert t - start >= total * pacer.byte_time - 1e-6
    assert total == 96

