"""What the keyword families share: the event loop thread (``pysim.loop_thread``), the module and device
caches (handles), the cloud in use, timeouts, failure messages with the trace tail,
and `Stop All`."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Coroutine, Literal

from robot.api import logger
from robot.api.deco import keyword
from robot.api.types import Secret
from robot.utils import ConnectionCache, timestr_to_secs

from peripherals.ica.profiles import PROFILES
from peripherals.ica.redaction import MASK, redact_line
from pysim.loop_thread import LoopThread
from pysim.te import Line

from .results import AtResponse, Urc

if TYPE_CHECKING:
    from pysim.cloud import Cloud

    from .cloud import CloudObserver
    from .handles import DeviceHandle, ModuleHandle

# The module's compatibility profiles (peripherals/ica/profiles.py), as Robot shows and checks them
ProfileName = Literal[tuple(PROFILES)]

# How long a keyword may wait beyond its own timeout for the loop to answer.
LOOP_GRACE = 10.0
# Starting and stopping things (cloud, module, QEMU) must be done within this.
LIFECYCLE_TIMEOUT = 60.0


class SuiteEndCleanup:
    """Library listener: ``close`` runs when the suite's library instance goes out of scope."""

    ROBOT_LISTENER_API_VERSION = 3

    def __init__(self, library: "LibraryContext") -> None:
        self._library = library

    def close(self) -> None:
        self._library.stop_all()


def seconds(value: timedelta | float | str) -> float:
    """A timedelta, a number or a Robot time string (``10s``, ``1 min``) in seconds."""
    if isinstance(value, timedelta):
        return value.total_seconds()
    return timestr_to_secs(value) if isinstance(value, str) else float(value)


def as_bytes(data: bytes | str, is_hex: bool) -> bytes:
    """Robot text (latin-1, so ``\\x00``-``\\xff`` escapes give those octets) or hex digits."""
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    if is_hex:
        return bytes.fromhex(data)
    return data.encode("latin-1")


def show(data: bytes) -> str:
    return repr(bytes(data))


def block_indexes(value: str | list[int] | tuple[int, ...]) -> set[int]:
    if isinstance(value, str):
        return {int(part) for part in re.split(r"[\s,]+", value) if part}
    return {int(part) for part in value}


def secret_text(value: "Secret | str") -> str:
    """The text a ``Secret`` holds (a plain string is taken as it is)."""
    return value.value if isinstance(value, Secret) else str(value)


Target = "ModuleHandle | DeviceHandle"


class LibraryContext:
    """Shared state. The keyword families (the other files) inherit it."""

    def __init__(self, at_timeout: timedelta = timedelta(seconds=10),
                 uart_timeout: timedelta = timedelta(seconds=30), profile: str = "spec") -> None:
        self.ROBOT_LIBRARY_LISTENER = SuiteEndCleanup(self)
        if profile not in PROFILES:
            raise ValueError(f"unknown module profile {profile!r}: use one of {', '.join(PROFILES)}")
        self._profile = profile                # for modules started without a profile argument
        self._at_timeout = seconds(at_timeout)
        self._uart_timeout = seconds(uart_timeout)
        self._secrets: set[str] = set()       # device secrets seen: masked in every message
        self._reset()

    def _reset(self) -> None:
        """Forget everything started (after `Stop All`)."""
        self._loop: LoopThread | None = None
        self._cloud: Cloud | None = None                      # the one Start Cloud started
        self._modules: ConnectionCache = ConnectionCache("no module: use Start Module first")
        self._devices: ConnectionCache = ConnectionCache("no MCU session: use Start MCU Session first")
        self._observers: dict[int, CloudObserver] = {}       # id(cloud) -> its paho service client
        self._images: dict[str, Any] = {}
        self._last_response: AtResponse | None = None          # deprecated "last" forms
        self._last_urc: Urc | None = None

    # ---- plumbing ---------------------------------------------------------
    def _run(self, coro: Coroutine[Any, Any, Any], timeout: float = LIFECYCLE_TIMEOUT) -> Any:
        if self._loop is None:
            self._loop = LoopThread("IcaLibrary-loop")
        return self._loop.run(coro, timeout + LOOP_GRACE)

    @staticmethod
    async def _in_loop(function, *args):
        """Call a plain function on the loop's thread (the cloud's state lives there)."""
        return function(*args)

    def _response(self, response: "AtResponse | None") -> "AtResponse":
        """The response passed, else (deprecated form) the last command's."""
        if response is not None:
            if not isinstance(response, AtResponse):
                raise AssertionError(f"not a response of Send AT: {response!r}")
            return response
        if self._last_response is None:
            raise AssertionError("no command sent yet")
        logger.warn("a response keyword without its response argument is deprecated: "
                    "pass the value Send AT returned")
        return self._last_response

    def _urc(self, urc: "Urc | None") -> "Urc":
        """The URC passed (a line's text is read as a URC), else (deprecated form) the one
        Wait For URC returned last."""
        if urc is not None:
            return urc if isinstance(urc, Urc) else Urc(Line(str(urc)))
        if self._last_urc is None:
            raise AssertionError("no URC taken yet: use Wait For URC first")
        logger.warn("a URC keyword without its urc argument is deprecated: pass the value Wait For URC returned")
        return self._last_urc

    # ---- handles ----------------------------------------------------------
    @staticmethod
    def _from_cache(cache: ConnectionCache, handle: int | str | None, what: str):
        if handle is None or handle == "":
            if not cache:
                raise AssertionError(cache.current.message if hasattr(cache.current, "message")
                                     else f"no {what}")
            return cache.current
        try:
            found = cache.get_connection(handle)
        except RuntimeError:
            raise AssertionError(f"no {what} {handle!r}: known are "
                                 f"{sorted(str(a) for a in cache._aliases) or 'none by alias'}, "
                                 f"indexes 1 to {len(cache)}") from None
        if found.stopped:
            raise AssertionError(f"{what} {found.label} was stopped")
        return found

    def _stop_handle(self, cache: ConnectionCache, handle: "Target") -> None:
        """Stop one module or MCU session; it stays in the cache (indexes do not move), stopped.
        If it was the active one, none is active until a Switch or a Start."""
        try:
            self._run(handle.stop())
        finally:
            handle.stopped = True
            if cache.current is handle:
                cache.current_index = None

    def _module_handle(self, module: int | str | None = None) -> "ModuleHandle":
        return self._from_cache(self._modules, module, "module")

    def _device_handle(self, device: int | str | None = None) -> "DeviceHandle":
        return self._from_cache(self._devices, device, "MCU session")

    def _cloud_for(self, device: int | str | None = None) -> "Cloud":
        """The named device's cloud, else Start Cloud's, else the active MCU session's."""
        if device is None and self._cloud is not None:
            return self._cloud
        if device is None and not self._devices:
            raise AssertionError("no cloud: use Start Cloud (or Start MCU Session) first")
        cloud = self._device_handle(device).cloud
        if cloud is None:
            raise AssertionError("the MCU session uses an external cloud: no cloud keywords there")
        return cloud

    def _default_target(self) -> "Target | None":
        if self._devices:
            return self._devices.current
        if self._modules:
            return self._modules.current
        return None

    # ---- secrets ----------------------------------------------------------
    def _keep_secret(self, value: "Secret | str") -> str:
        """The text of a device secret, remembered so that `_mask` hides it from now on."""
        text = secret_text(value)
        if text:
            self._secrets.add(text)
        return text

    def _mask(self, text: str) -> str:
        """``text`` with the secret of every AUTH command line and every device secret
        this library was given replaced by a mask (for messages and log lines)."""
        text = redact_line(text)
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, MASK.strip('"'))
        return text

    # ---- failures ---------------------------------------------------------
    def _failure(self, message: str, target: "Target | None" = None) -> AssertionError:
        """An AssertionError whose message ends with the trace tail of ``target`` (default:
        the active device, else the active module): AT lines both ways, console lines and
        cloud events, with their times in seconds."""
        target = target or self._default_target()
        lines = target.trace_tail() if target is not None else []
        if not lines:
            return AssertionError(self._mask(message))
        tail = "\n".join(lines)
        return AssertionError(self._mask(f"{message}\nTrace tail of {target.kind} {target.label} "
                                         f"(s since it started):\n{tail}"))

    # ---- clean-up ---------------------------------------------------------
    @keyword
    def stop_all(self) -> None:
        """Stops everything this library started: MCU sessions, cloud peers, modules, the cloud
        and the event loop; returns nothing.

        Idempotent: safe in Test Teardown and Suite Teardown alike. Every part is
        stopped even if an earlier one fails to stop. Fails afterwards, naming each
        part that failed to stop.

        Example:
        | Suite Teardown | Stop All |
        """
        if self._loop is None:
            self._reset()
            return
        errors: list[str] = []
        steps = ([(f"MCU session {i}", d, "stop") for i, d in enumerate(self._devices, 1) if not d.stopped]
                 + [("cloud peer", o, "close") for o in self._observers.values()]
                 + [(f"module {i}", m, "stop") for i, m in enumerate(self._modules, 1) if not m.stopped]
                 + [("cloud", self._cloud, "stop")])
        for what, target, method in steps:
            if target is None:
                continue
            try:
                self._loop.run(getattr(target, method)(), LIFECYCLE_TIMEOUT)
            except BaseException as error:  # keep stopping the rest
                errors.append(self._mask(f"stopping the {what}: {type(error).__name__}: {error}"))
        for index, device in enumerate(self._devices, 1):
            if device.full_trace():
                logger.info(self._mask(f"trace of MCU session {index}:\n" + "\n".join(device.full_trace())))
        loop, self._loop = self._loop, None
        try:
            loop.close(LIFECYCLE_TIMEOUT)
        except BaseException as error:
            errors.append(f"closing the event loop: {type(error).__name__}: {error}")
        self._reset()
        if errors:
            raise AssertionError("; ".join(errors))
