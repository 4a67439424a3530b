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
    def inject_fault(self, spec: str, module: int | str | None = None, device: int | str | None = None) -> str:
        """Applies a fault now and returns it with every parameter spelled out (defaults filled in).

        ``spec`` is ``LINK.KIND[:param=value,...]`` (docs/faults.md lists every kind).
        Module faults work on a `Start Module` module and on an MCU session; UART faults
        on an MCU session; network faults on an MCU session that has the fault proxy
        (started with a ``net.*`` fault). The fault stays until `Clear Faults`.

        Fails, naming what is wrong, for a spec that does not parse or a fault the
        target cannot take (a UART fault on a module alone, a network fault without the proxy).

        Example:
        | ${fault}= | Inject Fault | module.cme:cmd=+IMQTTPUB,error=30,times=1 |
        | Inject Fault | uart.stall:for=1.5 | device=second |
        """
        controller = self._fault_controller(module, device)
        try:
            handle = self._run(self._in_loop(controller.apply, spec))
        except (FaultError, FaultSpecError) as error:
            raise self._failure(str(error)) from None
        params = ",".join(f"{k}={v}" for k, v in handle.spec.params.items() if v is not None)
        return f"{handle.spec.kind}:{params}"

    @keyword("Clear Faults")
    def clear_faults(self, module: int | str | None = None, device: int | str | None = None) -> int:
        """Takes every injected fault off the module or MCU session and returns how many were on.

        Fails when there is no module or MCU session to take faults off.

        Example:
        | ${n}= | Clear Faults |
        | Should Be Equal As Integers | ${n} | 1 |
        """
        return self._run(self._in_loop(self._fault_controller(module, device).clear))
