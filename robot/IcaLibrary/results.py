"""What keywords return. Each is the plain value older suites used (a string or a
list), with the rest of the result as attributes, so ``${urc}`` still compares as
the URC's line while ``${urc.fields}`` and ``${urc.payload}`` read the rest."""

from __future__ import annotations

from pysim.cloud.ota import OtaImage
from pysim.peers import Received
from pysim.te import Line, Response


class _StrWithFields(str):
    """A string that carries the rest of a result as attributes; ``.text`` is the plain string."""

    def __new__(cls, value: str, **fields: object) -> "_StrWithFields":
        result = super().__new__(cls, value)
        for name, field in fields.items():
            setattr(result, name, field)
        return result

    @property
    def text(self) -> str:
        return str.__str__(self)


class Urc(_StrWithFields):
    """A URC: the line's text, with ``.text``, ``.name`` (``+IMQTTRCVPUB``), ``.fields``
    (quotes removed), ``.payload`` (bytes: a text URC's payload read by length, or the
    binary bytes after ``OK``)."""

    name: str
    fields: list[str]
    payload: bytes

    def __new__(cls, line: Line) -> "Urc":
        return super().__new__(cls, line.text, name=line.name, fields=line.fields, payload=line.payload)


class AtResponse(list):
    """The response lines of a command (text, without the final result code), with
    ``.command``, ``.final`` (``OK``, ``ERROR``, ``+CME ERROR:<n>``), ``.raw`` (every
    byte the module sent meanwhile, echo included) and ``.response`` (the parsed
    ``pysim.te.Response``: ``.line(name)`` gives a line with its ``.fields`` and ``.payload``)."""

    def __init__(self, response: Response, raw: bytes) -> None:
        super().__init__(line.text for line in response.lines)
        self.response = response
        self.command = response.command
        self.final = response.final
        self.raw = raw


class CloudMessage(_StrWithFields):
    """A message the cloud side received: its payload as text (latin-1), with ``.topic``,
    ``.payload`` (bytes), ``.qos`` and ``.text``."""

    topic: str
    payload: bytes
    qos: int

    def __new__(cls, message: Received) -> "CloudMessage":
        return super().__new__(cls, message.payload.decode("latin-1"), topic=message.topic,
                               payload=message.payload, qos=message.qos)


class FirmwareImage(_StrWithFields):
    """An image in the cloud's OTA service: its MD5 (lower-case hex), with ``.md5`` (also ``.text``),
    ``.version``, ``.size``, ``.id`` and ``.data`` (bytes)."""

    version: str
    size: int
    id: str
    data: bytes
    image: OtaImage

    def __new__(cls, image: OtaImage) -> "FirmwareImage":
        return super().__new__(cls, image.md5, version=image.version, size=image.size, id=image.id,
                               data=image.data, image=image)

    @property
    def md5(self) -> str:
        return self.text
