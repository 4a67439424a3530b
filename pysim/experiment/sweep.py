"""Parameter sweeps: one scenario over a grid, each point repeated.

A sweep file (YAML or JSON) names the grid and the scenario; see docs/experiments.md::

    name: example
    scenario: publish          # a TE publishes through the module to an independent subscriber
    messages: 10               # per run
    qos: 1
    repeats: 2
    grid:
      baud: [115200, 921600]   # the UART is paced at this rate (null: unpaced)
      latency_ms: [0, 50]      # net.latency on MQTT, one way
      payload: [16, 256]       # bytes of each message
      fault_rate: [0, 0.02]    # put into `fault` below when > 0
    fault: "net.loss:rate={fault_rate},service=mqtt"

Scenario ``firmware``: a firmware (``firmware:``, default the demo of ``board:``) runs in
the emulator against its module and the in-process cloud, behind the fault proxy, with
``play:`` (a scenario file of docs/scenarios.md, default the demo's) as the cloud's
half; ``latency_ms`` is net.latency on every service. Per run: the runner's verdict
and every AT command the firmware made, timed from the end of its line to its final
result code (:mod:`.at_timing`). The firmware decides its payloads: no ``payload`` axis.

Scenario ``publish``: the TE (Python, an ``AtClient``) sits on a UART link paced at
``baud`` to a module, which goes through the fault proxy to the in-process cloud; an
independent paho-mqtt subscriber (the cloud's service user) receives. Each message is
sent once the previous one is acknowledged (+IMQTTPUB:<id>,0), so latencies do not
queue behind each other. Per message: ``latency_ms`` (from the TE writing the AT line
to the subscriber receiving it), ``ack_ms`` (to the result URC). Per run: delivered,
lost, percentiles, throughput.
"""

from __future__ import annotations

import asyncio
import csv
import itertools
import json
import socket
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pysim.capture import CaptureWriter
from pysim.faults import FaultController, parse_fault

from .report import point_label, write_report

GRID_KEYS = ("baud", "latency_ms", "payload", "fault_rate")
SCENARIOS = {"publish": GRID_KEYS, "firmware": ("baud", "latency_ms", "fault_rate")}   # name -> its grid axes
DEVICE = ("a1sweepPK", "sweep-device-01", "sweep-secret-01")


@dataclass
class Plan:
    name: str
    grid: dict[str, list[Any]]
    scenario: str = "publish"
    messages: int = 10
    qos: int = 1
    repeats: int = 1
    fault: str = ""
    timeout: float = 10.0          # publish: per message; firmware: per run
    firmware: Path | None = None   # firmware: the ELF (None: the demo of ``board``)
    board: str = "netduinoplus2"
    emulator: str | None = None
    play: Path | None = None       # firmware: the scenario file (None: the demo's)

    def points(self) -> list[dict[str, Any]]:
        keys = list(self.grid)
        return [dict(zip(keys, values)) for values in itertools.product(*(self.grid[k] for k in keys))]


def load_plan(path: Path) -> Plan:
    text = path.read_text()
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml
            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as error:       # yaml.YAMLError, json.JSONDecodeError: one line
        raise ValueError(f"{path}: not valid {'YAML' if path.suffix in ('.yaml', '.yml') else 'JSON'}: "
                         f"{str(error).splitlines()[0]}") from None
    if not isinstance(data, dict) or not isinstance(data.get("grid"), dict) or not data["grid"]:
        raise ValueError(f"{path}: a sweep file needs a `grid:` mapping of parameter -> list of values")
    scenario = data.get("scenario", "publish")
    if scenario not in SCENARIOS:
        raise ValueError(f"{path}: unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}")
    axes = SCENARIOS[scenario]
    unknown = set(data["grid"]) - set(axes)
    if unknown:
        raise ValueError(f"{path}: unknown grid parameter(s) {', '.join(sorted(unknown))} for scenario "
                         f"{scenario}; known: {', '.join(axes)}")
    for key, values in data["grid"].items():
        if not isinstance(values, list) or not values:
            raise ValueError(f"{path}: grid.{key} must be a non-empty list")

    def near(key: str) -> Path | None:          # a path in the file is relative to the file
        value = data.get(key)
        return None if value in (None, "") else (path.parent / str(value)).resolve()
    plan = Plan(name=str(data.get("name") or path.stem), grid=data["grid"], scenario=scenario,
                messages=int(data.get("messages", 10)), qos=int(data.get("qos", 1)),
                repeats=int(data.get("repeats", 1)), fault=str(data.get("fault", "")),
                timeout=float(data.get("timeout", 10.0 if scenario == "publish" else 90.0)),
                firmware=near("firmware"), board=str(data.get("board", "netduinoplus2")),
                emulator=data.get("emulator"), play=near("play"))
    if scenario == "firmware":
        from pysim.scenario import load_scenario
        from pysim.session import check_firmware
        if plan.firmware is not None:
            check_firmware(plan.firmware)
        if plan.play is not None:
            load_scenario(plan.play)             # a bad scenario fails before anything runs
    if plan.fault and 0 < max(plan.grid.get("fault_rate", [0]) or [0]):
        parse_fault(plan.fault.format(fault_rate=0.5))     # a bad template fails before anything runs
    return plan


@dataclass
class Message:
    """publish: one message; firmware: one AT command (``latency_ms``: its round trip)."""
    index: int
    ok: bool
    latency_ms: float | None
    ack_ms: float | None
    command: str = ""


@dataclass
class Run:
    point: dict[str, Any]
    repeat: int
    messages: list[Message] = field(default_factory=list)
    seconds: float = 0.0
    error: str = ""
    capture: Path | None = None
    outcome: str = ""              # firmware: the runner's verdict (pass, fail, timeout)
    kind: str = "publish"          # the plan's scenario

    @property
    def delivered(self) -> int:
        return sum(m.latency_ms is not None for m in self.messages)

    def row(self, payload: int) -> dict[str, Any]:
        lat = sorted(m.latency_ms for m in self.messages if m.latency_ms is not None)
        if self.kind == "firmware":
            return {**{k: self.point.get(k) for k in SCENARIOS["firmware"]}, "repeat": self.repeat,
                    "outcome": self.outcome, "commands": len(self.messages), "answered": self.delivered,
                    "not_ok": sum(not m.ok for m in self.messages),
                    "p50_ms": round(statistics.median(lat), 3) if lat else None,
                    "p95_ms": round(lat[min(len(lat) - 1, int(0.95 * len(lat)))], 3) if lat else None,
                    "max_ms": round(lat[-1], 3) if lat else None,
                    "seconds": round(self.seconds, 3), "error": self.error}
        return {**{k: self.point.get(k) for k in GRID_KEYS}, "repeat": self.repeat,
                "sent": len(self.messages), "delivered": self.delivered,
                "lost": len(self.messages) - self.delivered,
                "p50_ms": round(statistics.median(lat), 3) if lat else None,
                "p95_ms": round(lat[min(len(lat) - 1, int(0.95 * len(lat)))], 3) if lat else None,
                "max_ms": round(lat[-1], 3) if lat else None,
                "msg_per_s": round(self.delivered / self.seconds, 3) if self.seconds else None,
                "bytes_per_s": round(self.delivered * payload / self.seconds, 1) if self.seconds else None,
                "error": self.error}


async def run_point(plan: Plan, point: dict[str, Any], repeat: int, *, seed: int,
                    capture: Path | None = None) -> Run:
    if plan.scenario == "firmware":
        return await run_firmware_point(plan, point, repeat, seed=seed, capture=capture)
    return await run_publish_point(plan, point, repeat, seed=seed, capture=capture)


async def run_firmware_point(plan: Plan, point: dict[str, Any], repeat: int, *, seed: int,
                             capture: Path | None = None) -> Run:
    import tempfile

    from pysim.runner import RunChecks, run_firmware
    from pysim.scenario import builtin_scenario, load_scenario
    from pysim.session import Session, SessionOptions

    from .at_timing import CommandTimer

    run = Run(point, repeat, capture=capture, kind="firmware")
    specs = [f"net.latency:ms={point['latency_ms']}"] if point.get("latency_ms") else []
    if point.get("fault_rate") and plan.fault:
        specs.append(plan.fault.format(**point))
    scenario = load_scenario(plan.play or builtin_scenario("demo"))
    with tempfile.TemporaryDirectory(prefix="pysim-sweep-") as workdir:
        session = Session(SessionOptions(firmware=plan.firmware, board=plan.board, emulator=plan.emulator,
                                         baud=point.get("baud"), fault_specs=specs, fault_proxy=True,
                                         seed=seed + repeat, capture=capture, workdir=Path(workdir)))
        records = []
        try:
            await session.start()
            started = time.monotonic()
            result = await run_firmware(session, RunChecks(scenario=scenario, timeout=plan.timeout))
            run.seconds = time.monotonic() - started
            run.outcome = result.outcome
            if not result.passed:
                run.error = result.reason
            records = list(session.link.records) if session.link is not None else []
        except Exception as error:
            run.error = f"{type(error).__name__}: {error}"
        finally:
            await session.stop()
    timer = CommandTimer()
    for record in records:
        timer.feed(record.t, record.direction, record.data)
    run.messages = [Message(i, e.ok, _ms(e.ms), _ms(e.result_ms), e.command) for i, e in enumerate(timer.exchanges)]
    return run


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


async def run_publish_point(plan: Plan, point: dict[str, Any], repeat: int, *, seed: int,
                            capture: Path | None = None) -> Run:
    from peripherals.ica import IcaModule, ModuleConfig
    from pysim.cloud import Cloud
    from pysim.faults.proxy import FaultProxy
    from pysim.peers import service_client
    from pysim.te import AtClient
    from pysim.uart import UartLink

    run = Run(point, repeat, capture=capture)
    payload = int(point.get("payload", 16))
    topic = f"/{DEVICE[0]}/{DEVICE[1]}/user/sweep"
    cloud = Cloud()
    proxy = FaultProxy(cloud.events)
    link = module = paho = writer = None
    reader_task = None
    tasks: list[asyncio.Task] = []
    try:
        await cloud.start()
        cloud.registry.add(*DEVICE)
        addresses = await proxy.start(cloud.addresses)
        config = ModuleConfig(echo=False, name="sweep")
        config.use_cloud(addresses)
        module = IcaModule(config, events=cloud.events)
        a, b = socket.socketpair()
        te_link = await asyncio.open_connection(sock=a)
        te_reader, writer = await asyncio.open_connection(sock=b)
        link = UartLink(point.get("baud"))
        await link.start(te_link, module)
        if capture is not None:
            writer_c = CaptureWriter(capture, meta={"sweep": plan.name, "point": point, "repeat": repeat},
                                     secrets=[DEVICE[2]])
            link.listeners.append(writer_c.uart)
            cloud.events.listeners.append(writer_c.event)
            proxy.taps.append(writer_c.net)
        at = AtClient(writer.write, default_timeout=plan.timeout)

        async def pump() -> None:
            while data := await te_reader.read(4096):
                at.feed(data)
        reader_task = asyncio.ensure_future(pump())
        faults = FaultController(module=module, link=link, proxy=proxy, events=cloud.events, seed=seed + repeat)
        if point.get("latency_ms"):
            faults.apply(f"net.latency:ms={point['latency_ms']},service=mqtt")
        paho = await service_client(cloud, "sweep-observer")
        await paho.subscribe(topic, 1)
        received: dict[int, float] = {}
        all_in = asyncio.Event()

        async def collect() -> None:
            while True:
                message = await paho.next_message(timeout=3600)
                received.setdefault(int(message.payload.split(b":", 2)[1]), time.monotonic())
                if len(received) >= plan.messages:
                    all_in.set()
        tasks.append(asyncio.ensure_future(collect()))
        await at.expect_ok(f'AT+IMQTTAUTH="{DEVICE[0]}","{DEVICE[1]}","{DEVICE[2]}"')
        if (await at.wait_urc("+IMQTTAUTH")).text != "+IMQTTAUTH:OK":
            raise RuntimeError("MQTT authentication failed")
        await at.expect_ok("AT+IMQTTCONN")
        if (await at.wait_urc("+IMQTTSTATE")).text != "+IMQTTSTATE:2":
            raise RuntimeError("MQTT did not connect")
        if point.get("fault_rate") and plan.fault:
            faults.apply(plan.fault.format(**point))
        started = time.monotonic()
        sent_at: dict[int, float] = {}
        for i in range(plan.messages):
            body = f"m:{i:06d}:".encode()
            body += b"x" * max(0, payload - len(body))
            t0 = time.monotonic()
            sent_at[i] = t0
            ack = None
            try:
                response = await at.command(f'AT+IMQTTPUB="{topic}",{plan.qos},"{body.decode()}"')
                if response.ok:
                    packet = response.line("+IMQTTPUB").fields[0]
                    result = await at.wait_urc("+IMQTTPUB", lambda l, p=packet: l.fields[0] == p and len(l.fields) > 1)
                    if result.fields[1] == "0":
                        ack = (time.monotonic() - t0) * 1000
            except Exception:
                pass
            run.messages.append(Message(i, ack is not None, None, ack))
        run.seconds = time.monotonic() - started
        try:                               # messages still on their way (QoS 0, a lost ack)
            await asyncio.wait_for(all_in.wait(), min(plan.timeout, 3.0))
        except asyncio.TimeoutError:
            pass
        for m in run.messages:
            if m.index in received:
                m.latency_ms = round((received[m.index] - sent_at[m.index]) * 1000, 3)
    except Exception as error:
        run.error = f"{type(error).__name__}: {error}"
    finally:
        for task in tasks:
            task.cancel()
        if reader_task is not None:
            reader_task.cancel()
        await asyncio.gather(*tasks, *(t for t in [reader_task] if t), return_exceptions=True)
        if paho is not None:
            await paho.close()
        if link is not None:
            await link.stop()
        if module is not None:
            await module.stop()
        await proxy.stop()
        await cloud.stop()
        if writer is not None:
            writer.close()
        if capture is not None and "writer_c" in locals():
            writer_c.close()
    return run


@dataclass
class SweepResult:
    runs: list[Run]
    files: list[Path]


async def run_plan(plan: Plan, out: Path, *, seed: int = 1, progress=None) -> SweepResult:
    from .progress import Progress

    points = plan.points()
    progress = progress or Progress(len(points) * plan.repeats, f"sweep {plan.name}")
    runs: list[Run] = []
    captures = out / "captures"
    captures.mkdir(parents=True, exist_ok=True)
    for n, point in enumerate(points):
        for repeat in range(plan.repeats):
            progress.update(point_label(point))
            capture = captures / f"point{n:02d}.jsonl" if repeat == 0 else None
            runs.append(await run_point(plan, point, repeat, seed=seed, capture=capture))
            progress.advance()
    if plan.scenario == "firmware":
        progress.done(f"{sum(r.outcome == 'pass' for r in runs)} of {len(runs)} runs passed")
    else:
        delivered = sum(r.delivered for r in runs)
        progress.done(f"{delivered} of {sum(len(r.messages) for r in runs)} messages delivered")
    files = write_csvs(runs, out)
    files += write_report(plan, runs, out)
    return SweepResult(runs, files)


def write_csvs(runs: list[Run], out: Path) -> list[Path]:
    runs_csv, messages_csv = out / "runs.csv", out / "messages.csv"
    rows = [r.row(int(r.point.get("payload", 16))) for r in runs]
    with runs_csv.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    with messages_csv.open("w", newline="") as f:
        w = csv.writer(f)
        if any(m.command for r in runs for m in r.messages):      # firmware: one row per AT command
            w.writerow([*SCENARIOS["firmware"], "repeat", "command_index", "command", "answered", "final_ok",
                        "final_ms", "result_ms"])
            for r in runs:
                for m in r.messages:
                    w.writerow([*(r.point.get(k) for k in SCENARIOS["firmware"]), r.repeat, m.index, m.command,
                                m.latency_ms is not None, m.ok, m.latency_ms, m.ack_ms])
        else:
            w.writerow([*GRID_KEYS, "repeat", "message", "delivered", "e2e_ms", "ack_ms"])
            for r in runs:
                for m in r.messages:
                    w.writerow([*(r.point.get(k) for k in GRID_KEYS), r.repeat, m.index, m.latency_ms is not None,
                                m.latency_ms, None if m.ack_ms is None else round(m.ack_ms, 3)])
    return [runs_csv, messages_csv]
