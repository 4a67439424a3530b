"""Robot Framework keywords for the ICA co-simulation: the in-process cloud, the
ICA module model driven by a Python TE, independent MQTT peers, and the STM32
firmware running in QEMU.

The library runs one asyncio event loop in a background thread. Every keyword
runs a coroutine on it and waits for the result, so the cloud, the module and
the peers keep running between keywords (MQTT keep-alives, URCs arriving while
the suite is between steps).

Scope is ``SUITE``: a Suite Setup that starts a cloud or an MCU session (a QEMU
boot is the expensive part) shares it with the suite's tests, while suites stay
isolated from each other. ``TEST`` scope would hand the tests a different
instance from the one Suite Setup started things on; ``GLOBAL`` would let one
suite's leftovers reach the next. ``Stop All`` ends everything (also run by a
library listener when the suite ends, should a suite forget its teardown).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import random
import re
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any, Coroutine

from paho.mqtt.client import topic_matches_sub
from robot.api import logger
from robot.api.deco import keyword, library

from peripherals.ica import Faults, IcaModule, ModuleConfig
from peripherals.ica.commands.mqtt import CONNECTED
from peripherals.ica.commands.ota import crc16_ccitt_false
from pysim.cloud import Cloud
from pysim.cloud.ota import OtaImage, upgrade_topic
from pysim.events import kind_is
from pysim.peers import PahoClient, Received, service_client
from pysim.session import Session, SessionOptions
from pysim.te import AtClient, AtError, Line, Response

# How long a keyword may wait beyond its own timeout for the loop to answer.
LOOP_GRACE = 10.0
# Starting and stopping things (cloud, module, QEMU) must be done within this.
LIFECYCLE_TIMEOUT = 60.0


class EventLoopThread:
    """An asyncio loop running forever in a daemon thread; ``run`` waits for a coroutine."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._main, name="IcaLibrary-loop", daemon=True)
        self.thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float) -> Any:
        """Run ``coro`` on the loop; cancel it if the caller gives up (timeout, Robot timeout)."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise AssertionError(f"the event loop did not finish within {timeout:g} s") from None
        except BaseException:
            future.cancel()
            raise

    def close(self) -> None:
        """Cancel what is left on the loop, stop it, join the thread, close the loop."""
        if self.loop.is_closed():
            return
        try:
            self.run(self._drain(), LIFECYCLE_TIMEOUT)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(LIFECYCLE_TIMEOUT)
            self.loop.close()

    async def _drain(self) -> None:
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.loop.shutdown_asyncgens()
        await self.loop.shutdown_default_executor()


class _SuiteEndCleanup:
    """Library listener: ``close`` runs when the suite's library instance goes out of scope."""

    ROBOT_LISTENER_API_VERSION = 3

    def __init__(self, library: "IcaLibrary") -> None:
        self._library = library

    def close(self) -> None:
        self._library.stop_all()


def _seconds(value: timedelta | float) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _as_bytes(data: bytes | str, is_hex: bool) -> bytes:
    """Robot text (latin-1, so ``\\x00``-``\\xff`` escapes give those octets) or hex digits."""
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    if is_hex:
        return bytes.fromhex(data)
    return data.encode("latin-1")


def _show(data: bytes) -> str:
    return repr(bytes(data))


def _block_indexes(value: str | list[int] | tuple[int, ...]) -> set[int]:
    if isinstance(value, str):
        return {int(part) for part in re.split(r"[\s,]+", value) if part}
    return {int(part) for part in value}


@library(scope="SUITE", auto_keywords=False)
class IcaLibrary:
    """Keywords to test a TE, a firmware or the ICA module model itself against the
    in-process cloud (MQTT broker, CoAP and HTTP servers, OTA service).

    = Two ways to run =

    *Module level*: `Start Cloud`, `Register Device`, `Start Module`; the suite is
    the TE and sends AT commands with `Send AT` and `Send AT With Data`, and reads
    unsolicited result codes with `Wait For URC`.

    *Firmware level*: `Start MCU Session` runs the firmware in QEMU against its own
    cloud and module; `Console Should Show` reads the firmware's debug console and
    `MCU Should Exit With` checks its verdict.

    In both, the cloud keywords (`Subscribe As Cloud`, `Publish As Cloud`,
    `Cloud Should Receive`, `Add Firmware Image`, `Announce Firmware`) act on the
    cloud in use, through an independent paho-mqtt client logged in as the cloud's
    service user where MQTT is involved.

    = Payloads =

    Payload arguments are Robot strings taken as latin-1 octets (so ``\\x00`` to
    ``\\xff`` escapes give exactly those bytes), or hexadecimal digits when the
    keyword's ``hex`` argument is true (spaces allowed: ``00 01 FF``). Robot
    ``bytes`` values are taken as they are.

    = Time =

    Timeouts are Robot time strings: ``10s``, ``1 min 30 s``, ``500ms``, or
    plain seconds.

    = Clean-up =

    `Stop All` stops the session, peers, module and cloud, then the event loop and
    its thread. It is idempotent; use it in Suite Teardown and, for tests that start
    their own things, in Test Teardown. A keyword after `Stop All` starts a new loop.
    """

    def __init__(self) -> None:
        self.ROBOT_LIBRARY_LISTENER = _SuiteEndCleanup(self)
        self._reset()

    def _reset(self) -> None:
        """Forget everything started (after `Stop All`)."""
        self._loop: EventLoopThread | None = None
        self._cloud: Cloud | None = None
        self._module: IcaModule | None = None
        self._at: AtClient | None = None
        self._session: Session | None = None
        self._faults = None                       # FaultController of a module without a session
        self._trace: list[str] = []            # readable trace of an MCU session, when asked for
        self._observer: PahoClient | None = None
        self._subscriptions: list[str] = []
        self._received: list[Received] = []    # messages the observer got and no keyword matched yet
        self._images: dict[str, OtaImage] = {}
        self._last: Response | None = None
        self._last_raw = b""
        self._last_urc: Line | None = None

    # ---- plumbing ---------------------------------------------------------
    def _run(self, coro: Coroutine[Any, Any, Any], timeout: float = LIFECYCLE_TIMEOUT) -> Any:
        if self._loop is None:
            self._loop = EventLoopThread()
        return self._loop.run(coro, timeout + LOOP_GRACE)

    @staticmethod
    async def _in_loop(function, *args):
        """Call a plain function on the loop's thread (the cloud's state lives there)."""
        return function(*args)

    @property
    def cloud(self) -> Cloud:
        """The cloud in use: the MCU session's, else the one `Start Cloud` started."""
        if self._session is not None:
            return self._session.cloud
        if self._cloud is None:
            raise AssertionError("no cloud: use Start Cloud (or Start MCU Session) first")
        return self._cloud

    @property
    def at(self) -> AtClient:
        if self._at is None:
            raise AssertionError("no TE link: use Start Module first (the firmware is the TE "
                                 "in an MCU session)")
        return self._at

    @property
    def module(self) -> IcaModule:
        if self._session is not None:
            return self._session.module
        if self._module is None:
            raise AssertionError("no module: use Start Module (or Start MCU Session) first")
        return self._module

    # ---- cloud ------------------------------------------------------------
    @keyword
    def start_cloud(self) -> dict[str, str]:
        """Starts the in-process cloud on free ports and returns its address map.

        The map is ``{"mqtt": "mqtt://127.0.0.1:P", "coap": "coap://...", "http": "http://..."}``.
        Fails if a cloud is already running in this suite.
        """
        if self._cloud is not None or self._session is not None:
            raise AssertionError("a cloud is already running: Stop All first")

        async def start() -> Cloud:
            cloud = Cloud()
            await cloud.start()
            return cloud

        self._cloud = self._run(start())
        logger.info(f"cloud at {self._cloud.addresses}")
        return dict(self._cloud.addresses)

    @keyword
    def register_device(self, product_key: str, device_name: str, device_secret: str) -> None:
        """Registers a device in the cloud so it can authenticate (MQTT, CoAP, HTTP)."""
        cloud = self.cloud
        self._run(self._in_loop(cloud.registry.add, product_key, device_name, device_secret))

    @keyword
    def stop_cloud(self) -> None:
        """Stops the cloud (broker, CoAP and HTTP servers) but leaves the module running.

        For testing what a TE sees when the cloud goes away (``+IMQTTSTATE:0``).
        """
        self._run(self.cloud.stop())

    # ---- module -----------------------------------------------------------
    @keyword
    def start_module(self, echo: bool = True, urc_ok: bool = True,
                     corrupt_ota_blocks: str | list[int] = "", rx_format: str = "auto") -> None:
        """Starts an ICA module model pointed at the cloud, with the suite as its TE.

        - ``echo``: the ATE default at start-up (the module echoes command lines).
        - ``urc_ok``: receive URCs are followed by ``OK`` (DECISIONS §11).
        - ``corrupt_ota_blocks``: fault injection, indexes (from 0) of OTA blocks whose
          bytes are corrupted the first time they are sent, e.g. ``1`` or ``1,3``; the
          ``+IOTABLOCK`` CRC stays that of the true block.
        - ``rx_format``: ``auto``, ``text`` or ``binary``: how received payloads are reported.
        """
        if self._module is not None:
            raise AssertionError("a module is already running: Stop All first")
        cloud = self.cloud
        config = ModuleConfig(echo=echo, urc_ok=urc_ok, rx_format=rx_format,
                              faults=Faults(corrupt_ota_blocks=_block_indexes(corrupt_ota_blocks)))
        config.use_cloud(cloud.addresses)

        async def start() -> tuple[IcaModule, AtClient]:
            module = IcaModule(config, events=cloud.events)
            await module.start()
            client = AtClient(module.feed)
            module.on_output = client.feed
            return module, client

        self._module, self._at = self._run(start())

    @keyword
    def module_should_be_connected(self) -> None:
        """Fails unless the module's MQTT connection to the cloud is up (state 2)."""
        state = self.module.mqtt.state
        if state != CONNECTED:
            raise AssertionError(f"the module's MQTT state is {state}, not {CONNECTED} (connected)")

    # ---- AT commands ------------------------------------------------------
    @keyword("Send AT")
    def send_at(self, command: str, expected: str = "OK", timeout: timedelta = timedelta(seconds=10)
                ) -> list[str]:
        """Sends an AT command line and returns its response lines (without the final result).

        Fails, showing the response, when the final result code is not ``expected``
        (``OK``, ``ERROR`` or ``+CME ERROR:<n>``) or no final result arrives in ``timeout``.
        URCs arriving meanwhile are kept for `Wait For URC`.

        Example:
        | ${lines}= | Send AT | AT+CGMI |
        | Send AT | AT+NOSUCH | expected=+CME ERROR:4 |
        """
        return self._command(command, expected, _seconds(timeout))

    @keyword("Send AT With Data")
    def send_at_with_data(self, command: str, data: bytes | str, plus_escape: bool = False,
                          hex: bool = False, expected: str = "OK",
                          timeout: timedelta = timedelta(seconds=10)) -> list[str]:
        """Sends a command that enters binary data entry, then ``data``; returns the response lines.

        With a ``msg_len`` > 0 in the command the module answers ``OK``, then reads
        exactly that many octets. With ``plus_escape`` (``msg_len`` 0) the module answers
        ``>`` and the data is ended by ``+++``. ``data`` is text (latin-1) or, with
        ``hex``, hexadecimal digits. Fails like `Send AT` on an unexpected final result.

        Example:
        | Send AT With Data | AT+IMQTTPUBIN="${topic}",1,4 | 00 01 FF 7E | hex=True |
        | Send AT With Data | AT+IMQTTPUBIN="${topic}",1,0 | raw bytes | plus_escape=True |
        """
        return self._command(command, expected, _seconds(timeout), data=_as_bytes(data, hex),
                             plus_escape=plus_escape)

    def _command(self, command: str, expected: str, timeout: float, **options) -> list[str]:
        at = self.at
        start = len(at.raw)
        try:
            response = self._run(at.command(command, timeout=timeout, **options), timeout)
        except AtError as error:
            raise AssertionError(str(error)) from None
        self._last, self._last_raw = response, bytes(at.raw[start:])
        lines = [line.text for line in response.lines]
        logger.info(f"{command} -> {lines} {response.final}")
        if response.final != expected:
            raise AssertionError(f"{command!r} ended with {response.final!r}, expected {expected!r}; "
                                 f"response lines: {lines}")
        return lines

    @property
    def last_response(self) -> Response:
        if self._last is None:
            raise AssertionError("no command sent yet")
        return self._last

    @keyword
    def response_should_contain(self, line: str) -> None:
        """Fails unless the last command's response has a line equal to ``line``."""
        lines = [l.text for l in self.last_response.lines]
        if line not in lines:
            raise AssertionError(f"{line!r} not in the response of {self.last_response.command!r}: {lines}")

    @keyword
    def response_field(self, name: str, index: int = 0) -> str:
        """Returns field ``index`` (from 0) of the ``name`` line of the last response.

        Quotes are removed. Example: ``${id}=  Response Field  +IMQTTPUB`` after
        ``AT+IMQTTPUB=...`` gives the packet id of ``+IMQTTPUB:<id>``.
        """
        try:
            fields = self.last_response.line(name).fields
            return fields[index]
        except KeyError as error:
            raise AssertionError(str(error.args[0])) from None
        except IndexError:
            raise AssertionError(f"{name} has no field {index}: {fields}") from None

    @keyword
    def raw_output_should_contain(self, text: str) -> None:
        """Fails unless the bytes the module sent in answer to the last command contain ``text``.

        Shows what `Send AT` hides, such as the echo of the command line.
        """
        if text.encode("latin-1") not in self._last_raw:
            raise AssertionError(f"{text!r} not in the module's output {_show(self._last_raw)}")

    @keyword
    def raw_output_should_not_contain(self, text: str) -> None:
        """Fails if the bytes the module sent in answer to the last command contain ``text``."""
        if text.encode("latin-1") in self._last_raw:
            raise AssertionError(f"{text!r} is in the module's output {_show(self._last_raw)}")

    # ---- URCs -------------------------------------------------------------
    @keyword("Wait For URC")
    def wait_for_urc(self, name: str, timeout: timedelta = timedelta(seconds=10),
                     contains: str | None = None) -> str:
        """Waits for an unsolicited result code named ``name`` and returns its line.

        URCs that arrived earlier count too; each is returned once. With ``contains``
        only a line holding that text matches. The URC's payload (text URCs read by
        ``msg_len``, binary bytes after ``OK``) is kept for `URC Payload Should Be`.

        Example:
        | ${line}= | Wait For URC | +IMQTTSTATE | contains=:2 |
        """
        seconds = _seconds(timeout)
        predicate = (lambda line: True) if contains is None else (lambda line: contains in line.text)
        try:
            urc = self._run(self.at.wait_urc(name, predicate, seconds), seconds)
        except AtError as error:
            raise AssertionError(str(error)) from None
        self._last_urc = urc
        logger.info(f"URC {urc.text!r} payload {_show(urc.payload)}")
        return urc.text

    @property
    def last_urc(self) -> Line:
        if self._last_urc is None:
            raise AssertionError("no URC taken yet: use Wait For URC first")
        return self._last_urc

    @keyword("URC Field")
    def urc_field(self, index: int) -> str:
        """Returns field ``index`` (from 0) of the URC `Wait For URC` returned last (quotes removed)."""
        fields = self.last_urc.fields
        if not 0 <= index < len(fields):
            raise AssertionError(f"{self.last_urc.text!r} has no field {index}")
        return fields[index]

    @keyword("URC Payload")
    def urc_payload(self) -> str:
        """Returns the payload of the URC `Wait For URC` returned last, as text (latin-1)."""
        return self.last_urc.payload.decode("latin-1")

    @keyword("URC Payload Should Be")
    def urc_payload_should_be(self, expected: bytes | str, hex: bool = False) -> None:
        """Fails unless the payload of the URC `Wait For URC` returned last is ``expected``."""
        want = _as_bytes(expected, hex)
        if self.last_urc.payload != want:
            raise AssertionError(f"payload of {self.last_urc.text!r} is {_show(self.last_urc.payload)}, "
                                 f"expected {_show(want)}")

    # ---- the cloud side over MQTT ----------------------------------------
    async def _ensure_observer(self) -> PahoClient:
        if self._observer is None:
            self._observer = await service_client(self.cloud, client_id="robot-observer")
        return self._observer

    @keyword
    def subscribe_as_cloud(self, topic: str, qos: int = 1) -> None:
        """Subscribes an independent paho-mqtt client (the cloud's service user) to ``topic``.

        Wildcards ``+`` and ``#`` are allowed. Messages it receives are checked with
        `Cloud Should Receive`. Fails if the broker refuses the subscription.
        """
        async def subscribe() -> list[int]:
            return await (await self._ensure_observer()).subscribe(topic, qos)

        codes = self._run(subscribe())
        if any(code >= 0x80 for code in codes):
            raise AssertionError(f"subscription to {topic!r} refused: SUBACK {codes}")
        self._subscriptions.append(topic)

    @keyword
    def publish_as_cloud(self, topic: str, payload: bytes | str, qos: int = 1, hex: bool = False) -> None:
        """Publishes ``payload`` to ``topic`` from the independent paho-mqtt client (service user).

        Returns once the broker has it (QoS 0: sent; QoS 1 and 2: acknowledged).
        """
        data = _as_bytes(payload, hex)

        async def publish() -> None:
            await (await self._ensure_observer()).publish(topic, data, qos)

        self._run(publish())

    @keyword
    def cloud_should_receive(self, topic: str, payload: bytes | str | None = None,
                             timeout: timedelta = timedelta(seconds=10), contains: str | None = None,
                             hex: bool = False) -> str:
        """Waits until the `Subscribe As Cloud` client receives a message on ``topic``; returns its payload.

        ``topic`` is a topic or filter (``+``, ``#``). With ``payload`` the message must
        be exactly that; with ``contains`` it must hold that text. Messages received
        earlier count too; each matches once. The payload is returned as text (latin-1).
        """
        if not any(topic_matches_sub(sub, topic) or sub == topic for sub in self._subscriptions):
            raise AssertionError(f"no subscription covers {topic!r}: use Subscribe As Cloud first "
                                 f"(subscribed: {self._subscriptions})")
        want = None if payload is None else _as_bytes(payload, hex)
        needle = None if contains is None else contains.encode("latin-1")

        def matches(message: Received) -> bool:
            return ((message.topic == topic or topic_matches_sub(topic, message.topic))
                    and (want is None or message.payload == want)
                    and (needle is None or needle in message.payload))

        seconds = _seconds(timeout)
        message = self._run(self._next_matching(matches, seconds), seconds)
        if message is None:
            seen = [(m.topic, m.payload) for m in self._received][-10:]
            raise AssertionError(f"no message on {topic!r} matching payload={want!r} contains={contains!r} "
                                 f"within {seconds:g} s; unmatched messages: {seen}")
        return message.payload.decode("latin-1")

    async def _next_matching(self, matches, timeout: float) -> Received | None:
        observer = await self._ensure_observer()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            while not observer.messages.empty():
                self._received.append(observer.messages.get_nowait())
            for message in self._received:
                if matches(message):
                    self._received.remove(message)
                    return message
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            try:
                self._received.append(await asyncio.wait_for(observer.messages.get(), remaining))
            except asyncio.TimeoutError:
                return None

    # ---- OTA --------------------------------------------------------------
    @keyword
    def add_firmware_image(self, size_or_path: str, version: str, seed: int = 1) -> str:
        """Adds a firmware image to the cloud's OTA service and returns its MD5 (lower-case hex).

        ``size_or_path`` is a size in octets (the image is pseudo-random bytes from
        ``seed``) or the path of a file. The image is known by ``version`` to
        `Announce Firmware`.
        """
        if size_or_path.isdigit():
            data = random.Random(seed).randbytes(int(size_or_path))
        else:
            data = Path(size_or_path).read_bytes()
        cloud = self.cloud
        image = self._run(self._in_loop(cloud.ota.add_image, data, version))
        self._images[version] = image
        logger.info(f"image {image.id} version {version}: {image.size} octets, md5 {image.md5}")
        return image.md5

    @keyword
    def announce_firmware(self, product_key: str, device_name: str, version: str,
                          timeout: timedelta = timedelta(seconds=10)) -> None:
        """Announces the image `Add Firmware Image` added as ``version`` to one device.

        Waits first (up to ``timeout``) until the device has subscribed to its upgrade
        topic ``/ota/device/upgrade/<pk>/<dn>`` (the module does so once MQTT is up), so
        the push is not lost; the announcement stays the device's current one.
        """
        image = self._images.get(version)
        if image is None:
            raise AssertionError(f"no image with version {version!r}: use Add Firmware Image first")
        cloud = self.cloud
        topic = upgrade_topic(product_key, device_name)
        subscribed, device = kind_is("mqtt.subscribe", topic=topic), (product_key, device_name)
        seconds = _seconds(timeout)

        async def announce() -> None:
            try:
                await cloud.events.wait_for(lambda e: subscribed(e) and e.device == device, seconds)
            except TimeoutError:
                raise AssertionError(f"the device did not subscribe to {topic} within {seconds:g} s") from None
            await cloud.ota.announce(product_key, device_name, image)

        self._run(announce(), seconds)

    @keyword("Block CRC Should Match")
    def block_crc_should_match(self) -> bytes:
        """Checks the ``+IOTABLOCK:<len>,<crc>`` block of the last response; returns its bytes.

        Fails when the octet count or the CRC-16/CCITT-FALSE of the bytes received
        differs from the header (a corrupted block: read it again with ``AT+IOTABLOCK=1``).
        """
        header = self.response_field("+IOTABLOCK", 0), self.response_field("+IOTABLOCK", 1)
        block = self.last_response.line("+IOTABLOCK").payload
        length, crc = int(header[0]), int(header[1], 16)
        if len(block) != length:
            raise AssertionError(f"block has {len(block)} octets, the header says {length}")
        actual = crc16_ccitt_false(block)
        if actual != crc:
            raise AssertionError(f"block CRC mismatch: header 0x{crc:04X}, bytes give 0x{actual:04X}")
        return block

    @keyword("MD5 Should Be")
    def md5_should_be(self, data: bytes, md5: str) -> None:
        """Fails unless the MD5 of ``data`` is ``md5`` (hex, any case)."""
        actual = hashlib.md5(data).hexdigest()
        if actual != md5.lower():
            raise AssertionError(f"MD5 of {len(data)} octets is {actual}, expected {md5.lower()}")

    # ---- firmware in an emulator -----------------------------------------
    @keyword("Start MCU Session")
    def start_mcu_session(self, firmware: str | None = None, corrupt_ota_blocks: str | list[int] = "",
                          emulator: str | None = None, baud: int | None = None, trace: bool = False,
                          boot_timeout: timedelta = timedelta(seconds=20)) -> None:
        """Starts a cloud, a module and the firmware in an emulator, wired by a UART link.

        Returns once the firmware's console shows its ``BOOT`` line. The demo device
        (``a1demoPK``, ``demo-device-01``) is registered in the cloud.

        - ``firmware``: an ELF; default ``firmware/build/demo.elf`` (``make -C firmware``).
        - ``corrupt_ota_blocks``: module fault, as in `Start Module`.
        - ``emulator``: ``qemu`` (default) or ``renode``.
        - ``baud``: pace the UART at this rate; default as fast as it goes.
        - ``trace``: keep the readable UART/cloud/console trace and log it at `Stop All`.
        """
        if self._session is not None or self._cloud is not None:
            raise AssertionError("a cloud or session is already running: Stop All first")
        options = SessionOptions(firmware=firmware, emulator=emulator, baud=baud,
                                 faults=Faults(corrupt_ota_blocks=_block_indexes(corrupt_ota_blocks)),
                                 trace=self._trace.append if trace else None,
                                 boot_timeout=_seconds(boot_timeout))
        session = Session(options)
        self._run(session.start(), options.boot_timeout + LIFECYCLE_TIMEOUT)
        self._session = session
        logger.info(f"firmware {options.firmware_path} booted: {session.console_lines[-1:]}")

    @property
    def session(self) -> Session:
        if self._session is None:
            raise AssertionError("no MCU session: use Start MCU Session first")
        return self._session

    def _console_tail(self) -> str:
        return " | ".join(self.session.console_lines[-8:])

    @keyword
    def console_should_show(self, regex: str, timeout: timedelta = timedelta(seconds=30)) -> str:
        """Waits for a firmware console line matching ``regex`` (searched) and returns the line.

        Lines shown earlier count too. Example: ``Console Should Show    ^STEP mqtt_connect ok``.
        """
        seconds = _seconds(timeout)
        try:
            return self._run(self.session.wait_console(regex, seconds), seconds)
        except (TimeoutError, asyncio.TimeoutError, ConnectionError) as error:  # ConsoleClosed: it exited
            raise AssertionError(f"no console line matching {regex!r} within {seconds:g} s "
                                 f"({type(error).__name__}); last lines: {self._console_tail()}") from None

    @keyword("MCU Should Exit With")
    def mcu_should_exit_with(self, code: int, timeout: timedelta = timedelta(seconds=60)) -> None:
        """Waits for the firmware to exit (semihosting) and fails unless its exit code is ``code``."""
        seconds = _seconds(timeout)
        actual = self._run(self.session.wait_exit(seconds), seconds)
        if actual is None:
            raise AssertionError(f"the firmware still runs after {seconds:g} s; last lines: {self._console_tail()}")
        if actual != code:
            raise AssertionError(f"the firmware exited with {actual}, expected {code}; "
                                 f"last lines: {self._console_tail()}")

    # ---- faults (pysim/faults, docs/faults.md) ----------------------------
    @keyword("Inject Fault")
    def inject_fault(self, spec: str) -> None:
        """Applies a fault now, in the format ``LINK.KIND[:param=value,...]`` (docs/faults.md).

        Module faults work on `Start Module` and `Start MCU Session`; UART faults on an MCU
        session; network faults need the fault proxy, which an MCU session has when
        started with a ``net.*`` fault. Example: ``Inject Fault    module.cme:cmd=+IMQTTPUB,error=30``.
        """
        from pysim.faults import FaultController, FaultError, FaultSpecError

        if self._session is None and self._faults is None:
            self._faults = FaultController(module=self.module, events=self.module.events)
        target = self._session.faults if self._session is not None else self._faults
        try:
            self._run(self._in_loop(target.apply, spec))
        except (FaultError, FaultSpecError) as error:
            raise AssertionError(str(error)) from None

    @keyword("Clear Faults")
    def clear_faults(self) -> int:
        """Takes every injected fault off; returns how many were active."""
        target = self._session.faults if self._session is not None else self._faults
        return self._run(self._in_loop(target.clear)) if target is not None else 0

    # ---- clean-up ---------------------------------------------------------
    @keyword
    def stop_all(self) -> None:
        """Stops everything this library started: MCU session, peers, module, cloud, event loop.

        Idempotent: safe in Test Teardown and Suite Teardown alike. Every part is
        stopped even if an earlier one fails to stop; the first failure is reported
        afterwards.
        """
        if self._loop is None:
            return
        errors: list[str] = []
        steps = [("MCU session", self._session, "stop"), ("cloud peer", self._observer, "close"),
                 ("module", self._module, "stop"), ("cloud", self._cloud, "stop")]
        for what, target, method in steps:
            if target is None:
                continue
            try:
                self._loop.run(getattr(target, method)(), LIFECYCLE_TIMEOUT)
            except BaseException as error:  # keep stopping the rest
                errors.append(f"stopping the {what}: {type(error).__name__}: {error}")
        if self._trace:
            logger.info("trace:\n" + "\n".join(self._trace))
        loop, self._loop = self._loop, None
        try:
            loop.close()
        except BaseException as error:
            errors.append(f"closing the event loop: {type(error).__name__}: {error}")
        self._reset()
        if errors:
            raise AssertionError("; ".join(errors))
