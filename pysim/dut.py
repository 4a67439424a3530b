"""``Dut``: the device under test (firmware in an emulator + module + cloud) for
plain synchronous code and for async code alike.

    dut = Dut.start(SessionOptions(firmware="build/app.elf"))
    match = dut.console.expect(r"READY v(\\S+)", timeout=10)       # the re.Match
    dut.cloud.publish("/a1PK/dev1/user/cmd", b'{"led":1}')
    message = dut.cloud.expect_message("/a1PK/dev1/user/ack", r'"led"')
    dut.stop()

``Dut.start`` runs the session on an event loop in a thread (its own, or a
``LoopThread`` it is given, e.g. one that also serves a shared ``cloud``), so
nothing has to be configured for synchronous tests. Called from a coroutine, the
same methods return awaitables instead: ``match = await dut.console.expect(...)``.
``await Dut.start_here(...)`` runs the session on the running loop itself (an
async test whose other parts live on that loop), where every call is awaited.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import random
import re
from pathlib import Path
from typing import Any, Coroutine

from pysim.loop_thread import LoopThread

LIFECYCLE_TIMEOUT = 60.0   # starting or stopping must be done within this
GRACE = 10.0               # how long a call may take beyond its own timeout


def _in_coroutine() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class _Part:
    def __init__(self, dut: "Dut") -> None:
        self._dut = dut

    def _call(self, coro: Coroutine[Any, Any, Any], timeout: float) -> Any:
        __tracebackhide__ = True   # pytest: a failure points at the test's line
        return self._dut._call(coro, timeout)


class DutConsole(_Part):
    """The firmware's debug console."""

    def expect(self, pattern: str | re.Pattern[str], timeout: float = 10.0) -> re.Match[str]:
        """The ``re.Match`` of the next console line that ``pattern`` searches (lines after
        the previous match); on a timeout an ``AssertionError`` showing the last lines."""
        __tracebackhide__ = True
        return self._call(self._dut.session.console.expect(pattern, timeout), timeout)

    def expect_not(self, pattern: str | re.Pattern[str], window: float = 2.0) -> None:
        """Fail as soon as a console line matching ``pattern`` comes within ``window`` s."""
        __tracebackhide__ = True
        return self._call(self._dut.session.console.expect_not(pattern, window), window)

    def write(self, data: bytes | str) -> None:
        """Send bytes (a str as UTF-8) to the firmware's console input."""
        async def write() -> None:
            self._dut.session.write_console(data)
        return self._call(write(), 0)

    @property
    def lines(self) -> list[str]:
        """Every console line so far."""
        return self._dut.session.console_lines


class DutUart(_Part):
    """The AT lines between firmware and module, as the trace shows them (no CR/LF)."""

    def expect(self, pattern: str | re.Pattern[str], timeout: float = 10.0,
               direction: str | None = None) -> re.Match[str]:
        """The match of the next AT line; ``direction``: ``"TE->TA"`` (to the module),
        ``"TA->TE"`` (from it) or None (either)."""
        __tracebackhide__ = True
        return self._call(self._dut.session.expect_uart(pattern, timeout, direction), timeout)


class DutCloud(_Part):
    """The cloud's half: MQTT both ways, CoAP/HTTP requests, OTA images."""

    @property
    def cloud(self) -> Any:
        """The in-process :class:`pysim.cloud.Cloud` (None with an external broker)."""
        return self._dut.session.cloud

    @property
    def messages(self) -> list[Any]:
        """Every message devices published, as :class:`pysim.cloud_side.CloudMessage`."""
        return self._dut.session.cloud_side.messages

    def publish(self, topic: str, payload: bytes | str, qos: int = 1) -> None:
        """Publish from the cloud on ``topic`` (the device gets it when subscribed)."""
        return self._call(self._dut.session.cloud_side.publish(topic, payload, qos), 0)

    def expect_message(self, topic: str, payload: str | re.Pattern[str] | None = None,
                       timeout: float = 10.0) -> Any:
        """The next message a device published on ``topic`` (MQTT wildcards allowed) whose
        payload ``payload`` (a regex) searches: a ``CloudMessage`` (``topic``, ``payload``,
        ``text``); on a timeout an ``AssertionError`` listing the last messages."""
        __tracebackhide__ = True
        return self._call(self._dut.session.cloud_side.expect_message(topic, payload, timeout), timeout)

    def expect_request(self, protocol: str, path: str | None = None, timeout: float = 10.0) -> Any:
        """The first CoAP or HTTP request (``protocol``) at the cloud whose path ``path``
        searches: the cloud's event (``detail`` has method, path, result)."""
        __tracebackhide__ = True
        return self._call(self._dut.session.cloud_side.expect_request(protocol, path, timeout), timeout)

    def push_ota(self, image: bytes | None = None, version: str = "1.1.0", *, size: int | None = None,
                 seed: int = 7) -> Any:
        """Announce an OTA image (``image``, or ``size`` seeded random bytes) to the device;
        returns the cloud's ``OtaImage`` (``md5``, ``size``, ``version``)."""
        if image is None:
            if size is None:
                raise ValueError("give the image or its size")
            image = random.Random(seed).randbytes(size)
        return self._call(self._dut.session.cloud_side.push_ota(self._dut.session.device, image, version), 0)


class Dut:
    """Firmware + module + cloud. ``console``, ``uart`` and ``cloud`` are its parts;
    ``module`` the :class:`peripherals.ica.IcaModule`; ``session`` the running
    :class:`pysim.session.Session`; ``trace`` the readable trace so far.

    ``loop``: the ``LoopThread`` the session runs on, or None when it runs on the
    loop of the coroutines that call it (``start_here``); ``owns_loop``: ``stop``
    closes that thread too."""

    def __init__(self, session: Any, loop: LoopThread | None, *, owns_loop: bool = True) -> None:
        self.session = session
        self._loop = loop
        self._owns_loop = owns_loop and loop is not None
        self._stopped = False
        self._home = asyncio.get_running_loop() if loop is None else None   # the loop a `start_here` session is on
        self.console = DutConsole(self)
        self.uart = DutUart(self)
        self.cloud = DutCloud(self)

    @classmethod
    def start(cls, options: Any = None, *, cloud: Any = None, loop: LoopThread | None = None) -> "Dut":
        """Start a session from ``SessionOptions`` on a loop thread (blocks until booted):
        ``loop``, a running ``LoopThread`` the dut leaves running at ``stop``, else a new
        one of its own; ``cloud``: a started in-process cloud on that loop to share."""
        from pysim.session import Session

        owns_loop = loop is None
        thread = LoopThread("pysim-dut") if loop is None else loop
        session = Session(options, cloud=cloud)
        try:
            thread.run(session.start(), LIFECYCLE_TIMEOUT + session.options.boot_timeout)
        except BaseException:
            if owns_loop:
                thread.close()
            raise
        return cls(session, thread, owns_loop=owns_loop)

    @classmethod
    async def start_here(cls, options: Any = None, *, cloud: Any = None) -> "Dut":
        """Start a session on the running event loop (``cloud``: a started in-process cloud
        on it to share); every call of the dut is then awaited; ``await dut.stop_here()``."""
        from pysim.factory import start_session

        session = await start_session(options, cloud=cloud)
        return cls(session, None)

    def stop(self) -> None:
        """Stop the session (and the loop thread the dut made); idempotent."""
        if self._stopped:
            return
        if self._loop is None:
            raise RuntimeError("this dut runs on the caller's event loop: `await dut.stop_here()`")
        self._stopped = True
        try:
            if not self._loop.loop.is_closed():
                self._loop.run(self.session.stop(), LIFECYCLE_TIMEOUT)
        finally:
            if self._owns_loop:
                self._loop.close()

    async def stop_here(self) -> None:
        """Stop a session that runs on the caller's loop (``start_here``); idempotent."""
        if self._loop is not None:
            raise RuntimeError("this dut runs on its own loop thread: call `dut.stop()`")
        self._stopped = True
        await self.session.stop()

    @property
    def module(self) -> Any:
        return self.session.module

    @property
    def device(self) -> tuple[str, str]:
        """(product key, device name) of the firmware's device."""
        return self.session.device

    @property
    def trace(self) -> str:
        return "\n".join(self.session.trace_lines)

    def wait_exit(self, timeout: float | None = 10.0) -> int | None:
        """The firmware's exit code, or None while it still runs after ``timeout`` s."""
        __tracebackhide__ = True
        return self._call(self.session.wait_exit(timeout), timeout or 0)

    def play(self, scenario: str | Path) -> Any:
        """Play a scenario file against the device; the ``ScenarioResult`` (``passed``,
        ``steps``, ``failure``)."""
        from pysim.scenario import ScenarioPlayer, load_scenario

        player = ScenarioPlayer(load_scenario(scenario), self.session)
        return self._call(player.play(), LIFECYCLE_TIMEOUT * 10)

    def _call(self, coro: Coroutine[Any, Any, Any], timeout: float) -> Any:
        __tracebackhide__ = True   # pytest: a failure points at the test's line
        if self._loop is None:   # the session runs on the caller's loop: the call is a task on it
            if not _in_coroutine():
                coro.close()
                raise RuntimeError("this dut runs on an async test's event loop: `await` its calls")
            if asyncio.get_running_loop() is not self._home:
                coro.close()
                raise RuntimeError("this dut runs on another event loop than this coroutine's: give the test the "
                                   "loop of its fixtures (pytest-asyncio's default, function-scoped)")
            return asyncio.ensure_future(asyncio.wait_for(coro, timeout + GRACE))
        future = self._loop.submit(coro)
        if _in_coroutine():
            return asyncio.wrap_future(future)
        try:
            return future.result(timeout + GRACE)
        except AssertionError as failed:   # a failed check: the loop's frames say nothing to the test
            raise failed.with_traceback(None) from None
        except concurrent.futures.TimeoutError:   # also the builtin TimeoutError (3.11): the call's own
            if future.done():
                raise
            future.cancel()
            raise TimeoutError(f"the device's event loop did not answer within {timeout + GRACE:g} s") from None
