"""Module keywords: start ICA module models with the suite as their TE, address them by
handle, check their state."""

from __future__ import annotations

from robot.api import logger
from robot.api.deco import keyword

from peripherals.ica import Faults, ModuleConfig
from peripherals.ica.commands.mqtt import CONNECTED

from .context import LibraryContext, ProfileName, block_indexes
from .handles import ModuleHandle


class ModuleKeywords(LibraryContext):

    @keyword
    def start_module(self, echo: bool = True, urc_ok: bool = True, corrupt_ota_blocks: str | list[int] = "",
                     rx_format: str = "auto", alias: str | None = None,
                     profile: ProfileName | None = None) -> int:
        """Starts an ICA module model pointed at the cloud, with the suite as its TE; returns its
        handle (an index from 1) and makes it the active module.

        - ``echo``: the ATE default at start-up (the module echoes command lines).
        - ``urc_ok``: receive URCs are followed by ``OK``.
        - ``corrupt_ota_blocks``: fault injection, indexes (from 0) of OTA blocks whose
          bytes are corrupted the first time they are sent, e.g. ``1`` or ``1,3``; the
          ``+IOTABLOCK`` CRC stays that of the true block.
        - ``rx_format``: ``auto``, ``text`` or ``binary``: how received payloads are reported.
        - ``alias``: a name for the handle, usable wherever a keyword takes ``module``.
        - ``profile``: ``spec``, ``sdk2`` or ``sdk3`` (see `Module profiles`); default the
          library's ``profile`` import argument (``spec``). ``echo`` applies on top: under
          ``sdk2`` and ``sdk3`` the echo is off at power-on whatever ``echo`` says.

        The module uses the cloud `Start Cloud` started, else the active MCU session's.
        Several modules may run at once (see `Devices and modules`).

        Fails if there is no cloud or the alias is taken.

        Example:
        | ${first}= | Start Module | echo=False |
        | Start Module | alias=second |
        | Start Module | alias=sdk3-client | profile=sdk3 |
        """
        if alias and alias in self._modules._aliases:
            raise AssertionError(f"a module with alias {alias!r} already runs")
        cloud = self._cloud_for()
        config = ModuleConfig(echo=echo, urc_ok=urc_ok, rx_format=rx_format, profile=profile or self._profile,
                              faults=Faults(corrupt_ota_blocks=block_indexes(corrupt_ota_blocks)))
        config.use_cloud(cloud.addresses)
        handle = self._run(ModuleHandle.start(cloud, config))
        index = self._modules.register(handle, alias)
        handle.label = alias or str(index)
        logger.info(f"module {handle.label} ({config.profile} profile) started against {cloud.addresses['mqtt']}")
        return index

    @keyword
    def switch_module(self, module: int | str) -> int | None:
        """Makes the module ``module`` (index or alias) the active one; returns the index of the
        module active before (None if there was none).

        Fails if there is no such module.

        Example:
        | ${previous}= | Switch Module | second |
        | Send AT | AT |
        | Switch Module | ${previous} |
        """
        previous = self._modules.current_index
        handle = self._module_handle(module)
        self._modules.switch(handle)
        return previous

    @keyword
    def stop_module(self, module: int | str | None = None) -> None:
        """Stops a module started by `Start Module` (its MQTT, CoAP and HTTP clients and tasks);
        returns nothing.

        ``module`` is a handle; default the active module. The handle stays known but
        stopped; if it was the active one, no module is active until `Switch Module`
        or `Start Module`.

        Fails if there is no such module, it was stopped already, or it fails to stop.

        Example:
        | Stop Module | alpha |
        | Switch Module | beta |
        """
        self._stop_handle(self._modules, self._module_handle(module))

    @keyword
    def module_should_be_connected(self, module: int | str | None = None,
                                   device: int | str | None = None) -> None:
        """Checks that a module's MQTT connection to the cloud is up (state 2); returns nothing.

        The module is ``module`` (a `Start Module` handle), else the module of ``device``
        (an MCU session), else the active module, else the active MCU session's.

        Fails if the state is not 2 (connected), with the state and the trace tail.

        Example:
        | Module Should Be Connected | module=second |
        | Module Should Be Connected | device=left |
        """
        if module is None and (device is not None or not self._modules):
            target = self._device_handle(device)
        else:
            target = self._module_handle(module)
        state = target.module.mqtt.state
        if state != CONNECTED:
            raise self._failure(f"the module's MQTT state is {state}, not {CONNECTED} (connected)", target)
