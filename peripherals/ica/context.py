"""The module's :class:`~peripherals.ica.interfaces.ModuleContext`: the state every
command family shares (config, NV store, the engine's URC queue, ids, tasks) and
the module's observer."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any, Callable, Coroutine

from peripherals.deadline import expire

from .at import AtEngine, Urc
from .config import ModuleConfig
from .devauth import DeviceCredentials
from .interfaces import Observer
from .nvstore import NvStore

# the module log level (AT+ILOGLVL 1-5) at which each kind of module event is logged
LOG_LEVELS = {"error": 1, "fault": 2, "net.auth": 3, "net.mqtt": 3, "net.ota": 3, "net.coap": 4,
              "net.http": 4}


class Context:
    """The one :class:`ModuleContext` of a module; ``observer`` gets every event."""

    def __init__(self, config: ModuleConfig, nv: NvStore, observer: Observer) -> None:
        self.config = config
        self.nv = nv
        self.observer = observer
        self.engine: AtEngine | None = None
        self.loglevel = 0
        # the device the module speaks for: set by the module from its AUTH commands
        self.credentials: Callable[[], DeviceCredentials | None] = lambda: None
        # hands the engine's output to the TE: set by the module
        self.pump: Callable[[], None] = lambda: None
        self._ids = itertools.cycle(range(1, 65536))
        self._tasks: set[asyncio.Task[Any]] = set()
        self._tracked: dict[asyncio.Future[Any], str] = {}   # network work without a task -> its name

    def next_id(self) -> int:
        """Ids and tokens for every family come from one counter (DECISIONS §10)."""
        return next(self._ids)

    def urc(self, *lines: str | bytes, ok: bool = False, payload: bytes = b"") -> None:
        assert self.engine is not None
        self.engine.send_urc(Urc(list(lines), ok=ok, payload=payload))
        self.pump()

    def emit(self, kind: str, **detail: Any) -> None:
        """A module-side event for traces and tests (``net.*``, ``fault``, ``error``); it
        is also a line of the module's log at that kind's level (AT+ILOGLVL)."""
        self.observer(kind, module=self.config.name, **detail)
        level = LOG_LEVELS.get(kind, 5)
        if self.logs(level):
            self.log(level, f"{kind} " + " ".join(f"{k}={v}" for k, v in detail.items()))

    def logs(self, level: int) -> bool:
        """Whether AT+ILOGLVL asks for log lines of ``level`` (1 errors ... 5 every command)."""
        return 0 < level <= self.loglevel

    def log(self, level: int, text: str) -> None:
        """A module log line (callers check ``logs(level)`` before building the text);
        it goes to the trace, never to the UART."""
        self.observer("log", module=self.config.name, level=level, text=text)

    def spawn(self, coro: Coroutine[Any, Any, Any], what: str) -> asyncio.Task[Any]:
        """Run network work in the background; a failure is reported, never raised."""
        task = asyncio.get_running_loop().create_task(coro, name=f"{self.config.name}:{what}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            error = task.exception()
            self.emit("error", task=task.get_name(), error=f"{type(error).__name__}: {error}")

    def track(self, future: asyncio.Future[Any], what: str, timeout: float) -> None:
        """Network work without a task (cheaper, for what a fleet does thousands of times a
        second): ``future`` fails with ``asyncio.TimeoutError`` after ``timeout`` s and is
        cancelled with the module's tasks, so its callbacks never speak for a past life."""
        timer = asyncio.get_running_loop().call_later(timeout, expire, future)
        self._tracked[future] = what

        def done(_future: asyncio.Future[Any]) -> None:
            timer.cancel()
            self._tracked.pop(future, None)
        future.add_done_callback(done)

    def busy(self, what: str) -> bool:
        return any(what in task.get_name() for task in self._tasks) or \
            any(what in name for name in self._tracked.values())

    async def cancel_tasks(self) -> None:
        for future in list(self._tracked):
            future.cancel()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

    def is_text(self, payload: bytes) -> bool:
        """Whether a received payload is reported by the text URC or the binary one."""
        if self.config.rx_format != "auto":
            return self.config.rx_format == "text"
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return all(c.isprintable() or c in "\r\n\t" for c in text)
