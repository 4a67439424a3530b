"""The firmware contract: what the harness expects of a firmware (docs/firmware-contract.md).

* wiring: which USART carries AT (to the module) and which is the console (or none);
* ready: when the firmware counts as started, so the module may talk to it:
  ``console:REGEX`` (a console line matches), ``at-byte`` (the firmware sent its
  first byte on the AT UART) or ``now`` (at once);
* verdict: where the run's result comes from: ``exit`` (the semihosting exit
  code), ``console:REGEX`` (the first console line matching; its ``code`` group is
  the exit code, its ``result`` group passes when it is PASS/OK, else a match
  passes) or ``runner`` (the firmware gives none: the runner's expect/fail texts
  or scenario decide; only an emulator exit, e.g. after a fault, ends the wait).

Each field may be left unset (None): the board's ``contract`` section fills it in,
then ``DEFAULTS`` (today's demo: BOOT line, USART1 AT, USART2 console, exit code).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, fields, replace
from typing import Any, Awaitable, Callable, ClassVar, Mapping, Protocol


# What the waits below use of an emulator and a UART link (pysim.emulators.base.Emulator,
# pysim.uart.UartLink): described here, so that the board format, which reads contracts,
# does not depend on the emulators that read boards.
class _Console(Protocol):
    async def wait_for_line(self, pattern: Any, timeout: float | None = ...) -> Any: ...


class Emulator(Protocol):
    console: _Console | None
    returncode: int | None

    async def wait_exit(self, timeout: float | None = ...) -> int | None: ...


class UartLink(Protocol):
    listeners: list[Callable[..., Any]]

    def delivered(self, direction: str) -> bytes: ...

READY_KINDS = ("console:REGEX", "at-byte", "now")
VERDICT_KINDS = ("exit", "console:REGEX", "runner")
PASS_RESULTS = {"pass", "passed", "ok", "success"}


class ContractError(ValueError):
    """A contract option is malformed (one line)."""


@dataclass(frozen=True)
class _Spec:
    """``console:REGEX`` or one of the plain words ``PLAIN``."""

    PLAIN: ClassVar[tuple[str, ...]] = ()
    WHAT: ClassVar[str] = ""
    kind: str
    regex: re.Pattern[str] | None = None

    @classmethod
    def parse(cls, text: str):
        if text in cls.PLAIN:
            return cls(text)
        if text.startswith("console:"):
            return cls("console", _regex(text[len("console:"):], cls.WHAT))
        kinds = ", ".join(("console:REGEX",) + cls.PLAIN)
        raise ContractError(f"{cls.WHAT}: expected one of {kinds}, got {text!r}")

    def __str__(self) -> str:
        return f"console:{self.regex.pattern}" if self.regex else self.kind


@dataclass(frozen=True)
class Ready(_Spec):
    """When the firmware is ready: ``console`` (a line matches ``regex``), ``at-byte``, ``now``."""

    PLAIN = ("at-byte", "now")
    WHAT = "ready"


@dataclass(frozen=True)
class Verdict(_Spec):
    """Where the verdict comes from: ``exit``, ``console`` (a line matches ``regex``), ``runner``."""

    PLAIN = ("exit", "runner")
    WHAT = "verdict"

    def code_of(self, line: str) -> int | None:
        """The exit code a console line stands for, or None if it does not match."""
        assert self.regex is not None
        m = self.regex.search(line)
        if m is None:
            return None
        groups = m.groupdict()
        if groups.get("code") is not None:
            return int(groups["code"])
        if "result" in groups:
            return 0 if (groups["result"] or "").lower() in PASS_RESULTS else 1
        return 0


def _regex(pattern: str, what: str) -> re.Pattern[str]:
    if not pattern:
        raise ContractError(f"{what}: console: needs a regular expression after the colon")
    try:
        return re.compile(pattern)
    except re.error as error:
        raise ContractError(f"{what}: bad regular expression {pattern!r}: {error}") from None


@dataclass(frozen=True)
class FirmwareContract:
    at_uart: str | None = None  # e.g. "USART2"; None: the board's wiring
    console_uart: str | None = None  # e.g. "USART1" or "none"; None: the board's wiring
    ready: Ready | None = None
    verdict: Verdict | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "FirmwareContract":
        """From ``{"ready": "...", "verdict": "..."}`` (a board's ``contract`` section)."""
        unknown = sorted(set(data) - {"ready", "verdict"})
        if unknown:
            raise ContractError(f"unknown field {unknown[0]!r} (known: ready, verdict)")
        for key, value in data.items():
            if not isinstance(value, str):
                raise ContractError(f"{key}: must be a string, got {value!r}")
        return cls.of(ready=data.get("ready"), verdict=data.get("verdict"))

    @classmethod
    def of(cls, *, at_uart: str | None = None, console_uart: str | None = None, ready: str | None = None,
           verdict: str | None = None) -> "FirmwareContract":
        """From option strings (None: unset)."""
        return cls(at_uart, console_uart, Ready.parse(ready) if ready else None,
                   Verdict.parse(verdict) if verdict else None)

    def over(self, base: "FirmwareContract") -> "FirmwareContract":
        """This contract's set fields over ``base``'s."""
        return replace(base, **{f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None})

    def describe(self) -> str:
        return (f"AT on {self.at_uart or 'the board default'}, console {self.console_uart or 'the board default'}, "
                f"ready {self.ready}, verdict {self.verdict}")


DEFAULT_READY = r"^BOOT "
DEFAULTS = FirmwareContract(ready=Ready("console", re.compile(DEFAULT_READY)), verdict=Verdict("exit"))


def effective(run: FirmwareContract | None, board_contract: FirmwareContract) -> FirmwareContract:
    """The contract of one run: the run's options over the board's over ``DEFAULTS``."""
    return (run or FirmwareContract()).over(board_contract.over(DEFAULTS))


async def wait_ready(contract: FirmwareContract, emulator: "Emulator", link: "UartLink",
                     start_link: Callable[[], Awaitable[None]], timeout: float | None) -> None:
    """Wait until the firmware is ready, starting the UART link at the right moment:
    after the ready line (console), before the first byte (at-byte), or at once."""
    ready = contract.ready or DEFAULTS.ready
    assert ready is not None
    if ready.kind == "console":
        if emulator.console is None:
            raise ContractError(f"ready: {ready} needs a console, but this run has none "
                                "(use --ready at-byte or --ready now)")
        await emulator.console.wait_for_line(ready.regex, timeout=timeout)
        await start_link()
        return
    await start_link()
    if ready.kind == "at-byte":
        await _until_exit_or(emulator, _first_at_byte(link, timeout), "the first byte on the AT UART")


async def _first_at_byte(link: "UartLink", timeout: float | None) -> None:
    from pysim.uart import TE_TO_TA
    if link.delivered(TE_TO_TA):
        return
    seen = asyncio.get_running_loop().create_future()

    def listener(record: Any) -> None:
        if record.direction == TE_TO_TA and not seen.done():
            seen.set_result(None)

    link.listeners.append(listener)
    try:
        await asyncio.wait_for(seen, timeout)
    except asyncio.TimeoutError:
        raise TimeoutError(f"no byte from the firmware on the AT UART within {timeout} s") from None
    finally:
        link.listeners.remove(listener)


async def wait_verdict(contract: FirmwareContract, emulator: "Emulator", timeout: float | None) -> int | None:
    """The firmware's exit code by the contract's verdict, or None after ``timeout``.
    An emulator that ends (e.g. a fault's exit) gives its exit code in every mode."""
    verdict = contract.verdict or DEFAULTS.verdict
    assert verdict is not None
    if verdict.kind in ("exit", "runner"):
        return await emulator.wait_exit(timeout)
    if emulator.console is None:
        raise ContractError(f"verdict: {verdict} needs a console, but this run has none")
    line = asyncio.ensure_future(emulator.console.wait_for_line(lambda text: verdict.code_of(text) is not None,
                                                                  timeout=None))
    exited = asyncio.ensure_future(emulator.wait_exit(None))
    try:
        done, _ = await asyncio.wait({line, exited}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (line, exited):
            task.cancel()
        await asyncio.gather(line, exited, return_exceptions=True)
    if line in done and not line.cancelled() and line.exception() is None:
        return verdict.code_of(line.result())
    if exited in done and not exited.cancelled():
        return exited.result()
    return None


async def _until_exit_or(emulator: "Emulator", awaitable: Awaitable[Any], what: str) -> None:
    task = asyncio.ensure_future(awaitable)
    exited = asyncio.ensure_future(emulator.wait_exit(None))
    try:
        await asyncio.wait({task, exited}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        exited.cancel()
    if task.done():
        task.result()
        return
    task.cancel()
    raise ConnectionError(f"the firmware exited with code {emulator.returncode} before {what}")
