"""``Session``: cloud + module + MCU firmware in an emulator, wired by a UART link.

    session = Session(SessionOptions(firmware="firmware/build/demo.elf"))
    await session.start()          # cloud, module, emulator; waits for the BOOT line
    ...                            # session.cloud, .module, .emulator, .link, .events
    await session.stop()           # every process, socket and task ends

While it runs, ``session.console`` and ``session.uart`` are :class:`LineBuffer` objects a
test expects lines on (the UART's AT lines both ways, as the trace shows them
without their line ends), ``session.cloud_side`` is the cloud's half (publish,
expect messages and requests, push OTA images) and ``session.trace_lines`` the
readable trace so far. Scenario files (``pysim.scenario``) drive a session.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from peripherals.ica import Faults, IcaModule, ModuleConfig
from pysim import contract as firmware_contract
from pysim import postmortem
from pysim.cloud import Cloud
from peripherals.ica.devauth import DeviceCredentials
from pysim.capture import CaptureWriter
from pysim.cloud_side import CloudSide, ExternalCloudSide, InProcessCloudSide
from pysim.contract import FirmwareContract
from pysim.emulators import Board, emulator_class, get_emulator
from pysim.emulators.board import built_app
from pysim.emulators.base import Emulator
from pysim.emulators.console import ConsoleClosed
from pysim.events import Event, EventLog
from pysim.expect import LineBuffer
from pysim.faults import FaultController, FaultError, FaultHandle, FaultSpec, parse_fault
from pysim.faults.proxy import FaultProxy
from pysim.trace import TraceWriter
from pysim.uart import TA_TO_TE, TE_TO_TA, FaultHook, UartLink

ROOT = Path(__file__).resolve().parents[1]
DEMO_FIRMWARE = ROOT / "firmware" / "build" / "demo.elf"   # present in a source checkout
DEMO_DEVICE = ("a1demoPK", "demo-device-01", "demo-secret-01")   # the demo firmware's defaults
BOOT_LINE = firmware_contract.DEFAULTS.ready.regex


@dataclass
class SessionOptions:
    firmware: Path | str | None = None        # an ELF; default: the demo
    board: str = "netduinoplus2"
    emulator: str | None = None               # qemu (default) | renode
    baud: int | None = None                   # pace the UART at this rate; None: as fast as it goes
    device: tuple[str, str, str] = DEMO_DEVICE
    cloud: dict[str, str] | None = None       # external services; None: the in-process cloud
    cloud_ports: tuple[str, int, int, int] = ("127.0.0.1", 0, 0, 0)   # in-process cloud: host, MQTT, CoAP, HTTP
    faults: Faults = field(default_factory=Faults)
    uart_faults: dict[str, FaultHook] = field(default_factory=dict)
    module: dict[str, Any] = field(default_factory=dict)   # more ModuleConfig fields
    workdir: Path | None = None               # the module's NV store goes here
    trace: Callable[[str], object] | None = None   # also gets each readable trace line
    trace_t0: float | None = None              # time.monotonic() the trace's times count from; None: its first line
    boot_timeout: float = 20.0
    # firmware contract and debugger (pysim/contract.py, docs/firmware-contract.md, docs/debugging.md)
    contract: FirmwareContract | None = None  # this run's wiring/ready/verdict; None: the board's
    gdb_port: int | None = None               # serve GDB on 127.0.0.1:PORT
    gdb_wait: bool = False                    # hold the CPU until GDB continues it
    # ---- faults, capture, icount (docs/faults.md, docs/experiments.md, docs/determinism.md) ----
    fault_specs: list[str] = field(default_factory=list)   # applied once the UART link runs
    fault_proxy: bool = False                 # put the fault proxy between module and cloud anyway
    seed: int = 1                             # seeds every fault's generator
    capture: Path | str | None = None         # write a capture (JSON lines, every link) here
    icount: str | None = None                 # QEMU -icount value, e.g. "shift=7" (docs/determinism.md)

    @property
    def firmware_path(self) -> Path:
        if self.firmware:
            return Path(self.firmware)
        return built_app(ROOT / "firmware", self.board, "demo")


ELF_MAGIC = b"\x7fELF"
EM_ARM = 40


def check_firmware(path: Path | str) -> None:
    """Raise ``FileNotFoundError``/``ValueError`` with one clear line unless ``path`` is
    an ARM ELF file (what the emulators boot)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no firmware at {path}: build it first (the demo: `make -C firmware`)")
    with path.open("rb") as f:
        header = f.read(20)
    if header[:4] != ELF_MAGIC:
        raise ValueError(f"{path} is not an ELF file (it starts with {header[:4]!r}): give the linked .elf")
    machine = int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")
    if machine != EM_ARM:
        raise ValueError(f"{path} is an ELF for machine {machine}, not ARM (40): build it for the board's MCU")


UART_LABELS = (TE_TO_TA, TA_TO_TE)
_LINE_ENDS = re.compile(r"^(?:\\[rn])+|(?:\\[rn])+$")   # the trace's escaped CR/LF at either end


class Session:
    """Cloud + module + firmware. ``cloud``: a started in-process cloud to share (the
    session registers its device there and leaves it running at ``stop``)."""

    def __init__(self, options: SessionOptions | None = None, *, cloud: Cloud | None = None) -> None:
        self.options = options or SessionOptions()
        self._shared_cloud = cloud
        self.events = cloud.events if cloud is not None else EventLog()
        self.cloud: Cloud | None = None
        self.cloud_side: CloudSide | None = None
        self.module: IcaModule | None = None
        self.emulator: Emulator | None = None
        self.link: UartLink | None = None
        self.proxy: FaultProxy | None = None
        self.faults: FaultController | None = None
        self.capture: CaptureWriter | None = None
        self.console = LineBuffer("console")
        self.uart = LineBuffer("uart")
        self.trace_lines: list[str] = []
        self.trace = TraceWriter(self._trace_line, t0=self.options.trace_t0)
        self.t_spawn: float | None = None
        self.t_boot: float | None = None
        self.contract: FirmwareContract | None = None  # the effective contract once started
        self.startup_report: postmortem.Report | None = None  # where a firmware that never got ready was
        self._console_watch: asyncio.Task[None] | None = None

    @property
    def console_lines(self) -> list[str]:
        """Every console line so far (kept after ``stop``)."""
        return [line.text for line in self.console.lines]

    @property
    def device(self) -> tuple[str, str]:
        """The (product key, device name) the firmware uses."""
        return self.options.device[0], self.options.device[1]

    def _trace_line(self, line: str) -> None:
        self.trace_lines.append(line)
        if self.options.trace is not None:
            self.options.trace(line)
        parts = line.lstrip().split(" ", 2)
        if len(parts) == 3 and parts[1] in UART_LABELS:
            self.uart.add(time.monotonic(), _LINE_ENDS.sub("", parts[2]), parts[1])

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
        check_firmware(firmware)
        self.events.listeners.append(self.trace.event)
        if o.cloud is not None:
            addresses = o.cloud
            if "mqtt" in addresses:
                external = ExternalCloudSide(addresses["mqtt"])
                self.cloud_side = external
                await external.start()
        else:
            if self._shared_cloud is not None:
                self.cloud = self._shared_cloud
            else:
                host, mqtt, coap, http = o.cloud_ports
                self.cloud = Cloud(host, mqtt, coap, http, events=self.events)
                await self.cloud.start()
            self.cloud.registry.add(*o.device)
            addresses = self.cloud.addresses
            self.cloud_side = InProcessCloudSide(self.cloud)
        addresses = await self._start_fault_proxy(addresses)
        workdir = Path(o.workdir) if o.workdir else None
        config = ModuleConfig(nv_path=workdir / "ica-module.nv.json" if workdir else None,
                              faults=o.faults, **o.module)
        config.use_cloud(addresses)
        self.module = IcaModule(config, events=self.events)
        await self.module.start()
        await self._start_firmware(firmware)

    # ---- the firmware contract and the debugger (logic in pysim/contract.py) ----
    async def _start_firmware(self, firmware: Path) -> None:
        """Start the emulator with the contract's wiring and wait until the firmware is
        ready; the UART link starts when the contract says."""
        o = self.options
        board = Board.load(o.board)
        self.contract = firmware_contract.effective(o.contract, board.contract)
        board = board.with_wiring(self.contract.at_uart, self.contract.console_uart)
        if o.icount and emulator_class(o.emulator).name != "qemu":
            raise ValueError("icount is a QEMU option: use the qemu emulator")
        self.emulator = get_emulator(o.emulator, gdb_port=o.gdb_port, gdb_wait=o.gdb_wait,
                                     **({"icount": o.icount} if o.icount else {}))
        self.t_spawn = time.monotonic()
        await self.emulator.start(firmware, board)
        console = self.emulator.console
        if console is not None:
            for line in console.lines:   # what came before the listeners
                self._console_line(time.monotonic(), line)
            console.listeners.append(self._console_line)
            self._console_watch = asyncio.ensure_future(self._watch_console(console))
        self.link = link = UartLink(o.baud, faults=o.uart_faults)
        link.listeners.append(self.trace.uart)   # the trace listens; the link knows no trace
        emulator, module = self.emulator, self.module
        try:
            await firmware_contract.wait_ready(self.contract, emulator, link, lambda: link.start(emulator.uart, module),
                                               None if o.gdb_wait else o.boot_timeout)
        except (TimeoutError, ConnectionError) as error:  # hung or crashed before it was ready
            self.startup_report = await self.postmortem(str(error))
            raise
        self.t_boot = time.monotonic()
        self._start_faults()
        self._start_capture()

    async def postmortem(self, reason: str) -> "postmortem.Report":
        """Where the firmware is, or was when it faulted (pysim/postmortem.py); call it
        before ``stop``."""
        assert self.emulator is not None
        return await postmortem.collect(self.emulator, self.options.firmware_path, reason,
                                        self.link.records if self.link else [], self.console_lines)

    def _console_line(self, t: float, line: str) -> None:
        self.trace.console(t, line)
        self.console.add(t, line)
        self.events.emit("console.line", None, line=line)

    async def _watch_console(self, console: Any) -> None:
        """End console waits once the console has closed (the firmware exited)."""
        try:
            await console.wait_for_line(lambda _line: False, timeout=None)
        except ConsoleClosed:
            self.console.close()

    async def expect_console(self, pattern: str | re.Pattern[str], timeout: float = 10.0) -> re.Match[str]:
        """The match of the next console line (from the cursor on) that ``pattern`` searches."""
        return await self.console.expect(pattern, timeout)

    async def expect_uart(self, pattern: str | re.Pattern[str], timeout: float = 10.0,
                          direction: str | None = None) -> re.Match[str]:
        """The match of the next AT line (``TE->TA``, ``TA->TE`` or either) that ``pattern`` searches."""
        return await self.uart.expect(pattern, timeout, labels=(direction,) if direction else None)

    def write_console(self, data: bytes | str) -> None:
        """Send bytes (a str is UTF-8 encoded) to the firmware's console input."""
        assert self.emulator is not None and self.emulator.console is not None, "not started"
        self.emulator.console.write(data.encode() if isinstance(data, str) else bytes(data))

    async def wait_console(self, pattern: str | re.Pattern[str], timeout: float = 30.0) -> str:
        """The first console line (past or future) matching the regex ``pattern``."""
        assert self.emulator is not None and self.emulator.console is not None
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        return await self.emulator.console.wait_for_line(regex, timeout=timeout)

    async def wait_exit(self, timeout: float | None = None) -> int | None:
        """The firmware's exit code by the contract's verdict, or None while it still runs
        after ``timeout`` s."""
        assert self.emulator is not None and self.contract is not None
        return await firmware_contract.wait_verdict(self.contract, self.emulator, timeout)

    async def stop(self) -> None:
        """Stop the link, the emulator, the module and the cloud; idempotent, never raises
        for a part that failed to start."""
        errors: list[BaseException] = []
        if self._console_watch is not None:
            self._console_watch.cancel()
        for step in (self._stop_link, self._stop_emulator, self._stop_module, self._stop_fault_proxy,
                     self._stop_cloud):
            try:
                await step()
            except Exception as error:   # keep stopping the rest
                errors.append(error)
        if self.capture is not None:
            self.capture.close()
        self.trace.flush()
        if self.trace.event in self.events.listeners:
            self.events.listeners.remove(self.trace.event)
        if errors:
            self.events.emit("session.error", None, errors=[repr(e) for e in errors])

    async def _stop_link(self) -> None:
        link, self.link = self.link, None
        if link:
            await link.stop()

    async def _stop_emulator(self) -> None:
        emulator, self.emulator = self.emulator, None
        if emulator:
            await emulator.stop()

    async def _stop_module(self) -> None:
        module, self.module = self.module, None
        if module:
            await module.stop()

    async def _stop_cloud(self) -> None:
        side, self.cloud_side = self.cloud_side, None
        if side:
            await side.close()
        cloud, self.cloud = self.cloud, None
        if cloud and cloud is not self._shared_cloud:
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
