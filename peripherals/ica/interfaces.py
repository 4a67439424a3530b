"""The interfaces between the module's layers (as aiocoap's ``interfaces.py``).

Command families (``commands/*.py``) depend on :class:`ModuleContext`, never on
``module.py``; the module reports what happens through an :data:`Observer`, never
by importing the simulator (``pysim``) that observes it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Callable, Coroutine, Protocol

if TYPE_CHECKING:
    from .at import AtEngine
    from .config import ModuleConfig
    from .devauth import DeviceCredentials
    from .nvstore import NvStore

# Called with an event kind and its details, e.g. ("net.mqtt", module="ica0", what="connected").
Observer = Callable[..., None]


class EventSink(Protocol):
    """Anything with ``emit(kind, device, **detail)``, such as ``pysim.events.EventLog``."""

    def emit(self, kind: str, device: tuple[str, str] | None = None, **detail: Any) -> Any: ...


class ModuleContext(Protocol):
    """What every command family sees of the module."""

    config: "ModuleConfig"
    nv: "NvStore"
    engine: "AtEngine | None"
    loglevel: int
    # the device the module speaks for (the first family authenticated), or None
    credentials: "Callable[[], DeviceCredentials | None]"

    def next_id(self) -> int:
        """The next id or token; one counter for every family (DECISIONS §10)."""
        ...

    def urc(self, *lines: str | bytes, ok: bool = False, payload: bytes = b"") -> None:
        """Queue a URC: its lines, its own OK (receive URCs), its binary payload."""
        ...

    def emit(self, kind: str, **detail: Any) -> None:
        """A module-side event (``net.*``, ``fault``, ``error``) for traces and tests."""
        ...

    def logs(self, level: int) -> bool:
        """Whether AT+ILOGLVL asks for log lines of ``level``."""
        ...

    def log(self, level: int, text: str) -> None:
        """A module log line (never on the UART)."""
        ...

    def spawn(self, coro: Coroutine[Any, Any, Any], what: str) -> "asyncio.Task[Any]":
        """Run network work in the background; a failure is reported, never raised."""
        ...

    def track(self, future: "asyncio.Future[Any]", what: str, timeout: float) -> None:
        """Network work without a task: ``future`` fails with ``asyncio.TimeoutError``
        after ``timeout`` s and is cancelled when the module stops or reboots."""
        ...

    def busy(self, what: str) -> bool:
        """Whether network work whose name has ``what`` in it is still under way."""
        ...

    def is_text(self, payload: bytes) -> bool:
        """Whether a received payload goes out as the text URC or the binary one."""
        ...
