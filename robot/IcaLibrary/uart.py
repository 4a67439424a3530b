"""UART keywords in Renode's style, on the firmware console and on the AT UART: wait for
a line (in order), write a line, check a line does NOT come within a window, and
register failing strings that end any later wait at once."""

from __future__ import annotations

import dataclasses
import time
from datetime import timedelta

from robot.api import logger
from robot.api.deco import keyword

from pysim.trace import CONSOLE
from pysim.uart import TE_TO_TA

from .context import LibraryContext, seconds
from .handles import DeviceHandle, ModuleHandle
from .lines import UART_NAMES, FailingLineSeen, LineLog, Matcher, UartMatch


class UartKeywords(LibraryContext):

    def _uart(self, uart: str | None, device: int | str | None, module: int | str | None
              ) -> tuple[ModuleHandle | DeviceHandle, LineLog, frozenset[str], str]:
        """The handle, line log, directions and UART name a UART keyword acts on."""
        if uart is not None and uart not in UART_NAMES:
            raise AssertionError(f"no UART {uart!r}: use one of {', '.join(UART_NAMES)}")
        if module is not None:
            handle = self._module_handle(module)
        elif device is not None or uart == "console" or self._devices:
            handle = self._device_handle(device)
        else:
            handle = self._module_handle(None)
        name = uart or ("at" if handle.kind == "module" else "console")
        log_name, directions = UART_NAMES[name]
        log = handle.console_lines if log_name == "console" else handle.at_lines
        if log is None:
            raise AssertionError("a module started with Start Module has no console: use uart=at")
        return handle, log, directions, name

    def _scan(self, content: str, timeout: timedelta | None, regex: bool, uart: str | None,
              device: int | str | None, module: int | str | None):
        """Look for a matching line from the UART's read position on, for ``timeout`` (default
        the UART timeout); fails at once on a failing string."""
        handle, log, directions, name = self._uart(uart, device, module)
        matcher = Matcher(content, regex)
        wait = self._uart_timeout if timeout is None else seconds(timeout)
        try:
            found = self._run(log.wait(matcher, directions, wait, log.positions.get(name, 0)), wait)
        except FailingLineSeen as error:
            raise self._failure(f"looking for {matcher} on {name}: {error}", handle) from None
        if found is not None:    # a device secret a firmware prints is masked as in messages
            index, match = found
            found = index, dataclasses.replace(match, line=self._mask(match.line),
                                               groups=[self._mask(group) for group in match.groups])
        return handle, log, name, matcher, wait, found

    @keyword
    def set_default_uart_timeout(self, timeout: timedelta) -> str:
        """Sets the default timeout of `Wait For Line On Uart` and the default window of
        `Should Not Be On Uart`; returns the old value as a time string.

        Fails if ``timeout`` is not a time (``10s``, ``1 min``, a number of seconds).

        Example:
        | ${old}= | Set Default Uart Timeout | 5s |
        | Set Default Uart Timeout | ${old} |
        """
        old, self._uart_timeout = self._uart_timeout, seconds(timeout)
        return f"{old:g} s"

    @keyword
    def wait_for_line_on_uart(self, content: str, timeout: timedelta | None = None, regex: bool = False,
                              uart: str | None = None, device: int | str | None = None,
                              module: int | str | None = None) -> UartMatch:
        """Waits for the next line on a UART that contains ``content`` (or, with ``regex``,
        matches it: searched); returns the match, with ``.line``, ``.groups`` (the regex
        groups), ``.timestamp`` (seconds since the device or module started) and
        ``.direction``.

        Lines are read in order (see `UARTs`): the wait starts after the line the
        previous wait on the same UART matched. ``uart`` is ``console``, ``at``,
        ``at-te`` or ``at-ta``; ``timeout`` defaults to the UART timeout (`Timeouts`).

        Fails if no such line comes within ``timeout``, the console ends first, or a line
        matching a failing string (`Register Failing Uart String`) comes first; the
        message ends with the trace tail.

        Example:
        | Wait For Line On Uart | STEP mqtt_connect ok |
        | ${m}= | Wait For Line On Uart | ^BOOT \\\\S+ fw=(\\\\S+)$ | regex=True |
        | Should Be Equal | ${m.groups}[0] | 1.0.0 |
        | Wait For Line On Uart | +IMQTTSTATE:2 | uart=at-ta | device=second |
        """
        handle, log, name, matcher, wait, found = self._scan(content, timeout, regex, uart, device, module)
        if found is None:
            why = "the console ended (the firmware exited)" if log.closed else f"within {wait:g} s"
            raise self._failure(f"no line {matcher} on {name} {why}", handle)
        index, match = found
        log.positions[name] = index + 1
        return match

    @keyword
    def should_not_be_on_uart(self, content: str, timeout: timedelta | None = None, regex: bool = False,
                              uart: str | None = None, device: int | str | None = None,
                              module: int | str | None = None) -> None:
        """Checks that no line containing ``content`` (or, with ``regex``, matching it) comes
        on a UART within the window ``timeout``; returns nothing.

        Lines not yet read by `Wait For Line On Uart` count too; the read position does
        not move. ``timeout`` defaults to the UART timeout (`Timeouts`); the keyword
        always takes the whole window unless it fails.

        Fails at once when such a line is (or comes) there, or a failing string is seen.

        Example:
        | Should Not Be On Uart | STEP .* fail | timeout=3s | regex=True |
        """
        handle, log, name, matcher, wait, found = self._scan(content, timeout, regex, uart, device, module)
        if found is not None:
            line = found[1]
            raise self._failure(f"line {matcher} on {name} at {line.timestamp:.3f} s: {line.line!r}", handle)

    @keyword
    def register_failing_uart_string(self, content: str, regex: bool = False, uart: str | None = None,
                                     device: int | str | None = None, module: int | str | None = None) -> None:
        """Makes every later wait on a UART fail at once when a line containing ``content``
        (or, with ``regex``, matching it) comes; returns nothing.

        Applies to lines that arrive from now on, to `Wait For Line On Uart`, `Should Not
        Be On Uart` and (on the console) `Console Should Show`. A string registered on
        ``at`` covers both directions; on ``at-te`` or ``at-ta`` one. It lasts as long
        as the device or module.

        Fails if ``regex`` is true and ``content`` is not a valid regex.

        Example:
        | Register Failing Uart String | STEP \\\\S+ fail | regex=True |
        | Register Failing Uart String | +CME ERROR | uart=at-ta |
        """
        handle, log, directions, name = self._uart(uart, device, module)
        matcher = Matcher(content, regex)
        self._run(self._in_loop(log.register_failing, matcher, directions))
        logger.info(f"failing string {matcher} on {name} of {handle.kind} {handle.label}")

    @keyword
    def write_line_to_uart(self, content: str = "", uart: str | None = None, line_end: str = "\r",
                           device: int | str | None = None, module: int | str | None = None) -> UartMatch:
        """Writes ``content`` and a line end to a UART; returns what was written, with ``.line``,
        ``.timestamp`` and ``.direction``.

        On ``console`` the bytes go to the firmware's console input. On ``at`` (a
        module started by `Start Module`) they go to the module as if from the TE,
        bypassing `Send AT`: its answer shows up with `Wait For Line On Uart` (and
        unmatched lines as URCs). ``line_end`` defaults to CR (``\\r``); give ``\\n`` or
        ``\\r\\n`` where the firmware wants another line end.

        Fails on the AT UART of an MCU session: the firmware is the TE there.

        Example:
        | Write Line To Uart | temp 21 | uart=console |
        | Wait For Line On Uart | PUB ok |
        | Write Line To Uart | exit 7 | line_end=\\n |
        | Write Line To Uart | AT+CGMI | uart=at | module=te |
        | Wait For Line On Uart | ICA-SIM | uart=at-ta | module=te |
        """
        handle, log, directions, name = self._uart(uart, device, module)
        data = (content + line_end).encode("latin-1")
        if name == "console":
            write = handle.write_console
        elif handle.kind == "module" and name in ("at", "at-te"):
            write = handle.to_module
        else:
            raise AssertionError(f"cannot write to {name} of an MCU session: the firmware is the TE there")
        self._run(self._in_loop(write, data))
        return UartMatch(content, [], round(time.monotonic() - handle.t0, 6),
                         CONSOLE if name == "console" else TE_TO_TA)
