"""``Ticks``: many coroutines woken at their due times by one timer per time slot."""

from __future__ import annotations

import asyncio
import math


class Ticks:
    """Wakes many coroutines at their due times with one timer per ``resolution`` s slot
    instead of one timer each (``asyncio.sleep``): thousands of devices publishing once a
    second each want a wake-up, and a timer costs more than the wake-up itself."""

    def __init__(self, resolution: float = 0.005) -> None:
        self.resolution = resolution
        self._slots: dict[int, list[asyncio.Future[None]]] = {}

    async def until(self, when: float) -> None:
        """Return at loop time ``when`` (up to one slot later)."""
        loop = asyncio.get_running_loop()
        slot = math.ceil(when / self.resolution)
        waiters = self._slots.get(slot)
        if waiters is None:
            waiters = self._slots[slot] = []
            loop.call_at(slot * self.resolution, self._fire, slot)
        future = loop.create_future()   # a waiter's own: cancelling one leaves the others
        waiters.append(future)
        await future

    def _fire(self, slot: int) -> None:
        for future in self._slots.pop(slot, ()):
            if not future.done():
                future.set_result(None)
