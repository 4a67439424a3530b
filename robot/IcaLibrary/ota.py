"""OTA keywords: images in the cloud's OTA service, announcements, and checks of what
the TE reads with ``AT+IOTABLOCK``."""

from __future__ import annotations

import hashlib
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

from robot.api import logger
from robot.api.deco import keyword

from peripherals.ica.commands.ota import crc16_ccitt_false
from pysim.cloud.ota import upgrade_topic
from pysim.events import kind_is

from .context import LibraryContext, seconds
from .results import AtResponse, FirmwareImage


class OtaKeywords(LibraryContext):

    @keyword
    def add_firmware_image(self, size_or_path: str, version: str, seed: int = 1,
                           device: int | str | None = None) -> FirmwareImage:
        """Adds a firmware image to the cloud's OTA service; returns the image: its MD5
        (lower-case hex), with ``.md5``, ``.version``, ``.size``, ``.id`` and ``.data``.

        ``size_or_path`` is a size in octets (the image is pseudo-random bytes from
        ``seed``) or the path of a file. The image is known by ``version`` to
        `Announce Firmware`. ``device`` picks an MCU session's cloud.

        Fails if the file cannot be read or there is no cloud.

        Example:
        | ${image}= | Add Firmware Image | 1500 | 2.0.0 | seed=7 |
        | Should Be Equal As Integers | ${image.size} | 1500 |
        """
        if size_or_path.isdigit():
            data = random.Random(seed).randbytes(int(size_or_path))
        else:
            try:
                data = Path(size_or_path).read_bytes()
            except OSError as error:
                raise AssertionError(f"cannot read the image {size_or_path!r}: {error.strerror}") from None
        cloud = self._cloud_for(device)
        image = self._run(self._in_loop(cloud.ota.add_image, data, version))
        self._images[version] = image
        logger.info(f"image {image.id} version {version}: {image.size} octets, md5 {image.md5}")
        return FirmwareImage(image)

    @keyword
    def announce_firmware(self, product_key: str, device_name: str, version: str,
                          timeout: timedelta = timedelta(seconds=10),
                          device: int | str | None = None) -> dict[str, Any]:
        """Announces the image `Add Firmware Image` added as ``version`` to one device; returns
        the announcement as published (a dictionary: ``code``, ``data`` with ``size``,
        ``version``, ``url``, ``md5``).

        Waits first (up to ``timeout``) until the device has subscribed to its upgrade
        topic ``/ota/device/upgrade/<pk>/<dn>`` (the module does so once MQTT is up), so
        the push is not lost; the announcement stays the device's current one.

        Fails if there is no image of that version or the device does not subscribe in time.

        Example:
        | ${announcement}= | Announce Firmware | ${PK} | ${DN} | 2.0.0 |
        | Log | ${announcement}[data][url] |
        """
        image = self._images.get(version)
        if image is None:
            raise AssertionError(f"no image with version {version!r}: use Add Firmware Image first")
        cloud = self._cloud_for(device)
        topic = upgrade_topic(product_key, device_name)
        subscribed, who = kind_is("mqtt.subscribe", topic=topic), (product_key, device_name)
        wait = seconds(timeout)

        async def announce() -> dict[str, Any] | None:
            try:
                await cloud.events.wait_for(lambda e: subscribed(e) and e.device == who, wait)
            except TimeoutError:
                return None
            return await cloud.ota.announce(product_key, device_name, image)

        announcement = self._run(announce(), wait)
        if announcement is None:
            raise self._failure(f"the device did not subscribe to {topic} within {wait:g} s")
        return announcement

    @keyword("Block CRC Should Match")
    def block_crc_should_match(self, response: AtResponse | None = None) -> bytes:
        """Checks the ``+IOTABLOCK:<len>,<crc>`` block of a response; returns the block's bytes.

        ``response`` is what ``Send AT    AT+IOTABLOCK=0`` returned; without it, the
        last command's response (deprecated: pass the response).

        Fails if the octet count or the CRC-16/CCITT-FALSE of the bytes received
        differs from the header (a corrupted block: read it again with ``AT+IOTABLOCK=1``).

        Example:
        | ${r}= | Send AT | AT+IOTABLOCK=0 |
        | ${block}= | Block CRC Should Match | ${r} |
        """
        result = self._response(response)
        try:
            line = result.response.line("+IOTABLOCK")
            length, crc = int(line.fields[0]), int(line.fields[1], 16)
        except (KeyError, IndexError, ValueError):
            raise self._failure(f"no +IOTABLOCK:<len>,<crc> line in {list(result)}") from None
        block = line.payload
        if len(block) != length:
            raise self._failure(f"block has {len(block)} octets, the header says {length}")
        actual = crc16_ccitt_false(block)
        if actual != crc:
            raise AssertionError(f"block CRC mismatch: header 0x{crc:04X}, bytes give 0x{actual:04X}")
        return block

    @keyword("MD5 Should Be")
    def md5_should_be(self, data: bytes, md5: str) -> None:
        """Checks that the MD5 of ``data`` is ``md5`` (hex, any case); returns nothing.

        Fails if it is not (the message shows both).

        Example:
        | MD5 Should Be | ${image_read} | ${image.md5} |
        """
        actual = hashlib.md5(data).hexdigest()
        if actual != md5.lower():
            raise AssertionError(f"MD5 of {len(data)} octets is {actual}, expected {md5.lower()}")
