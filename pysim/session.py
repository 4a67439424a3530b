"""``Session``: cloud + module + MCU firmware in an emulator, wired by a UART link.

    session = Session(SessionOptions(firmware="firmware/build/demo.elf"))
    await session.start()          # cloud, module, emulator; waits for the BOOT line
    ...                            # session.cloud, .module, .emulator, .link, .events
    await session.stop()           # every process, socket and task ends

:class:`DemoScenario` plays the cloud's half of the demo firmware's script (a LED
command, an OTA image) and turns the run into a :class:`Verdict`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from peripherals.ica import Faults, IcaModule, ModuleConfig
from pysim.cloud import Cloud
from pysim.emulators import emulator_class, get_emulator
from pysim.emulators.base import Emulator
from peripherals.ica.devauth import DeviceCredentials
from pysim.capture import CaptureWriter
from pysim.events import Event, EventLog
from pysim.faults import FaultController, FaultError, FaultHandle, FaultSpec, parse_fault
from pysim.faults.proxy import FaultProxy
from pysim.trace import Sink, TraceWriter
from pysim.uart import FaultHook, UartLink

ROOT = Path(__file__).resolve().parents[1]
DEMO_FIRMWARE = ROOT / "firmware" / "build" / "demo.elf"
DEMO_DEVICE = ("a1demoPK", "demo-device-01", "demo-secret-01")   # the demo firmware's defaults
BOOT_LINE = re.compile(r"^BOOT ")


@dataclass
class SessionOptions:
    firmware: Path | str | None = None        # an ELF; default: the demo
    board: str = "netduinoplus2"
    emulator: str | None = None               # qemu (default) | renode
    baud: int | None = None                   # pace the UART at this rate; None: as fast as it goes
    device: tuple[str, str, str] = DEMO_DEVICE
    cloud: dict[str, str] | None = None       # external services; None: the in-process cloud
    faults: Faults = field(default_factory=Faults)
    uart_faults: dict[str, FaultHook] = field(default_factory=dict)
    module: dict[str, Any] = field(default_factory=dict)   # more ModuleConfig fields
    workdir: Path | None = None               # the module's NV store goes here
    trace: Sink | None = None                 # where the readable trace goes
    boot_timeout: float = 20.0
    # ---- faults (docs/faults.md) ----
    fault_specs: list[str] = field(default_factory=list)   # applied once the UART link runs
    fault_proxy: bool = False                 # put the fault proxy between module and cloud anyway
    seed: int = 1                             # seeds every fault's generator
    capture: Path | str | None = None         # write a capture (JSON lines, every link) here
    icount: str | None = None                 # QEMU -icount value, e.g. "shift=7" (docs/determinism.md)

    @property
    def firmware_path(self) -> Path:
        return Path(self.firmware) if self.firmware else DEMO_FIRMWARE


class Session:
    def __init__(self, options: SessionOptions | None = None) -> None:
        self.options = options or SessionOptions()
        self.events = EventLog()
        self.cloud: Cloud | None = None
        self.module: IcaModule | None = None
        self.emulator: Emulator | None = None
        self.link: UartLink | None = None
        self.proxy: FaultProxy | None = None
        self.faults: FaultController | None = None
        self.capture: CaptureWriter | None = None
        self.trace = TraceWriter(self.options.trace) if self.options.trace else None
        self.t_spawn: float | None = None
        self.t_boot: float | None = None

    @property
    def console_lines(self) -> list[str]:
        return self.emulator.console.lines if self.emulator and self.emulator.console else []

    async def start(self) -> None:
        """Start everything; on any failure, stop what was started and raise."""
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        o = self.options
        firmware = o.firmware_path
        if not firmware.is_file():
            raise FileNotFoundError(f"no firmware at {firmware}: build it with `make -C firmware`")
        if self.trace:
            self.events.listeners.append(self.trace.event)
        if o.cloud is None:
            self.cloud = Cloud(events=self.events)
            await self.cloud.start()
            self.cloud.registry.add(*o.device)
            addresses = self.cloud.addresses
        else:
            addresses = o.cloud
        addresses = await self._start_fault_proxy(addresses)
        workdir = Path(o.workdir) if o.workdir else None
        config = ModuleConfig(nv_path=workdir / "ica-module.nv.json" if workdir else None,
                              faults=o.faults, **o.module)
        config.use_cloud(addresses)
        self.module = IcaModule(config, events=self.events)
        await self.module.start()
        if o.icount and emulator_class(o.emulator).name != "qemu":
            raise ValueError("icount is a QEMU option: use the qemu emulator")
        self.emulator = get_emulator(o.emulator, **({"icount": o.icount} if o.icount else {}))
        self.t_spawn = time.monotonic()
        await self.emulator.start(firmware, o.board)
        assert self.emulator.console is not None
        if self.trace:
            self.emulator.console.listeners.append(self.trace.console)
        self.emulator.console.listeners.append(
            lambda t, line: self.events.emit("console.line", None, line=line))
        await self.emulator.console.wait_for_line(BOOT_LINE, timeout=o.boot_timeout)
        self.t_boot = time.monotonic()
        self.link = UartLink(o.baud, faults=o.uart_faults)
        if self.trace:
            self.link.listeners.append(self.trace.uart)   # the trace listens; the link knows no trace
        await self.link.start(self.emulator.uart, self.module)
        self._start_faults()
        self._start_capture()

    async def wait_console(self, pattern: str | re.Pattern[str], timeout: float = 30.0) -> str:
        """The first console line (past or future) matching the regex ``pattern``."""
        assert self.emulator is not None and self.emulator.console is not None
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        return await self.emulator.console.wait_for_line(regex, timeout=timeout)

    async def wait_exit(self, timeout: float | None = None) -> int | None:
        """The firmware's exit code, or None while it still runs after ``timeout`` s."""
        assert self.emulator is not None
        return await self.emulator.wait_exit(timeout)

    async def stop(self) -> None:
        """Stop the link, the emulator, the module and the cloud; idempotent, never raises
        for a part that failed to start."""
        errors: list[BaseException] = []
        for step in (self._stop_link, self._stop_emulator, self._stop_module, self._stop_fault_proxy,
                     self._stop_cloud):
            try:
                await step()
            except Exception as error:   # keep stopping the rest
                errors.append(error)
        if self.trace:
            self.trace.flush()
        if self.capture is not None:
            self.capture.close()
        if errors:
            self.events.emit("session.error", None, errors=[repr(e) for e in errors])

    async def _stop_link(self) -> None:
        link, self.link = self.link, None
        if link:
            await link.stop()

    async def _stop_emulator(self) -> None:
        emulator, self.emulator = self.emulator, None
        if emulator:
            self._last_console = emulator.console.lines if emulator.console else []
            await emulator.stop()

    async def _stop_module(self) -> None:
        module, self.module = self.module, None
        if module:
            await module.stop()

    async def _stop_cloud(self) -> None:
        cloud, self.cloud = self.cloud, None
        if cloud:
            await cloud.stop()

    # ---- faults (pysim/faults; docs/faults.md) ---------------------------------
    async def _start_fault_proxy(self, addresses: dict[str, str]) -> dict[str, str]:
        o = self.options
        specs = [parse_fault(text) for text in o.fault_specs]    # bad specs fail before anything runs
        if not (o.fault_proxy or any(spec.link == "net" for spec in specs)):
            return addresses
        self.proxy = FaultProxy(self.events)
        return await self.proxy.start(addresses)

    def _start_faults(self) -> None:
        self.faults = FaultController(module=self.module, link=self.link, proxy=self.proxy,
                                      events=self.events, seed=self.options.seed)
        for text in self.options.fault_specs:
            self.faults.apply(text)

    def inject_fault(self, spec: str | FaultSpec) -> FaultHandle:
        """Apply a fault now (``net.*`` needs the proxy: a net fault at start or fault_proxy=True)."""
        if self.faults is None:
            raise FaultError("the session has not started")
        return self.faults.apply(spec)

    def clear_faults(self, kind: str | None = None) -> int:
        """Take every fault (of ``kind``) off; returns how many were active."""
        return self.faults.clear(kind) if self.faults else 0

    def _start_capture(self) -> None:
        """Every link from now on (the boot line included) goes to the capture file."""
        o = self.options
        if o.capture is None:
            return
        assert self.link is not None and self.emulator is not None and self.emulator.console is not None
        secret = o.device[2]
        password = DeviceCredentials(*o.device).sign()
        self.capture = capture = CaptureWriter(Path(o.capture), t0=self.t_spawn, secrets=[secret, password], meta={
            "firmware": str(o.firmware_path), "board": o.board, "emulator": self.emulator.name,
            "baud": o.baud, "faults": o.fault_specs, "seed": o.seed, "device": list(o.device[:2]),
            "module_faults": {"corrupt_ota_blocks": sorted(o.faults.corrupt_ota_blocks),
                              "corrupt_ota_image": o.faults.corrupt_ota_image}})
        for line in self.emulator.console.lines:
            capture.console(self.t_boot or time.monotonic(), line)
        self.emulator.console.listeners.append(capture.console)
        self.link.listeners.append(capture.uart)
        self.events.listeners.append(self._capture_event)
        if self.proxy is not None:
            self.proxy.taps.append(capture.net)

    def _capture_event(self, event: Event) -> None:
        """An event for the capture; an announced OTA image goes with its bytes (a replay needs them)."""
        assert self.capture is not None
        if event.kind == "ota.announce" and self.cloud is not None:
            image = self.cloud.ota.image(event.detail.get("image", ""))
            if image is not None:
                self.capture.event(Event("ota.image", event.device, {
                    "image": image.id, "version": image.version, "data": image.data}, event.t))
        self.capture.event(event)

    async def _stop_fault_proxy(self) -> None:
        proxy, self.proxy = self.proxy, None
        if self.faults is not None:
            self.faults.clear()
        if proxy:
            await proxy.stop()

    async def __aenter__(self) -> "Session":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


# ---- the demo ---------------------------------------------------------------

DEMO_STEPS = ("at", "mqtt_auth", "mqtt_connect", "mqtt_subscribe", "ota_version", "coap_auth",
              "coap_request", "http_auth", "http_request", "telemetry", "led", "ota")


@dataclass
class Verdict:
    exit_code: int | None
    passed: bool
    reason: str
    steps: dict[str, str]
    facts: dict[str, Any]

    def summary(self) -> str:
        lines = [f"verdict: {'PASS' if self.passed else 'FAIL'} ({self.reason})",
                 f"firmware exit code: {self.exit_code}"]
        for step in DEMO_STEPS:
            lines.append(f"  step {step:15s} {self.steps.get(step, 'not reached')}")
        for key, value in self.facts.items():
            lines.append(f"  {key}: {value}")
        return "\n".join(lines)


class DemoScenario:
    """The cloud's half of the demo: send a LED command once the firmware subscribed,
    announce an OTA image once its set-up is done, then wait for its verdict."""

    def __init__(self, session: Session, *, ota_size: int = 64 * 1024, ota_version: str = "1.1.0",
                 seed: int = 7, timeout: float = 90.0) -> None:
        self.session = session
        self.ota_size = ota_size
        self.ota_version = ota_version
        self.seed = seed
        self.timeout = timeout
        self.image = random.Random(seed).randbytes(ota_size)

    async def run(self) -> Verdict:
        s = self.session
        assert s.cloud is not None, "the demo scenario needs the in-process cloud"
        pk, dn, _ = s.options.device
        started = time.monotonic()
        stopped = ""
        try:
            await self._play(pk, dn)
        except (TimeoutError, asyncio.TimeoutError, ConnectionError) as error:
            stopped = f"scenario stopped: {error}"   # e.g. the firmware exited early
        remaining = self.timeout - (time.monotonic() - started)
        code = await s.wait_exit(max(1.0, remaining) if not stopped else 5.0)
        if code is None:
            return self._verdict(None, stopped or f"firmware still running after {self.timeout:g} s", started)
        return self._verdict(code, "", started)

    async def _play(self, pk: str, dn: str) -> None:
        s = self.session
        deadline = self.timeout
        await s.wait_console(r"^STEP mqtt_subscribe (ok|fail)", deadline)
        if "STEP mqtt_subscribe ok" in s.console_lines:
            await s.cloud.publish(f"/{pk}/{dn}/user/command", b'{"led":1}', qos=1)
        await s.wait_console(r"^STEP http_request (ok|fail)", deadline)
        image = s.cloud.ota.add_image(self.image, self.ota_version)
        await s.cloud.ota.announce(pk, dn, image)

    def _verdict(self, code: int | None, reason: str, started: float) -> Verdict:
        s = self.session
        lines = s.console_lines or getattr(s, "_last_console", [])
        steps: dict[str, str] = {}
        for line in lines:
            m = re.match(r"^STEP (\S+) (ok|fail)\s*(.*)$", line)
            if m:
                steps[m.group(1)] = "ok" if m.group(2) == "ok" else f"FAIL {m.group(3)}".rstrip()
        pk, dn, _ = s.options.device
        published = [e.detail for e in s.events.events if e.kind == "mqtt.publish"]
        telemetry = [p for p in published if p.get("topic") == f"/{pk}/{dn}/user/telemetry"]
        acks = [p for p in published if p.get("topic") == f"/{pk}/{dn}/user/ack"]
        progress = [e.detail.get("step") for e in s.events.events if e.kind == "ota.progress"]
        facts: dict[str, Any] = {
            "telemetry messages at the cloud": len(telemetry),
            "acknowledgements at the cloud": [json.loads(a["payload"]) for a in acks],
            "ota image": f"{self.ota_size} bytes, md5 {hashlib.md5(self.image).hexdigest()}",
            "ota progress reported": progress,
            "version reported": s.cloud.ota.versions.get((pk, dn)) if s.cloud else None,
            "crc re-reads": sum("crc mismatch" in line for line in lines),
            "run time": f"{time.monotonic() - started:.2f} s",
        }
        failed = [f"{k}: {v}" for k, v in steps.items() if v != "ok"]
        if not reason:
            if code != 0:
                reason = f"firmware exited with {code}" + (f"; {failed[0]}" if failed else "")
            elif missing := [step for step in DEMO_STEPS if steps.get(step) != "ok"]:
                reason = f"exit 0 but steps not done: {', '.join(missing)}"
            else:
                reason = "every demo step done, firmware exited 0"
        passed = code == 0 and all(steps.get(step) == "ok" for step in DEMO_STEPS)
        if not passed and code is None and lines:
            reason += f"; last console line: {lines[-1]!r}"
        return Verdict(code, passed, reason, steps, facts)
