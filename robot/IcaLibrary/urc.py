"""URC keywords: wait for a module's unsolicited result codes and read their fields
and payloads."""

from __future__ import annotations

from datetime import timedelta

from robot.api import logger
from robot.api.deco import keyword

from pysim.te import AtError

from .context import LibraryContext, as_bytes, seconds, show
from .results import Urc


class UrcKeywords(LibraryContext):

    @keyword("Wait For URC")
    def wait_for_urc(self, name: str, timeout: timedelta | None = None, contains: str | None = None,
                     module: int | str | None = None) -> Urc:
        """Waits for an unsolicited result code named ``name`` and returns it: the URC's line,
        with ``.name``, ``.fields`` (quotes removed), ``.payload`` (bytes) and ``.text``.

        URCs that arrived earlier count too; each is returned once. With ``contains``
        only a line holding that text matches. The payload is that of a text URC read
        by its ``msg_len``, or the binary bytes after ``OK``. ``timeout`` defaults to
        the AT timeout (`Timeouts`); ``module`` to the active module.

        Fails if no such URC comes within ``timeout``; the message lists the URCs seen
        and ends with the trace tail.

        Example:
        | ${state}= | Wait For URC | +IMQTTSTATE | contains=:2 |
        | ${urc}= | Wait For URC | +IMQTTRCVPUB |
        | Should Be Equal | ${urc.fields}[1] | ${TOPIC}/command |
        | Should Be Equal | ${urc.payload} | ${{b'on'}} |
        """
        handle = self._module_handle(module)
        wait = self._at_timeout if timeout is None else seconds(timeout)
        predicate = (lambda line: True) if contains is None else (lambda line: contains in line.text)
        try:
            line = self._run(handle.client.wait_urc(name, predicate, wait), wait)
        except AtError as error:
            raise self._failure(str(error), handle) from None
        urc = self._last_urc = Urc(line)
        logger.info(f"URC {urc.text!r} payload {show(urc.payload)}")
        return urc

    @keyword("URC Field")
    def urc_field(self, index: int, urc: Urc | None = None) -> str:
        """Returns field ``index`` (from 0, quotes removed) of a URC.

        ``urc`` is what `Wait For URC` returned; without it, the URC it returned last
        (deprecated: pass the URC, or use ``${urc.fields}[index]``).

        Fails if the URC has no such field.

        Example:
        | ${urc}= | Wait For URC | +IMQTTRCVPUB |
        | ${topic}= | URC Field | 1 | ${urc} |
        """
        urc = self._urc(urc)
        if not 0 <= index < len(urc.fields):
            raise self._failure(f"{urc.text!r} has no field {index}")
        return urc.fields[index]

    @keyword("URC Payload")
    def urc_payload(self, urc: Urc | None = None) -> str:
        """Returns the payload of a URC as text (latin-1).

        ``urc`` as in `URC Field` (without it, deprecated: the URC returned last).
        ``${urc.payload}`` gives the bytes.

        Fails if no ``urc`` is given and `Wait For URC` has returned none yet.

        Example:
        | ${urc}= | Wait For URC | +ICOAPRCVRSP |
        | ${answer}= | URC Payload | ${urc} |
        """
        return self._urc(urc).payload.decode("latin-1")

    @keyword("URC Payload Should Be")
    def urc_payload_should_be(self, expected: bytes | str, hex: bool = False, urc: Urc | None = None) -> None:
        """Checks that the payload of a URC is ``expected``; returns nothing.

        ``expected`` is text or, with ``hex``, hex digits (see `Payloads`). ``urc`` as in
        `URC Field` (without it, deprecated: the URC returned last).

        Fails if the payload differs (the message shows both).

        Example:
        | ${urc}= | Wait For URC | +IMQTTRCVPUBIN |
        | URC Payload Should Be | 11 22 33 | hex=True | urc=${urc} |
        """
        urc = self._urc(urc)
        want = as_bytes(expected, hex)
        if urc.payload != want:
            raise self._failure(f"payload of {urc.text!r} is {show(urc.payload)}, expected {show(want)}")
