"""``within(future, timeout)``: a future's result, or ``asyncio.TimeoutError`` once
``timeout`` seconds have passed.

What ``asyncio.wait_for(asyncio.shield(future), timeout)`` does for a future the caller
owns, at a fraction of the cost (one timer, no task, no second future): a fleet's module
and TE await one per AT command and per publish. On time-out the future itself gets the
``TimeoutError``, so whoever would resolve it later must check ``future.done()`` first
(as every resolver here does)."""

from __future__ import annotations

import asyncio
from typing import TypeVar

T = TypeVar("T")


def expire(future: asyncio.Future) -> None:
    """Fail ``future`` with ``asyncio.TimeoutError`` unless it is done (a timer's callback)."""
    if not future.done():
        future.set_exception(asyncio.TimeoutError())


async def within(future: asyncio.Future[T], timeout: float) -> T:
    if future.done():     # a module fed in-process answers at once: no timer to make
        return future.result()
    handle = asyncio.get_running_loop().call_later(timeout, expire, future)
    try:
        return await future
    finally:
        handle.cancel()
