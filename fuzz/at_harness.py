"""The AT engine harness: feed any bytes to a fresh offline module and check the invariants.

Invariants (issue 10), checked after every complete line and at the end of the input:

* **one final result code per complete line**: a CR-terminated line that the V.250
  rules make a command line (AT prefix after editing, or an overlong line) gets exactly
  one ``OK`` / ``ERROR`` / ``+CME ERROR:<n>``; any other line gets none. A data entry
  gets its prompt and then exactly one final result when it ends (complete, ``+++``,
  or cut short when the input ends: :meth:`IcaModule.reset_input`).
* **nothing hangs**: each input is processed within ``TIME_LIMIT`` seconds.
* **memory bounded**: the line buffer, the data-entry buffer, the URC queue and the
  module's background tasks stay under fixed limits.
* **state consistent**: after the input, the engine is in command mode, not busy,
  with no data entry, an empty line and no queued URC.

The module has no cloud (network commands fail fast into their URCs); echo is forced
off before every line so that echoed bytes cannot look like result codes;
``AT+IREBOOT`` reboots at once (``reboot_seconds=0``). A module serves up to
``REUSE`` inputs (each starts with its input reset and CMEE=1), so state left by one
input (PARA values, log level, stored credentials) is part of what the next one meets;
a failure report names the input, and ``fresh=True`` replays it on a new module.
CoAP is primed as authenticated (a token, no server), so the binary sends reach their
data entry offline and the engine's data modes are fuzzed too.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from peripherals.ica import IcaModule, ModuleConfig
from peripherals.ica.at.catalogue import MAX_PAYLOAD
from peripherals.ica.at.engine import MAX_LINE, Mode
from peripherals.ica.devauth import DeviceCredentials

TIME_LIMIT = 5.0
REUSE = 256
MAX_URCS = 64
MAX_TASKS = 64
DATA_MODES = (Mode.DATA, Mode.DATA_PLUS)
CR = 0x0D


class InvariantBroken(AssertionError):
    """An invariant of the AT engine does not hold for an input."""


@dataclass
class Counts:
    inputs: int = 0
    lines: int = 0          # complete lines fed
    commands: int = 0       # of which command lines (one final result code each)
    data_entries: int = 0


def count_finals(out: bytes) -> int:
    """Final result codes in module output (echo off): lines OK, ERROR, +CME ERROR:<n>."""
    return sum(1 for line in out.split(b"\r\n")
               if line in (b"OK", b"ERROR") or line.startswith(b"+CME ERROR:"))


def is_command_line(line: bytes, max_line: int = MAX_LINE) -> bool:
    """Whether a CR-terminated line is a command line by the V.250 editing rules the
    engine follows (LF ignored, backspace edits, overflow past ``max_line``)."""
    buf = bytearray()
    overflow = False
    for b in line[:-1]:
        if b == 0x0A:
            continue
        if b == 0x08:
            if buf:
                buf.pop()
            continue
        if len(buf) >= max_line:
            overflow = True
            continue
        buf.append(b)
    if overflow:
        return True
    stripped = bytes(buf).lstrip(b" \t\x00")
    return stripped[:2] in (b"AT", b"at")


def _prime(module: IcaModule) -> None:
    """CoAP authenticated without a server: its binary sends open a data entry offline."""
    module.coap.auth.credentials = DeviceCredentials("pk", "dn", "fuzz-secret")
    module.coap.token = "fuzz-token"


class AtHarness:
    """Runs inputs against fresh offline modules on one private event loop."""

    def __init__(self, *, fresh: bool = False) -> None:
        self.loop = asyncio.new_event_loop()
        self.counts = Counts()
        self.fresh = fresh
        self.module: IcaModule | None = None
        self._served = 0

    def close(self) -> None:
        if self.module is not None:
            self.loop.run_until_complete(self.module.stop())
        self.loop.close()

    def run(self, data: bytes, cuts: bytes = b"") -> None:
        """Check ``data`` (fed in pieces whose sizes come from ``cuts``); raises InvariantBroken."""
        self.counts.inputs += 1
        try:
            self.loop.run_until_complete(asyncio.wait_for(self._run(data, cuts), TIME_LIMIT))
        except asyncio.TimeoutError:
            raise InvariantBroken(f"input not processed within {TIME_LIMIT} s: {data[:80]!r}") from None

    async def _module(self) -> IcaModule:
        if self.module is not None and (self.fresh or self._served >= REUSE):
            await self.module.stop()
            self.module = None
        if self.module is None:
            self.module = IcaModule(ModuleConfig(echo=False, reboot_seconds=0.0))
            self._served = 0
        self._served += 1
        _prime(self.module)
        self.module.reset_input()
        self.module.engine.cmee = 1
        return self.module

    async def _run(self, data: bytes, cuts: bytes) -> None:
        out = bytearray()
        module = await self._module()
        module.on_output = out.extend
        sizes = [1 + c % 64 for c in cuts] or [len(data) or 1]
        piece = 0

        def feed(chunk: bytes) -> bytes:
            nonlocal piece
            start = len(out)
            i = 0
            while i < len(chunk):
                size = sizes[piece % len(sizes)]
                piece += 1
                module.engine.echo = False
                module.feed(chunk[i:i + size])
                i += size
            return bytes(out[start:])

        try:
            i, n = 0, len(data)
            while i < n:
                engine = module.engine
                if engine.mode is Mode.REBOOTING:
                    await self._settle(module)
                    continue
                if engine.mode in DATA_MODES:
                    finals = count_finals(feed(data[i:i + 1]))
                    i += 1
                    ended = module.engine.mode not in DATA_MODES
                    self._expect(finals == (1 if ended else 0), "data entry", data[i - 1:i], finals)
                    continue
                end = data.find(b"\r", i)
                if end < 0:
                    self._expect(count_finals(feed(data[i:])) == 0, "half line", data[i:], None)
                    break
                line = data[i:end + 1]
                i = end + 1
                self.counts.lines += 1
                command = is_command_line(line, engine.max_line)
                self.counts.commands += command
                finals = count_finals(feed(line))
                after = module.engine.mode
                if after is Mode.DATA_PLUS:          # prompt ">": the final comes later
                    self.counts.data_entries += 1
                    self._expect(command and finals == 0, "data entry (+++) start", line, finals)
                elif after is Mode.DATA:             # prompt OK, then the bytes, then the final
                    self.counts.data_entries += 1
                    self._expect(command and finals == 1, "data entry start", line, finals)
                else:
                    self._expect(finals == (1 if command else 0), "line", line, finals)
                if module.ctx._tasks:
                    await asyncio.sleep(0)           # let the commands' background work run
                self._check_bounds(module)
            if module.engine.mode in DATA_MODES:     # the input ended inside a data entry
                finals = count_finals(feed(b"") + self._reset(module, out))
                self._expect(finals == 1, "data entry cut at the end", b"", finals)
            elif module.engine.mode is Mode.REBOOTING:
                await self._settle(module)
            else:
                self._reset(module, out)
            self._check_bounds(module)
            engine = module.engine
            self._expect(engine.mode is Mode.COMMAND and not engine._busy and engine._entry is None
                         and not engine._line and not engine._urcs, "final state", data[-80:],
                         (engine.mode, engine._busy, engine._entry, bytes(engine._line), len(engine._urcs)))
        except BaseException:
            await module.stop()                      # a broken module is not reused
            self.module = None
            raise

    @staticmethod
    def _reset(module: IcaModule, out: bytearray) -> bytes:
        start = len(out)
        module.reset_input()
        return bytes(out[start:])

    @staticmethod
    async def _settle(module: IcaModule) -> None:
        """Wait for a reboot (reboot_seconds=0) to end; the bytes meanwhile are dropped."""
        life = module._life
        if life is not None:
            await life
        _prime(module)

    @staticmethod
    def _check_bounds(module: IcaModule) -> None:
        engine = module.engine
        problems = []
        if len(engine._line) > engine.max_line:
            problems.append(f"line buffer {len(engine._line)}")
        if len(engine._data) > MAX_PAYLOAD + 2:
            problems.append(f"data buffer {len(engine._data)}")
        if len(engine._urcs) > MAX_URCS:
            problems.append(f"{len(engine._urcs)} URCs queued")
        if len(module.ctx._tasks) > MAX_TASKS:
            problems.append(f"{len(module.ctx._tasks)} background tasks")
        if problems:
            raise InvariantBroken("memory bound: " + ", ".join(problems))

    @staticmethod
    def _expect(ok: bool, what: str, line: bytes, finals: object) -> None:
        if not ok:
            raise InvariantBroken(f"{what}: {line[:120]!r} -> final result codes {finals}")
