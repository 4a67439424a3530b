"""AT keywords: the suite as the TE sends command lines (and binary data) to a module and
reads the responses."""

from __future__ import annotations

from datetime import timedelta

from robot.api import logger
from robot.api.deco import keyword
from robot.api.types import Secret

from pysim.te import AtError

from .context import LibraryContext, as_bytes, seconds, show

# What Robot puts in a string where a Secret variable stands (``"${SECRET}"`` in a command)
SECRET_PLACE = str(Secret(""))
from .results import AtResponse


class AtKeywords(LibraryContext):

    @keyword("Set AT Timeout")
    def set_at_timeout(self, timeout: timedelta) -> str:
        """Sets the default timeout of `Send AT`, `Send AT With Data` and `Wait For URC`; returns
        the old value as a time string (to restore it later).

        Fails if ``timeout`` is not a time (``10s``, ``1 min``, a number of seconds).

        Example:
        | ${old}= | Set AT Timeout | 30s |
        | Set AT Timeout | ${old} |
        """
        old, self._at_timeout = self._at_timeout, seconds(timeout)
        return f"{old:g} s"

    def _at_wait(self, timeout: timedelta | None) -> float:
        return self._at_timeout if timeout is None else seconds(timeout)

    @keyword("Send AT")
    def send_at(self, command: str, expected: str = "OK", timeout: timedelta | None = None,
                module: int | str | None = None, secret: Secret | None = None) -> AtResponse:
        """Sends an AT command line and returns its response: the list of response lines (without
        the final result code), with ``.final``, ``.command`` and ``.raw``.

        ``expected`` is the final result code wanted: ``OK``, ``ERROR`` or ``+CME ERROR:<n>``.
        ``timeout`` defaults to the AT timeout (`Timeouts`). ``module`` is a `Start Module`
        handle; default the active module. URCs arriving meanwhile are kept for `Wait For URC`.

        ``secret`` is a device secret as a Robot ``Secret`` (see `Secrets`): Robot writes a
        Secret variable inside the command text as ``<secret>``, and this keyword sends
        the secret's value in its place. Neither the log nor the returned response shows it.

        Fails if the final result code is not ``expected`` (the message shows the
        response) or no final result arrives in ``timeout``; at once if the command holds
        ``<secret>`` and no ``secret`` is given, or the other way round.

        Example:
        | ${lines}= | Send AT | AT+CGMI |
        | Send AT | AT+NOSUCH | expected=+CME ERROR:4 |
        | ${r}= | Send AT | AT+IMQTTPUB="${TOPIC}/t",1,"hi" | module=second |
        | Log | ${r.final} |
        | Send AT | AT+IMQTTAUTH="${PK}","${DN}","${SECRET}" | secret=${SECRET} |
        """
        return self._command(command, expected, self._at_wait(timeout), module, secret=secret)

    @keyword("Send AT With Data")
    def send_at_with_data(self, command: str, data: bytes | str, plus_escape: bool = False,
                          hex: bool = False, expected: str = "OK", timeout: timedelta | None = None,
                          module: int | str | None = None) -> AtResponse:
        """Sends a command that enters binary data entry, then ``data``; returns the response as
        `Send AT` does.

        With a ``msg_len`` > 0 in the command the module answers ``OK``, then reads
        exactly that many octets. With ``plus_escape`` (``msg_len`` 0) the module answers
        ``>`` and the data is ended by ``+++``. ``data`` is text or, with ``hex``,
        hexadecimal digits (see `Payloads`).

        Fails like `Send AT` on an unexpected final result or a timeout.

        Example:
        | Send AT With Data | AT+IMQTTPUBIN="${topic}",1,4 | 00 01 FF 7E | hex=True |
        | Send AT With Data | AT+IMQTTPUBIN="${topic}",1,0 | raw bytes | plus_escape=True |
        """
        return self._command(command, expected, self._at_wait(timeout), module, data=as_bytes(data, hex),
                             plus_escape=plus_escape)

    def _with_secret(self, command: str, secret: Secret | None) -> str:
        """The command line to send: ``<secret>`` replaced by the secret's value."""
        if secret is None:
            if SECRET_PLACE in command:
                raise AssertionError(f"the command holds a Secret variable ({SECRET_PLACE}): "
                                     f"pass it again as secret=${{...}}")
            return command
        if not isinstance(secret, Secret):
            raise AssertionError("secret must be a Robot Secret variable (see Secrets)")
        if SECRET_PLACE not in command:
            raise AssertionError(f"a secret was given but the command has no {SECRET_PLACE} "
                                 f"(a Secret variable written in it) to put it in")
        return command.replace(SECRET_PLACE, self._keep_secret(secret))

    def _command(self, command: str, expected: str, timeout: float, module: int | str | None,
                 secret: Secret | None = None, **options) -> AtResponse:
        handle = self._module_handle(module)
        line = self._with_secret(command, secret)
        command = self._mask(command)
        client = handle.client
        start = len(client.raw)
        try:
            response = self._run(client.command(line, timeout=timeout, **options), timeout)
        except AtError as error:
            raise self._failure(str(error), handle) from None
        response.command = command
        raw = self._mask(bytes(client.raw[start:]).decode("latin-1")).encode("latin-1")
        result = AtResponse(response, raw)
        self._last_response = result
        logger.info(f"{command} -> {list(result)} {response.final}")
        if response.final != expected:
            raise self._failure(f"{command!r} ended with {response.final!r}, expected {expected!r}; "
                                f"response lines: {list(result)}", handle)
        return result

    @keyword
    def response_should_contain(self, line: str, response: AtResponse | None = None) -> None:
        """Checks that a response has a line equal to ``line``; returns nothing.

        ``response`` is what `Send AT` returned; without it, the last command's response
        (deprecated: pass the response).

        Fails if no response line equals ``line``.

        Example:
        | ${r}= | Send AT | AT+IMQTTPARA? |
        | Response Should Contain | +IMQTTPARA:"KEEPALIVE",60 | ${r} |
        """
        result = self._response(response)
        if line not in result:
            raise self._failure(f"{line!r} not in the response of {result.command!r}: {list(result)}")

    @keyword
    def response_field(self, name: str, index: int = 0, response: AtResponse | None = None) -> str:
        """Returns field ``index`` (from 0, quotes removed) of the ``name`` line of a response.

        ``response`` is what `Send AT` returned; without it, the last command's response
        (deprecated: pass the response).

        Fails if the response has no ``name`` line or the line no such field.

        Example:
        | ${r}= | Send AT | AT+IMQTTPUB="${TOPIC}/t",1,"hi" |
        | ${id}= | Response Field | +IMQTTPUB | response=${r} |
        """
        result = self._response(response)
        try:
            fields = result.response.line(name).fields
            return fields[index]
        except KeyError as error:
            raise self._failure(str(error.args[0])) from None
        except IndexError:
            raise self._failure(f"{name} has no field {index}: {fields}") from None

    @keyword
    def raw_output_should_contain(self, text: str, response: AtResponse | None = None) -> None:
        """Checks that the bytes the module sent in answer to a command contain ``text``; returns
        nothing.

        Shows what `Send AT` hides, such as the echo of the command line. ``response``
        as in `Response Field`.

        Fails if ``text`` is not in those bytes (the message shows them).

        Example:
        | ${r}= | Send AT | AT+CGMI |
        | Raw Output Should Contain | AT+CGMI\\r | ${r} |
        """
        raw = self._response(response).raw
        if text.encode("latin-1") not in raw:
            raise self._failure(f"{text!r} not in the module's output {show(raw)}")

    @keyword
    def raw_output_should_not_contain(self, text: str, response: AtResponse | None = None) -> None:
        """Checks that the bytes the module sent in answer to a command do not contain ``text``;
        returns nothing.

        Fails if ``text`` is in those bytes (the message shows them).

        Example:
        | Send AT | ATE0 |
        | ${r}= | Send AT | AT+CGMI |
        | Raw Output Should Not Contain | AT+CGMI | ${r} |
        """
        raw = self._response(response).raw
        if text.encode("latin-1") in raw:
            raise self._failure(f"{text!r} is in the module's output {show(raw)}")
