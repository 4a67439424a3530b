"""One fleet shard: many devices in one process and one asyncio loop.

:func:`run_shard` is what a shard process (or a distributed task) runs: it starts its
devices (connecting at most ``connect_concurrency`` at once), lets each publish
``duration * rate`` telemetry messages at ``rate`` per second (QoS ``qos``), waits for
every publish's result, stops everything and returns a plain dict:
``{"shard", "devices": {name: DeviceRecord as dict}, "cpu_s", "wall_s", "rss_base_kb",
"rss_peak_kb", "emulator_cpu_s", "emulator_rss_kb"}``.

A *scripted* device is an :class:`~peripherals.ica.IcaModule` driven by an
:class:`~pysim.te.AtClient` over its sans-I/O byte feed (no UART, no thread). An
*emulated* device is the demo firmware (built with ``DEMO_EXIT_AFTER=0``) in QEMU,
wired to its own module by a :class:`~pysim.uart.UartLink`.

A publish's send time is taken when the TE writes ``AT+IMQTTPUB`` (scripted) or when
the module has read that line from the UART (emulated); it counts as *attempted* once
the module accepted the command (``+IMQTTPUB:<id>`` and OK), as *failed* when its
result is not 0 (or, scripted, none came within ``RESULT_WAIT`` s). The fleet's
subscriber decides what was received: a failed publish that arrives anyway is received.

SIGTERM (in a shard process of its own: ``run_shard`` in the main thread) stops a shard
early: every device task is cancelled, each closes its module and stops its emulator,
and the partial result (``"interrupted": True``) is returned as usual.
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import re
import resource
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from peripherals.ica import IcaModule, ModuleConfig
from pysim.te import AtClient

from .plan import EMULATED, FleetDevice, ShardSpec
from .ticks import Ticks

PROGRESS_EVERY = 0.5
CONNECT_TRIES = 5
RESULT_WAIT = 30.0          # after the last publish: how long results may take
SEQ = re.compile(r'\\?"seq\\?":(\d+)')
CLK_TCK = os.sysconf("SC_CLK_TCK")
LOOPS = ("auto", "asyncio", "uvloop")


def uvloop_available() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class DeviceRecord:
    kind: str
    connected: bool = False
    attempted: int = 0
    failed: int = 0
    retries: int = 0                 # connection attempts after a failed one
    sent: dict[int, float] = field(default_factory=dict)   # seq -> wall-clock send time, every attempted one
    late: list[float] = field(default_factory=list)        # scripted: s each publish left after its due time
    error: str = ""


def at_string(text: str) -> str:
    """A quoted AT string parameter: backslash and quote escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def telemetry(seq: int, t: float) -> str:
    return f'{{"seq":{seq},"t":{t:.6f}}}'


def raise_fd_limit() -> None:
    """As many sockets as the hard limit allows (a shard of 5,000 modules needs them)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def proc_usage(pid: int) -> tuple[float, int]:
    """(CPU seconds, peak RSS in KiB) of a live process, from /proc; (0, 0) once gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK
        with open(f"/proc/{pid}/status") as f:
            peak = next((int(line.split()[1]) for line in f if line.startswith("VmHWM:")), 0)
        return cpu, peak
    except (OSError, IndexError, ValueError):
        return 0.0, 0


def rss_kb() -> int:
    with open("/proc/self/status") as f:
        return next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), 0)


class Shard:
    def __init__(self, spec: ShardSpec, progress: Callable[[dict], None] | None) -> None:
        self.spec = spec
        self.progress = progress
        self.records = {d.device_name: DeviceRecord(d.kind) for d in spec.devices}
        self.pids: set[int] = set()
        self.emulator_cpu = 0.0
        self.emulator_rss = 0
        self.rng = random.Random(spec.index)
        self.ticks = Ticks()
        self.interrupted = False
        self._tasks: list[asyncio.Task] = []
        # scripted devices publish together, once each of this shard's has connected or given up
        self._connecting = sum(d.kind != EMULATED for d in spec.devices)
        self.all_connected = asyncio.Event()

    def _connect_done(self) -> None:
        self._connecting -= 1
        if self._connecting <= 0 and not self.all_connected.is_set():
            # what the devices are made of lives to the end: out of the collector's sight,
            # so that its full collections (hundreds of ms with thousands of modules) do
            # not stall the publishing that starts now
            gc.collect()
            gc.freeze()
            self.all_connected.set()

    def interrupt(self) -> None:
        """Stop early (SIGTERM): cancel every device; ``run`` returns what was done."""
        self.interrupted = True
        for task in self._tasks:
            task.cancel()

    def report(self, final: bool = False) -> None:
        if self.progress is None:
            return
        records = self.records.values()
        self.progress({"shard": self.spec.index, "pid": os.getpid(), "emulator_pids": sorted(self.pids),
                       "connected": sum(r.connected for r in records),
                       "attempted": sum(r.attempted for r in records),
                       "failed": sum(r.failed for r in records), "final": final})

    async def run(self) -> dict[str, Any]:
        rss_base, t0 = rss_kb(), time.monotonic()
        usage0 = resource.getrusage(resource.RUSAGE_SELF)
        gate = asyncio.Semaphore(self.spec.connect_concurrency)
        self.boot_gate = asyncio.Semaphore(self.spec.boot_concurrency)
        reporter = asyncio.ensure_future(self._report_loop())
        self._tasks = [asyncio.ensure_future(self._device(d, gate)) for d in self.spec.devices]
        if self.interrupted:
            self.interrupt()
        try:
            await asyncio.gather(*self._tasks, return_exceptions=True)   # a cancelled device is a result too
        finally:
            reporter.cancel()
            gc.unfreeze()    # a Dask worker's process runs on: what was frozen may be collected again
        self.report(final=True)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {"shard": self.spec.index, "pid": os.getpid(),
                # a shallow copy a record (asdict would deep-copy every send time: seconds for
                # thousands of devices); the result is pickled to the parent anyway
                "devices": {name: dict(vars(r)) for name, r in self.records.items()},
                "cpu_s": usage.ru_utime + usage.ru_stime - usage0.ru_utime - usage0.ru_stime,
                "wall_s": time.monotonic() - t0, "rss_base_kb": rss_base, "rss_peak_kb": usage.ru_maxrss,
                "emulator_cpu_s": self.emulator_cpu, "emulator_rss_kb": self.emulator_rss,
                "interrupted": self.interrupted}

    async def _report_loop(self) -> None:
        while True:
            self.report()
            await asyncio.sleep(PROGRESS_EVERY)

    async def _device(self, device: FleetDevice, gate: asyncio.Semaphore) -> None:
        record = self.records[device.device_name]
        try:
            if device.kind == EMULATED:
                await self._emulated(device, record, self.boot_gate)
            else:
                await self._scripted(device, record, gate)
        except Exception as error:   # one device's failure is its own
            record.error = f"{type(error).__name__}: {error}"[:300]

    # ---- a module driven by a scripted TE ------------------------------------------
    async def _scripted(self, device: FleetDevice, record: DeviceRecord, gate: asyncio.Semaphore) -> None:
        spec = self.spec
        config = ModuleConfig(name=device.device_name, echo=False)
        config.use_cloud(spec.cloud)
        why: list[str] = []

        def observe(kind: str, **detail: Any) -> None:   # keep why a connection failed
            if detail.get("reason") and not detail.get("ok", False):
                why.append(str(detail["reason"]))

        module = IcaModule(config, observer=observe, kinds=("net.auth", "net.mqtt"))   # only these reach observe
        at = AtClient(module.feed, default_timeout=60.0)
        module.on_output = at.feed
        connecting = True
        try:
            await module.start()
            for attempt in range(CONNECT_TRIES):   # as a TE would: MQTT's TIMEOUT is 2 s at most
                try:
                    async with gate:
                        await self._connect(device, at, why)
                    break
                except ConnectionError:
                    if attempt == CONNECT_TRIES - 1:
                        raise
                    record.retries += 1
                    await asyncio.sleep(self.rng.uniform(0.5, 2.0) * (attempt + 1))   # back off
            record.connected = True
            connecting = False
            self._connect_done()
            await self.all_connected.wait()
            await self._publish_loop(device, record, at)
        finally:
            if connecting:
                self._connect_done()
            await module.stop()

    @staticmethod
    async def _connect(device: FleetDevice, at: AtClient, why: list[str]) -> None:
        await at.expect_ok("AT+IMQTTAUTH=" + ",".join(
            at_string(x) for x in (device.product_key, device.device_name, device.device_secret)))
        auth = await at.wait_urc("+IMQTTAUTH", timeout=60.0)
        if auth.text != "+IMQTTAUTH:OK":
            raise ConnectionError(f"{auth.text} ({'; '.join(why[-2:])})")
        await at.expect_ok("AT+IMQTTCONN")
        state = await at.wait_urc("+IMQTTSTATE", timeout=60.0)
        if state.text != "+IMQTTSTATE:2":
            raise ConnectionError(f"{state.text} ({'; '.join(why[-2:])})")

    async def _publish_loop(self, device: FleetDevice, record: DeviceRecord, at: AtClient) -> None:
        loop = asyncio.get_running_loop()
        period = 1.0 / self.spec.rate
        head = f"AT+IMQTTPUB={at_string(device.topic)},{self.spec.qos},"
        pending: dict[str, tuple[int, float]] = {}
        due = loop.time() + self.rng.uniform(0, period)    # spread the devices over a period
        for seq in range(1, self.spec.messages_per_device + 1):
            if due > loop.time():
                await self.ticks.until(due)
            record.late.append(loop.time() - due)   # a shard short of CPU falls behind here
            due += period
            t = time.time()
            response = await at.command(head + at_string(telemetry(seq, t)))
            if response.ok:
                pending[response.line("+IMQTTPUB").fields[0]] = (seq, t)
                record.attempted += 1
                record.sent[seq] = t
            else:
                record.failed += 1
            self._results(at, pending, record)
        deadline = loop.time() + RESULT_WAIT
        while pending and loop.time() < deadline:
            try:
                await at.wait_urc("+IMQTTPUB", lambda line: len(line.fields) == 2,
                                  timeout=deadline - loop.time(), consume=False)
            except Exception:
                break
            self._results(at, pending, record)
        record.failed += len(pending)          # no result in time

    @staticmethod
    def _results(at: AtClient, pending: dict[str, tuple[int, float]], record: DeviceRecord) -> None:
        for line in at.urcs:
            if line.name == "+IMQTTPUB" and len(line.fields) == 2 and line.fields[0] in pending:
                pending.pop(line.fields[0])
                if line.fields[1] != "0":
                    record.failed += 1
        at.urcs.clear()

    # ---- the demo firmware in an emulator ------------------------------------------
    async def _emulated(self, device: FleetDevice, record: DeviceRecord, gate: asyncio.Semaphore) -> None:
        from pysim import contract as firmware_contract
        from pysim.emulators import Board, get_emulator
        from pysim.uart import UartLink

        spec = self.spec
        wanted = spec.messages_per_device
        enough = asyncio.Event()
        publishing = asyncio.Event()

        def observe(kind: str, **detail: Any) -> None:
            if kind == "net.mqtt" and detail.get("what") == "connected":
                record.connected = True
            elif kind == "net.mqtt" and detail.get("what") == "publish failed":
                record.failed += 1
            elif kind == "at.command" and detail.get("line", "").startswith("AT+IMQTTPUB=") \
                    and "/user/telemetry" in detail["line"] and detail.get("final") == "OK":
                match = SEQ.search(detail["line"])
                if match and record.attempted < wanted:
                    record.attempted += 1
                    record.sent[int(match.group(1))] = time.time()
                    publishing.set()
                    if record.attempted >= wanted:
                        enough.set()

        config = ModuleConfig(name=device.device_name)
        config.use_cloud(spec.cloud)
        module = IcaModule(config, observer=observe)
        await module.start()
        board = Board.load("netduinoplus2")
        contract = firmware_contract.effective(None, board.contract)
        board = board.with_wiring(contract.at_uart, contract.console_uart)
        emulator = get_emulator(spec.emulator)
        link = UartLink(None)
        try:
            async with gate:
                await emulator.start(spec.firmware[device.device_name], board)
                if emulator.pid:
                    self.pids.add(emulator.pid)
                await firmware_contract.wait_ready(contract, emulator, link,
                                                   lambda: link.start(emulator.uart, module), spec.boot_timeout)
                # hold the gate through the firmware's start-up steps (MQTT, CoAP, HTTP):
                # a few devices starting at a time, the others already publishing
                exited = asyncio.ensure_future(emulator.wait_exit())
                started = asyncio.ensure_future(publishing.wait())
                await asyncio.wait([exited, started], timeout=spec.boot_timeout,
                                   return_when=asyncio.FIRST_COMPLETED)
                started.cancel()
            done = asyncio.ensure_future(enough.wait())
            await asyncio.wait([exited, done], timeout=spec.boot_timeout + spec.duration * 3,
                               return_when=asyncio.FIRST_COMPLETED)
            for task in (exited, done):
                task.cancel()
            if not enough.is_set():
                raise RuntimeError(f"{record.attempted} of {wanted} messages; emulator exit code "
                                   f"{emulator.returncode}; {emulator.output.strip()[-200:]}")
        finally:
            if emulator.pid:
                cpu, peak = proc_usage(emulator.pid)
                self.emulator_cpu += cpu
                self.emulator_rss += peak
            await link.stop()
            await emulator.stop()
            self.pids.discard(emulator.pid or -1)
            # the firmware is gone: let the module finish the publishes it has started
            deadline = asyncio.get_running_loop().time() + (0 if self.interrupted else RESULT_WAIT)
            while module.ctx.busy("publish") and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.05)
            await module.stop()


def run_shard(spec: ShardSpec, progress: Callable[[dict], None] | None = None,
              stop_wait: Callable[[float], bool] | None = None) -> dict[str, Any]:
    """Run one shard to the end in a fresh event loop; see the module's docstring.
    ``stop_wait(timeout)``, if given, blocks up to ``timeout`` s and returns True once the
    shard must stop early (as on SIGTERM; a Dask task has no signals of its own)."""
    raise_fd_limit()
    shard = Shard(spec, progress)
    in_main_thread = threading.current_thread() is threading.main_thread()   # not in a Dask worker's thread
    if in_main_thread:   # a SIGTERM before the loop runs: the shard starts interrupted
        signal.signal(signal.SIGTERM, lambda *_: shard.interrupt())

    async def watch() -> None:
        while not await asyncio.to_thread(stop_wait, 0.5):
            pass
        shard.interrupt()

    async def main() -> dict[str, Any]:
        if in_main_thread:
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, shard.interrupt)
        watcher = asyncio.ensure_future(watch()) if stop_wait is not None else None
        try:
            return await shard.run()
        finally:
            if watcher is not None:
                watcher.cancel()

    if spec.loop == "uvloop" or (spec.loop == "auto" and uvloop_available()):
        import uvloop
        return uvloop.run(main())
    return asyncio.run(main())
