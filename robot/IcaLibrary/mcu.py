"""MCU keywords: firmware in an emulator against its own cloud and module (an MCU
session), addressed by handle; its console and its exit code."""

from __future__ import annotations

from datetime import timedelta

from robot.api import logger
from robot.api.deco import keyword
from robot.api.types import Secret

from peripherals.ica import Faults

from .context import LIFECYCLE_TIMEOUT, LibraryContext, ProfileName, block_indexes, seconds, secret_text
from .handles import DeviceHandle
from .lines import UART_NAMES, FailingLineSeen, Matcher


class McuKeywords(LibraryContext):

    @keyword("Start MCU Session")
    def start_mcu_session(self, firmware: str | None = None, corrupt_ota_blocks: str | list[int] = "",
                          emulator: str | None = None, baud: int | None = None, trace: bool = False,
                          boot_timeout: timedelta = timedelta(seconds=20), alias: str | None = None,
                          board: str | None = None, identity: Secret | str | None = None,
                          gdb_port: int | None = None, gdb_wait: bool = False,
                          profile: ProfileName | None = None) -> int:
        """Starts a cloud, a module and the firmware in an emulator, wired by a UART link; returns
        the session's handle (an index from 1) and makes it the active device.

        Returns once the firmware's console shows its ``BOOT`` line. The device
        ``identity`` is registered in the session's cloud.

        - ``firmware``: an ELF; default ``firmware/build/demo.elf`` (``make -C firmware``).
        - ``corrupt_ota_blocks``: module fault, as in `Start Module`.
        - ``emulator``: ``qemu`` (default) or ``renode``.
        - ``baud``: pace the UART at this rate; default as fast as it goes.
        - ``trace``: keep the whole readable trace and log it at `Stop All` (the tail is
          always kept for failure messages).
        - ``alias``: a name for the handle, usable wherever a keyword takes ``device``.
        - ``board``: a board name or description file (docs/boards.md); default ``netduinoplus2``.
        - ``identity``: ``PK:DN:SECRET``, the device the cloud knows (the credentials your
          firmware uses); default the demo firmware's ``a1demoPK:demo-device-01:demo-secret-01``.
          Best a Robot ``Secret`` (see `Secrets`): as a plain string Robot writes it to
          output.xml and log.html. The secret is masked in the trace and in every message.
        - ``profile``: the module's ``spec``, ``sdk2`` or ``sdk3`` behaviour (see `Module
          profiles`), for a firmware built on such a client; default the library's
          ``profile`` import argument (``spec``).
        - ``gdb_port``: serve GDB on 127.0.0.1:``gdb_port``; ``gdb_wait``: hold the CPU until
          GDB continues it (the keyword then waits for the debugger; docs/debugging.md).

        Several sessions may run at once, each with its own cloud and module (see
        `Devices and modules`).

        Fails if the alias is taken, ``identity`` is not ``PK:DN:SECRET``, the firmware,
        board or emulator is missing, or the firmware does not boot within ``boot_timeout``.

        Example:
        | ${dev}= | Start MCU Session | corrupt_ota_blocks=1 |
        | Start MCU Session | alias=second | firmware=${ELF} | identity=${IDENTITY} |
        """
        if alias and alias in self._devices._aliases:
            raise AssertionError(f"an MCU session with alias {alias!r} already runs")
        boot = seconds(boot_timeout)
        parts = tuple(secret_text(identity).split(":", 2)) if identity else None
        if parts is not None and (len(parts) != 3 or not all(parts)):
            shown = ":".join(parts[:2]) + (":..." if len(parts) > 2 else "")   # never the secret
            raise AssertionError(f"identity must be PK:DN:SECRET, got {shown!r}")
        if parts is not None:
            self._keep_secret(parts[2])
        debug = {"gdb_port": int(gdb_port) if gdb_port else None, "gdb_wait": bool(gdb_wait)}
        try:
            handle = self._run(DeviceHandle.start(
                trace, firmware=firmware, emulator=emulator, baud=baud, boot_timeout=boot,
                board=board, identity=parts, profile=profile or self._profile, **debug,
                faults=Faults(corrupt_ota_blocks=block_indexes(corrupt_ota_blocks))),
                (24 * 3600.0 if gdb_wait else boot) + LIFECYCLE_TIMEOUT)
        except (OSError, RuntimeError, TimeoutError, ValueError) as error:   # no ELF/board/emulator, no boot
            raise AssertionError(self._mask(f"the MCU session did not start: {type(error).__name__}: {error}")) from None
        index = self._devices.register(handle, alias)
        handle.label = alias or str(index)
        logger.info(self._mask(f"MCU session {handle.label} booted: {handle.console_lines.tail(1)}"))
        return index

    @keyword
    def switch_device(self, device: int | str) -> int | None:
        """Makes the MCU session ``device`` (index or alias) the active one; returns the index of
        the session active before (None if there was none).

        Fails if there is no such session.

        Example:
        | ${previous}= | Switch Device | second |
        | Wait For Line On Uart | STEP mqtt_connect ok |
        | Switch Device | ${previous} |
        """
        previous = self._devices.current_index
        self._devices.switch(self._device_handle(device))
        return previous

    @keyword("Stop MCU Session")
    def stop_mcu_session(self, device: int | str | None = None) -> None:
        """Stops an MCU session (the emulator, its module and its cloud); returns nothing.

        ``device`` is a handle; default the active session. The handle stays known but
        stopped; if it was the active one, no session is active until `Switch Device`
        or `Start MCU Session`.

        Fails if there is no such session, it was stopped already, or it fails to stop.

        Example:
        | Stop MCU Session | left |
        """
        self._stop_handle(self._devices, self._device_handle(device))

    @keyword
    def console_should_show(self, regex: str, timeout: timedelta = timedelta(seconds=30),
                            device: int | str | None = None) -> str:
        """Waits for a firmware console line matching ``regex`` (searched) and returns the line.

        Unlike `Wait For Line On Uart`, every line since boot counts, in any order.
        Failing strings registered for the console (`Register Failing Uart String`) end
        the wait at once.

        Fails if no line matches within ``timeout``, the console ends first (the
        firmware exited) or a failing string is seen; the message ends with the trace tail.

        Example:
        | Console Should Show | ^STEP mqtt_connect ok |
        """
        handle = self._device_handle(device)
        log, directions = handle.console_lines, UART_NAMES["console"][1]
        wait = seconds(timeout)
        try:
            found = self._run(log.wait(Matcher(regex, regex=True), directions, wait), wait)
        except FailingLineSeen as error:
            raise self._failure(str(error), handle) from None
        if found is None:
            why = "the console ended (the firmware exited)" if log.closed else f"within {wait:g} s"
            raise self._failure(f"no console line matching {regex!r} {why}", handle)
        return self._mask(found[1].line)

    @keyword("MCU Should Exit With")
    def mcu_should_exit_with(self, code: int, timeout: timedelta = timedelta(seconds=60),
                             device: int | str | None = None) -> int:
        """Waits for the firmware to exit (semihosting) and checks its exit code; returns the code.

        Fails if the firmware still runs after ``timeout`` or exits with another code; the
        message ends with the trace tail.

        Example:
        | ${code}= | MCU Should Exit With | 0 | timeout=60s |
        """
        handle = self._device_handle(device)
        wait = seconds(timeout)
        actual = self._run(handle.wait_exit(wait), wait)
        if actual is None:
            raise self._failure(f"the firmware still runs after {wait:g} s", handle)
        if actual != code:
            raise self._failure(f"the firmware exited with {actual}, expected {code}", handle)
        return actual
