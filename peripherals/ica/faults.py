"""Module-side faults: what a real module does wrong or slowly, injected on purpose.

``FaultInjector`` lives on an :class:`~peripherals.ica.module.IcaModule` (``module.injector``)
across reboots. It is hooked in two places of the module, both one line: the engine
dispatches through :meth:`FaultInjector.table` (a view of the command table whose
handlers may answer ``+CME ERROR`` or ask for a delay), and the module's output goes
through :meth:`FaultInjector.send` (which holds bytes back while a delayed response
is "being worked on", keeping their order).

Rules (``add_*``) can be added and removed while the module runs; each draws from its
own seeded generator. A spontaneous reboot (:meth:`FaultInjector.reboot`) behaves as a
power cycle of a real module: every session is lost without a goodbye (no DISCONNECT,
authentication and tokens gone), nothing is read while it restarts, power-on settings
come back (echo on, CMEE 1), and once it is up again, if MQTT was connected, it reports
``+IMQTTSTATE:0`` so a TE that listens learns the session is gone (DECISIONS §14); as
for ``AT+IREBOOT``, no ready line is sent (DECISIONS §23).

The per-command response-time table (``TIMING``) is a model, not a measurement of an
ICA module (none was available): the orders of magnitude are those UART AT modules
(ESP-AT, SIMCom, Quectel) show: a few ms for local commands, tens of ms for commands that
write flash or build a network request, and a long tail.
"""

from __future__ import annotations

import asyncio
import math
import random
from dataclasses import dataclass, field
from typing import Any, Callable

from .at.catalogue import Form
from .at.errors import Cme, CmeError
from .at.events import Command
from .at.table import CommandSpec, CommandTable

# command -> (median ms, 95th percentile ms) of the time from the command's CR to its
# final result code. Anything not named uses "*". Drawn log-normally.
TIMING: dict[str, tuple[float, float]] = {
    "": (2, 5),                 # plain AT
    "E": (2, 5),
    "+CMEE": (2, 5),
    "+CGMI": (3, 8), "+CGMM": (3, 8), "+CGMR": (3, 8), "I": (3, 8),
    "+IMQTTMODE": (5, 15),
    "+IMQTTAUTH": (20, 60),     # writes the NV store before OK
    "+IMQTTPARA": (5, 15),
    "+IMQTTCONN": (15, 40),
    "+IMQTTPUB": (10, 35),
    "+IMQTTPUBIN": (10, 35),
    "+IMQTTSUB": (10, 30),
    "+IMQTTUNSUB": (10, 30),
    "+IMQTTDISCONN": (10, 30),
    "+IMQTTSTATE": (3, 8),
    "+ICOAPAUTH": (20, 60),
    "+ICOAPARA": (5, 15),
    "+ICOAPSENDREQ": (12, 40),
    "+IHTTPAUTH": (20, 60),
    "+IHTTPARA": (5, 15),
    "+IHTTPSEND": (12, 40),
    "+IOTAVER": (8, 25),
    "+IOTABLOCK": (15, 45),     # reads the image from the module's flash
    "+IOTAPGS": (8, 25),
    "+IREBOOT": (5, 10),
    "+IDEFAULT": (40, 120),     # erases the NV store before OK
    "*": (5, 20),
}
Z95 = 1.6448536269514722        # the 95th percentile of a standard normal


def draw_ms(command: str, rng: random.Random, scale: float = 1.0) -> float:
    """A response time for ``command`` (ms), from ``TIMING``."""
    median, p95 = TIMING.get(command, TIMING["*"])
    sigma = math.log(p95 / median) / Z95
    return scale * rng.lognormvariate(math.log(median), sigma)


@dataclass(eq=False)
class Rule:
    kind: str                      # "cme", "delay" or "timing"
    cmd: str = "*"                 # command name, "*" = any
    rng: random.Random = field(default_factory=random.Random)
    error: int = 100
    times: int = 0                 # 0: no limit
    rate: float = 1.0
    ms: float = 0.0
    scale: float = 1.0
    fired: int = 0

    def matches(self, command: Command, name: str) -> bool:
        if self.cmd not in ("*", name, command.name):
            return False
        if self.times and self.fired >= self.times:
            return False
        return self.rate >= 1.0 or self.rng.random() < self.rate


class FaultInjector:
    """The module's fault rules and the two hooks that apply them."""

    def __init__(self, emit: Callable[..., Any] = lambda kind, **detail: None) -> None:
        self.rules: list[Rule] = []
        self._emit = emit
        self._held_until = 0.0
        self._queue: list[bytes] = []
        self._release: asyncio.TimerHandle | None = None
        self._reboots: set[asyncio.Task] = set()

    # ---- rules -------------------------------------------------------------
    def add_cme(self, cmd: str = "*", error: int = 100, *, times: int = 1, rate: float = 1.0,
                seed: int = 0) -> Rule:
        return self._add(Rule("cme", cmd.upper(), random.Random(seed), error=error, times=times, rate=rate))

    def add_delay(self, cmd: str = "*", ms: float = 500.0, *, times: int = 0) -> Rule:
        return self._add(Rule("delay", cmd.upper(), ms=ms, times=times))

    def add_timing(self, scale: float = 1.0, *, seed: int = 0) -> Rule:
        return self._add(Rule("timing", rng=random.Random(seed), scale=scale))

    def _add(self, rule: Rule) -> Rule:
        self.rules.append(rule)
        return rule

    def remove(self, rule: Rule) -> None:
        if rule in self.rules:
            self.rules.remove(rule)

    # ---- hook 1: dispatch ----------------------------------------------------
    def table(self, table: CommandTable) -> "FaultyTable":
        return FaultyTable(table, self)

    def before(self, command: Command, name: str) -> None:
        """Called before a command runs (``name``: its catalogue name, also when an alias
        was sent): may raise the injected CmeError, may hold the output."""
        delay = 0.0
        for rule in self.rules:
            if rule.kind == "timing":
                delay += draw_ms(name, rule.rng, rule.scale) / 1000
            elif rule.kind == "delay" and rule.matches(command, name):
                rule.fired += 1
                delay += rule.ms / 1000
                self._emit("fault.module.delay", command=command.text, ms=rule.ms)
        if delay:
            loop = asyncio.get_running_loop()
            self._held_until = max(self._held_until, loop.time() + delay)
        for rule in self.rules:
            if rule.kind == "cme" and rule.matches(command, name):
                rule.fired += 1
                self._emit("fault.module.cme", command=command.text, error=rule.error)
                raise CmeError(_cme(rule.error), f"injected fault: +CME ERROR:{rule.error}")

    # ---- hook 2: output --------------------------------------------------------
    def send(self, data: bytes, out: Callable[[bytes], None]) -> None:
        """Pass ``data`` to ``out`` now, or after the held time, in order."""
        if not self._queue and (not self._held_until or asyncio.get_running_loop().time() >= self._held_until):
            out(data)
            return
        self._queue.append(data)
        if self._release is None:
            loop = asyncio.get_running_loop()
            self._release = loop.call_at(self._held_until, self._flush, out)

    def _flush(self, out: Callable[[bytes], None]) -> None:
        self._release = None
        loop = asyncio.get_running_loop()
        if loop.time() < self._held_until:      # held longer meanwhile
            self._release = loop.call_at(self._held_until, self._flush, out)
            return
        queued, self._queue = self._queue, []
        if queued:
            out(b"".join(queued))

    def reset_output(self) -> None:
        """Drop held output (the module lost power)."""
        if self._release is not None:
            self._release.cancel()
            self._release = None
        self._queue.clear()
        self._held_until = 0.0

    # ---- spontaneous reboot --------------------------------------------------
    def reboot(self, module: Any, off: float = 0.5, after: float = 0.0,
               every: float = 0.0) -> asyncio.Task:
        """Power-cycle ``module`` after ``after`` s (then every ``every`` s if > 0)."""
        async def run() -> None:
            await asyncio.sleep(after)
            while True:
                await power_cycle(module, off)
                if every <= 0:
                    return
                await asyncio.sleep(every)
        task = asyncio.get_running_loop().create_task(run())
        self._reboots.add(task)
        task.add_done_callback(self._reboots.discard)
        return task

    async def stop(self) -> None:
        for task in list(self._reboots):
            task.cancel()
        await asyncio.gather(*self._reboots, return_exceptions=True)
        self.reset_output()


class FaultyTable:
    """The command table as the engine sees it when faults are on: every handler first
    passes through :meth:`FaultInjector.before`."""

    def __init__(self, table: CommandTable, injector: FaultInjector) -> None:
        self._table, self._injector = table, injector

    def get(self, name: str) -> CommandSpec | None:
        spec = self._table.get(name)
        if spec is None or not self._injector.rules:
            return spec
        wrapped = {form.name.lower(): self._wrap(h, spec.name) for form in Form if (h := spec.handler(form))}
        return CommandSpec(spec.name, definition=spec.definition, **wrapped)

    def _wrap(self, handler, name: str):
        def run(command: Command):
            self._injector.before(command, name)
            return handler(command)
        return run

    def __getattr__(self, name: str) -> Any:    # add(), command(): the real table's
        return getattr(self._table, name)


class InjectedCme(int):
    """Any +CME ERROR number, also one the module never uses on its own."""

    @property
    def text(self) -> str:
        return Cme(self).text if self in Cme._value2member_map_ else f"error {int(self)}"


def _cme(number: int) -> Cme:
    return InjectedCme(number)  # type: ignore[return-value]


async def power_cycle(module: Any, off: float) -> None:
    """What a real module (an ``IcaModule``; not imported here: it imports this file) does
    when its power drops and comes back."""
    from .commands.mqtt import CONNECTED
    was_connected = module.mqtt.state == CONNECTED
    module.observer("module.reboot", module=module.config.name, spontaneous=True)
    module.engine.begin_reboot()
    module.injector.reset_output()
    await module._shutdown(graceful=False)
    await asyncio.sleep(off)
    module._build()
    module.observer("module.ready", module=module.config.name, spontaneous=True)
    if was_connected:
        module.ctx.urc("+IMQTTSTATE:0")
