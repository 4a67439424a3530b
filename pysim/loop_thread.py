"""``LoopThread``: an asyncio event loop in a daemon thread that synchronous code
(a plain pytest test, a Robot keyword) hands coroutines to."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any, Coroutine


class LoopThread:
    """Runs forever until ``close``; ``run`` waits for a coroutine's result,
    ``submit`` returns a ``concurrent.futures.Future``."""

    def __init__(self, name: str = "pysim-loop") -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._main, name=name, daemon=True)
        self.thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future[Any]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float | None = None) -> Any:
        """The coroutine's result; on a timeout (``TimeoutError``) it is cancelled."""
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:   # also the builtin TimeoutError (3.11): the coroutine's own
            if future.done():
                raise
            future.cancel()
            raise TimeoutError(f"the event loop did not finish within {timeout:g} s") from None
        except BaseException:
            future.cancel()
            raise

    def close(self, timeout: float = 30.0) -> None:
        """Cancel what is left on the loop, stop it, join the thread, close the loop."""
        if self.loop.is_closed():
            return
        try:
            self.run(self._drain(), timeout)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout)
            if not self.thread.is_alive():   # a loop stuck in a callback stays open (a daemon thread)
                self.loop.close()

    async def _drain(self) -> None:
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.loop.shutdown_asyncgens()
        await self.loop.shutdown_default_executor()
