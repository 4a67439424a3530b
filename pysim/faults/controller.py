"""Applies fault specs to a running system and takes them off again.

    controller = FaultController(module=module, link=link, proxy=proxy, seed=1)
    handle = controller.apply("net.latency:ms=200")   # a spec string or a FaultSpec
    controller.remove(handle); controller.clear()

Each kind goes to the part that carries it: ``net.*`` to the fault proxy, ``module.*``
to the module's :class:`~peripherals.ica.faults.FaultInjector`, ``uart.*`` to the UART
link's :class:`~pysim.uart.ByteFaults` (one per direction). Every application is an
event (``fault.on`` / ``fault.off``) in the run's log and trace.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from pysim.events import EventLog
from pysim.uart import TA_TO_TE, TE_TO_TA, ByteFaults, UartLink

from .spec import FaultSpec, fault_seed, parse_fault

if TYPE_CHECKING:
    from peripherals.ica import IcaModule

    from .proxy import FaultProxy

UART_DIRECTIONS = {"te2ta": (TE_TO_TA,), "ta2te": (TA_TO_TE,), "both": (TE_TO_TA, TA_TO_TE)}


class FaultError(ValueError):
    """A fault that cannot be applied here (one line: what and why)."""


@dataclass(eq=False)
class FaultHandle:
    spec: FaultSpec
    undo: Callable[[], None]
    target: object = None          # the rule/task/ByteFaults it made, for inspection


class FaultController:
    def __init__(self, *, module: "IcaModule | None" = None, link: UartLink | None = None,
                 proxy: "FaultProxy | None" = None, events: EventLog | None = None, seed: int = 0) -> None:
        self.module, self.link, self.proxy = module, link, proxy
        self.events = events if events is not None else EventLog()
        self.seed = seed
        self.active: list[FaultHandle] = []
        self._applied = 0

    def apply(self, spec: FaultSpec | str) -> FaultHandle:
        spec = parse_fault(spec) if isinstance(spec, str) else spec
        seed = fault_seed(spec, self.seed, self._applied)
        self._applied += 1
        handle = {"net": self._net, "module": self._module, "uart": self._uart}[spec.link](spec, seed)
        self.active.append(handle)
        self.events.emit("fault.on", None, fault=str(spec))
        return handle

    def remove(self, handle: FaultHandle) -> None:
        if handle in self.active:
            self.active.remove(handle)
            handle.undo()
            self.events.emit("fault.off", None, fault=str(handle.spec))

    def clear(self, kind: str | None = None) -> int:
        """Remove every active fault (of ``kind`` if given); returns how many."""
        gone = [h for h in self.active if kind is None or h.spec.kind == kind]
        for handle in gone:
            self.remove(handle)
        return len(gone)

    # ---- per link --------------------------------------------------------------
    def _net(self, spec: FaultSpec, seed: int) -> FaultHandle:
        if self.proxy is None:
            raise FaultError(f"{spec}: network faults need the fault proxy between module and cloud "
                             "(give a net.* fault at start, or start with fault_proxy=True)")
        rule = self.proxy.add(spec, seed)
        return FaultHandle(spec, lambda: self.proxy.remove(rule), rule)

    def _module(self, spec: FaultSpec, seed: int) -> FaultHandle:
        module = self.module
        if module is None:
            raise FaultError(f"{spec}: no module to inject into")
        injector, p = module.injector, spec.params
        if spec.kind == "module.reboot":
            task = injector.reboot(module, off=p["off"], after=p["after"], every=p["every"])
            return FaultHandle(spec, task.cancel, task)
        if spec.kind == "module.cme":
            rule = injector.add_cme(p["cmd"], p["error"], times=p["times"], rate=p["rate"], seed=seed)
        elif spec.kind == "module.delay":
            rule = injector.add_delay(p["cmd"], p["ms"], times=p["times"])
        else:
            rule = injector.add_timing(p["scale"], seed=seed)
        return FaultHandle(spec, lambda: injector.remove(rule), rule)

    def _uart(self, spec: FaultSpec, seed: int) -> FaultHandle:
        link = self.link
        if link is None:
            raise FaultError(f"{spec}: no UART link (the session has not started its firmware)")
        p = spec.params
        hooks = []
        for i, direction in enumerate(UART_DIRECTIONS[p["dir"]]):
            hook = link.faults.get(direction)
            if not isinstance(hook, ByteFaults):
                hook = link.faults[direction] = ByteFaults(seed + i)
            hooks.append((direction, hook))
        attr = {"uart.drop": ("drop",), "uart.corrupt": ("flip",), "uart.dup": ("dup",),
                "uart.delay": ("delay", "delay_ms")}.get(spec.kind)
        if attr is not None:
            values = (p["rate"],) if len(attr) == 1 else (p["rate"], p["ms"])
            for _, hook in hooks:
                for name, value in zip(attr, values):
                    setattr(hook, name, value)

            def undo() -> None:
                for _, hook in hooks:
                    for name in attr:
                        setattr(hook, name, 0.0)
            return FaultHandle(spec, undo, hooks)
        if spec.kind == "uart.stall":
            for _, hook in hooks:
                hook.stall(p["after"], p["for"])

            def unstall() -> None:
                for _, hook in hooks:
                    hook.stalled = None
            return FaultHandle(spec, unstall, hooks)
        # uart.break: the line held low reads as NUL bytes at the receiver
        async def brk() -> None:
            await asyncio.sleep(p["after"])
            for direction, _ in hooks:
                await link.inject(direction, b"\x00" * max(1, p["bytes"]))
            self.events.emit("fault.uart.break", None, bytes=p["bytes"], dir=p["dir"])
        task = asyncio.ensure_future(brk())
        return FaultHandle(spec, task.cancel, task)
