"""``IcaModule``: the asyncio edge of the module model.

It owns the sans-I/O :class:`AtEngine`, the command families and their network
work, the data-entry timer, and the module's life (reboot, factory reset).
Bytes from the TE go in with :meth:`IcaModule.feed`; bytes to the TE come out
through ``on_output``; with nothing attached they are dropped, as on an unplugged UART.
What happens goes to ``observer(kind, **detail)``; the module imports nothing of
the simulator that observes it (``pysim`` passes its event log as ``events``).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable, Collection

import aiocoap

from .at import AtEngine, CommandTable
from .at.catalogue import BY_NAME
from .commands.basic import BasicCommands
from .commands.coap import CoapCommands
from .commands.http import HttpCommands
from .commands.mqtt import MqttCommands
from .commands.ota import OtaCommands
from .config import ModuleConfig
from .context import Context
from .devauth import DeviceCredentials
from .events import check
from .faults import FaultInjector
from .interfaces import EventSink, Observer
from .nvstore import NvStore
from .profiles import profile
from .redaction import redact_detail


class IcaModule:
    """The module model. ``observer`` gets each event as ``(kind, **detail)``;
    ``events`` (an :class:`EventSink` such as pysim's ``EventLog``) is the same as
    ``observer=lambda kind, **d: events.emit(kind, None, **d)`` and stays readable
    as ``module.events``. ``kinds``, if given, are the only event kinds the observer
    gets; the module does not build the others (a fleet's thousands of modules report
    only why a connection failed, and each command's event would cost them)."""

    def __init__(self, config: ModuleConfig | None = None, *, observer: Observer | None = None,
                 events: EventSink | None = None, clock: Callable[[], float] | None = None,
                 kinds: Collection[str] | None = None) -> None:
        self.config = config or ModuleConfig()
        self._clock = clock
        self.events = events
        if observer is None:
            observer = _to_sink(events) if events is not None else _ignore
        self._kinds = frozenset(kinds) if kinds is not None else None
        self.observer: Observer = _declared(observer, self._kinds)
        self.nv = NvStore(self.config.nv_path)
        self.on_output: Callable[[bytes], None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._poll_task: asyncio.Task | None = None
        self._life: asyncio.Task | None = None
        self.injector = FaultInjector(lambda kind, **d: self.observer(kind, module=self.config.name, **d))
        self._build()

    # ---- assembly -------------------------------------------------------
    def _build(self) -> None:
        ctx = self.ctx = Context(self.config, self.nv, self.observer)
        table = self.table = CommandTable(BY_NAME)
        compat = profile(self.config.profile)
        self.engine = AtEngine(self.injector.table(table), echo=self.config.echo and compat.echo,
                               urc_ok=self.config.urc_ok, data_timeout=self.config.data_timeout,
                               clock=self.clock, observer=self._observe, escapes=compat.escapes)
        ctx.engine = self.engine
        ctx.pump = self._pump
        self.basic = BasicCommands(ctx, table, self._reboot)
        self.mqtt = MqttCommands(ctx, table, system_topics=lambda creds: [self._upgrade_topic(creds)],
                                 on_connected=self._mqtt_connected, on_system_message=self._system_message)
        self.coap = CoapCommands(ctx, table)
        self.coap.on_authenticated = self._coap_authenticated
        self.http = HttpCommands(ctx, table)
        self.ota = OtaCommands(ctx, table, publish=self._publish_device)
        ctx.credentials = self.credentials

    def credentials(self) -> DeviceCredentials | None:
        """The device the module speaks for: the first family authenticated."""
        return self.mqtt.auth.credentials or self.coap.auth.credentials or self.http.auth.credentials

    def _observe(self, kind: str, **detail) -> None:
        if self._kinds is not None and "at." + kind not in self._kinds and not self.ctx.loglevel:
            return
        detail = redact_detail(detail)   # an AUTH line's secret never reaches an event or a log
        self.observer(f"at.{kind}", module=self.config.name, **detail)
        if kind == "command" and self.ctx.logs(5):
            self.ctx.log(5, f"{detail['line']} -> {detail['final']}")
        elif kind in ("warning", "error") and self.ctx.logs(level := 2 if kind == "warning" else 1):
            self.ctx.log(level, f"{detail.get('line', '')}: {detail.get('message') or detail.get('error')}")

    # ---- byte stream ------------------------------------------------------
    async def start(self) -> None:
        """Nothing to open yet: connections are made by the commands."""

    def feed(self, data: bytes) -> None:
        """Bytes from the TE."""
        self.engine.receive(data)
        self._pump()

    def reset_input(self) -> None:
        """A TE attaches or detaches: nothing half-typed by one TE is left for the next
        (see :meth:`AtEngine.reset_input`)."""
        self.engine.reset_input()
        self._pump()

    def _pump(self) -> None:
        data = self.engine.data_to_send()
        if data:
            self.injector.send(data, self._output)
        self._arm_timer()

    def _output(self, data: bytes) -> None:
        if self.on_output is not None:   # with no TE attached, as on an unplugged UART
            self.on_output(data)

    def _arm_timer(self) -> None:
        deadline = self.engine.next_deadline()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if deadline is None:
            return
        self._timer = asyncio.get_running_loop().call_later(max(0.0, deadline - self.clock()), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self.poll()

    # ---- time ----------------------------------------------------------------
    def clock(self) -> float:
        """The module's time in seconds: the ``clock`` it was given, else the running event
        loop's (``loop.time()``), so that a virtual-time loop drives every timeout of the
        module (data entry, network timeouts, keep-alive) together; outside a loop,
        ``time.monotonic()``."""
        if self._clock is not None:
            return self._clock()
        try:
            return asyncio.get_running_loop().time()
        except RuntimeError:
            return time.monotonic()

    def poll(self) -> None:
        """Let time pass: end what has timed out by :meth:`clock` now (a data entry silent
        for ``data_timeout`` gets +CME ERROR:31). The module calls it by itself from a loop
        timer; a test with an injected clock calls it after moving the clock."""
        self.engine.poll()
        self._pump()

    # ---- wiring between families ------------------------------------------
    def _mqtt_connected(self) -> None:
        if not self.ota.version_reported:
            self.ota.report_version()

    @staticmethod
    def _upgrade_topic(creds: DeviceCredentials) -> str:
        return f"/ota/device/upgrade/{creds.product_key}/{creds.device_name}"

    def _system_message(self, topic: str, payload: bytes) -> bool:
        creds = self.mqtt.credentials
        if creds is not None and topic == self._upgrade_topic(creds):
            self.ota.on_announcement(payload)
            return True
        return False

    def _coap_authenticated(self) -> None:
        if self._poll_task is None or self._poll_task.done():
            self._poll_task = self.ctx.spawn(self.ota.poll(self._coap_announcement), "ota poll")
        if not self.ota.version_reported:
            self.ota.report_version()

    async def _coap_announcement(self) -> bytes | None:
        creds = self.coap.auth.credentials
        if creds is None or self.coap.token is None:
            return None
        response = await asyncio.wait_for(self.coap.request(
            aiocoap.GET, ("ota", "device", "upgrade", creds.product_key, creds.device_name), b"",
            token=self.coap.token), self.coap.para["TIMEOUT"])
        return response.payload if response.code.is_successful() else None

    async def _publish_device(self, topic: str, payload: bytes) -> bool:
        """A message of the module's own (OTA): over MQTT when connected, else CoAP."""
        if await self.mqtt.publish_system(topic, payload):
            return True
        if self.coap.token is not None:
            response = await asyncio.wait_for(self.coap.request(
                aiocoap.POST, ("topic", *topic.strip("/").split("/")), payload, token=self.coap.token),
                self.coap.para["TIMEOUT"])
            return response.code.is_successful()
        self.ctx.emit("net.ota", what="not sent: no MQTT connection and no CoAP token", topic=topic)
        return False

    # ---- life --------------------------------------------------------------
    def _reboot(self, mode: int, erase: bool) -> None:
        """AT+IREBOOT (mode 0: drop connections at once; 1: flush first) and AT+IDEFAULT."""
        self.engine.begin_reboot()
        self._life = asyncio.get_running_loop().create_task(self._reboot_task(mode == 1, erase))

    async def _reboot_task(self, graceful: bool, erase: bool) -> None:
        self.observer("module.reboot", module=self.config.name, graceful=graceful, erase=erase)
        await self._shutdown(graceful)
        if erase:
            self.nv.erase()
        await asyncio.sleep(self.config.reboot_seconds)
        self._build()
        self.observer("module.ready", module=self.config.name)

    async def _shutdown(self, graceful: bool) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._poll_task = None
        for step in (self.mqtt.shutdown(graceful), self.coap.shutdown(), self.http.shutdown()):
            try:
                await asyncio.wait_for(step, 5)
            except Exception as error:
                self.observer("module.error", module=self.config.name, error=repr(error))
        self.ota.reset()
        await self.ctx.cancel_tasks()

    async def stop(self) -> None:
        """Close every connection and task; idempotent."""
        if self._life is not None and not self._life.done():
            self._life.cancel()
            await asyncio.gather(self._life, return_exceptions=True)
        await self.injector.stop()
        await self._shutdown(graceful=False)

    async def __aenter__(self) -> "IcaModule":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()


def _ignore(kind: str, **detail: Any) -> None:
    pass


def _declared(observer: Observer, kinds: frozenset[str] | None = None) -> Observer:
    """``observer``, given only events declared in events.py (else TypeError where emitted),
    and of ``kinds`` only when given."""
    def observe(kind: str, **detail: Any) -> None:
        if kinds is not None and kind not in kinds:
            return
        check(kind, detail)
        observer(kind, **detail)
    return observe


def _to_sink(events: EventSink) -> Observer:
    def observe(kind: str, **detail: Any) -> None:
        events.emit(kind, None, **detail)
    return observe
