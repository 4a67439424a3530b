"""Fault keywords: inject a fault on any link, in the one spec format of docs/faults.md."""

from __future__ import annotations

from robot.api.deco import keyword

from pysim.faults import FaultController, FaultError, FaultSpecError

from .context import LibraryContext


class FaultKeywords(LibraryContext):

    def _fault_controller(self, module: int | str | None, device: int | str | None) -> FaultController:
        """A named module wins, then a named device, then the active MCU session, then the active module."""
        if module is None and (device is not None or self._devices):
            controller = self._device_handle(device).session.faults
            if controller is None:
                raise AssertionError("the MCU session has not started")
            return controller
        handle = self._module_handle(module)
        if getattr(handle, "faults", None) is None:
            handle.faults = FaultController(module=handle.module, events=handle.events)
        return handle.faults

    @keyword("Inject Fault")
    def inject_fault(self, spec: str, module: int | str | None = None, device: int | str | None = None) -> None:
        """Applies a fault now: ``LINK.KIND[:param=value,...]`` (docs/faults.md lists every kind).

        Module faults work on a `Start Module` module and on an MCU session; UART faults
        on an MCU session; network faults on an MCU session that has the fault proxy
        (started with a ``net.*`` fault). The fault stays until `Clear Faults`.

        Example:
        | Inject Fault | module.cme:cmd=+IMQTTPUB,error=30,times=1 |
        | Inject Fault | uart.stall:for=1.5 | device=second |
        """
        controller = self._fault_controller(module, device)
        try:
            self._run(self._in_loop(controller.apply, spec))
        except (FaultError, FaultSpecError) as error:
            raise self._failure(str(error)) from None

    @keyword("Clear Faults")
    def clear_faults(self, module: int | str | None = None, device: int | str | None = None) -> int:
        """Takes every injected fault off the module or MCU session; returns how many were on."""
        return self._run(self._in_loop(self._fault_controller(module, device).clear))
