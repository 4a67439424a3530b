"""What keywords return. Each is the plain value older suites used (a string or a
list), with the rest of the result as attributes, so ``${urc}`` still compares as
the URC's line while ``${urc.fields}`` and ``${urc.payload}`` read the rest."""

from __future__ import annotations

from pysim.cloud.ota import OtaImage
from pysim.peers import Received
from pysim.te import Line, Response


class Urc(str):
    """A URC: the line's text, with ``.text``, ``.name`` (``+IMQTTRCVPUB``), ``.fields``
    (quotes removed), ``.payload`` (bytes: a text URC's payload read by length, or the
    binary bytes after ``OK``)."""

    name: str
    fields: list[str]
    payload: bytes

    def __new__(cls, line: Line) -> "Urc":
        urc = super().__new__(cls, line.text)
        urc.name, urc.fields, urc.payload = line.name, line.fields, line.payload
        return urc

    @property
    def text(self) -> str:
        return str.__str__(self)


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


class CloudMessage(str):
    """A message the cloud side received: its payload as text (latin-1), with ``.topic``,
    ``.payload`` (bytes), ``.qos`` and ``.text``."""

    topic: str
    payload: bytes
    qos: int

    def __new__(cls, message: Received) -> "CloudMessage":
        result = super().__new__(cls, message.payload.decode("latin-1"))
        result.topic, result.payload, result.qos = message.topic, message.payload, message.qos
        return result

    @property
    def text(self) -> str:
        return str.__str__(self)


class FirmwareImage(str):
    """An image in the cloud's OTA service: its MD5 (lower-case hex), with ``.md5``,
    ``.version``, ``.size``, ``.id`` and ``.data`` (bytes)."""

    version: str
    size: int
    id: str
    data: bytes
    image: OtaImage

    def __new__(cls, image: OtaImage) -> "FirmwareImage":
        result = super().__new__(cls, image.md5)
        result.version, result.size, result.id, result.data, result.image = (
            image.version, image.size, image.id, image.data, image)
        return result

    @property
    def md5(self) -> str:
        return str.__str__(self)
