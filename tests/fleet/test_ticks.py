"""pysim/fleet/ticks.py: a shard's devices wake at their due times, one timer per slot."""

from __future__ import annotations

import asyncio

from pysim.fleet.ticks import Ticks


async def test_each_waiter_wakes_at_its_time_not_before():
    ticks, loop, woke = Ticks(resolution=0.01), asyncio.get_running_loop(), []
    start = loop.time()
    dues = [start + d for d in (0.05, 0.02, 0.05, 0.031)]

    async def wait(index: int) -> None:
        await ticks.until(dues[index])
        woke.append((index, loop.time()))

    await asyncio.gather(*(wait(i) for i in range(len(dues))))
    assert [index for index, _ in woke][:2] == [1, 3]
    for index, at in woke:
        assert at >= dues[index]
    assert len(ticks._slots) == 0          # every slot fired and was dropped


async def test_a_cancelled_waiter_leaves_the_others_of_its_slot():
    ticks, loop = Ticks(resolution=0.01), asyncio.get_running_loop()
    due = loop.time() + 0.03
    cancelled = asyncio.ensure_future(ticks.until(due))
    other = asyncio.ensure_future(ticks.until(due))
    await asyncio.sleep(0)
    cancelled.cancel()
    await asyncio.wait_for(other, 1)
    assert cancelled.cancelled() and other.done() and not other.cancelled()
