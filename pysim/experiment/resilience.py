"""The resilience matrix: the demo firmware under every fault kind at three severities.

For each cell the demo firmware (a build that publishes telemetry every 250 ms and
runs until stopped) boots against its module and cloud; an independent paho-mqtt
subscriber, logged in as the cloud's service user, counts the telemetry. Once
telemetry flows, the fault is applied for ``hold`` seconds and taken off; then the
cell waits up to ``window`` seconds for the firmware to get a *new* message (one it
sent after the fault ended) to the subscriber.

Per cell: recovered or not, seconds from the fault's end to that first new message,
messages lost (sequence numbers the firmware sent that the subscriber never got),
and the firmware's exit code if it gave up.
"""

from __future__ import annotations

import asyncio
import csv
import json
import re
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pysim.faults import KINDS
from pysim.session import DEMO_DEVICE, ROOT, Session, SessionOptions
from pysim.uart import TE_TO_TA

RESILIENCE_BUILD = "build/resilience"
TELEMETRY_MS = 250
SEQ_ON_UART = re.compile(rb'\\"seq\\":(\d+)')

# kind -> (low, medium, high): the whole spec of each severity
SEVERITIES: dict[str, tuple[str, str, str]] = {
    "net.latency": ("net.latency:ms=50,jitter=10", "net.latency:ms=300,jitter=100", "net.latency:ms=1500"),
    "net.loss": ("net.loss:rate=0.05", "net.loss:rate=0.3", "net.loss:rate=0.7"),
    "net.bandwidth": ("net.bandwidth:kbps=64", "net.bandwidth:kbps=4", "net.bandwidth:kbps=0.5"),
    "net.down": ("net.down:service=mqtt,for=0.5", "net.down:service=mqtt,for=2", "net.down:service=mqtt,for=5"),
    "net.reset": ("net.reset:service=mqtt", "net.reset:service=mqtt,every=1", "net.reset:service=mqtt,every=0.3"),
    "module.cme": ("module.cme:cmd=+IMQTTPUB,error=30,times=1", "module.cme:cmd=+IMQTTPUB,error=30,times=0,rate=0.3",
                   "module.cme:cmd=*,error=100,times=0,rate=1"),
    "module.delay": ("module.delay:cmd=+IMQTTPUB,ms=200", "module.delay:cmd=+IMQTTPUB,ms=1500",
                     "module.delay:cmd=+IMQTTPUB,ms=6000"),
    "module.timing": ("module.timing:scale=1", "module.timing:scale=5", "module.timing:scale=25"),
    "module.reboot": ("module.reboot:off=0.2", "module.reboot:off=1", "module.reboot:off=3"),
    "uart.drop": ("uart.drop:rate=0.001", "uart.drop:rate=0.01", "uart.drop:rate=0.1"),
    "uart.corrupt": ("uart.corrupt:rate=0.001", "uart.corrupt:rate=0.01", "uart.corrupt:rate=0.1"),
    "uart.dup": ("uart.dup:rate=0.001", "uart.dup:rate=0.01", "uart.dup:rate=0.1"),
    "uart.delay": ("uart.delay:rate=0.1,ms=20", "uart.delay:rate=0.5,ms=200", "uart.delay:rate=1,ms=1000"),
    "uart.break": ("uart.break:bytes=1", "uart.break:bytes=8", "uart.break:bytes=64,dir=both"),
    "uart.stall": ("uart.stall:for=0.5", "uart.stall:for=2", "uart.stall:for=6"),
}
assert set(SEVERITIES) == set(KINDS), "every fault kind has its severities"
LEVELS = ("low", "medium", "high")


@dataclass
class Cell:
    kind: str
    severity: str
    spec: str
    recovered: bool = False
    recover_s: float | None = None      # from the fault's end to the first new message at the subscriber
    sent: int = 0                       # telemetry messages the firmware sent (highest sequence number)
    received: int = 0                   # distinct ones the subscriber got
    lost: int = 0
    exit_code: int | None = None        # the firmware gave up (None: still running)
    note: str = ""
    arrivals: list[tuple[float, int]] = field(default_factory=list, repr=False)  # (s from fault on, seq)


def build_firmware() -> Path:
    """The demo built to publish every 250 ms and run until stopped."""
    subprocess.run(["make", "-s", "-C", str(ROOT / "firmware"), f"BUILD={RESILIENCE_BUILD}",
                    f"TELEMETRY_MS={TELEMETRY_MS}", "DEMO_EXIT_AFTER=0", f"{RESILIENCE_BUILD}/demo.elf"],
                   check=True, stdout=subprocess.DEVNULL)
    return ROOT / "firmware" / RESILIENCE_BUILD / "demo.elf"


async def run_cell(spec: str, *, firmware: Path, hold: float = 3.0, window: float = 8.0,
                   seed: int = 1, severity: str = "", start_within: float = 90.0) -> Cell:
    """One cell; ``start_within``: seconds the firmware has to get two telemetry
    messages through before the fault (a firmware that never does is reported, the
    matrix goes on)."""
    from pysim.peers import service_client

    kind = spec.split(":", 1)[0]
    cell = Cell(kind, severity, spec)
    pk, dn, _ = DEMO_DEVICE
    topic = f"/{pk}/{dn}/user/telemetry"
    with tempfile.TemporaryDirectory(prefix="pysim-resilience-") as workdir:
        session = Session(SessionOptions(firmware=firmware, fault_proxy=True, seed=seed, workdir=Path(workdir)))
        paho = None
        try:
            await session.start()
            paho = await service_client(session.cloud, "resilience-observer")
            await paho.subscribe(topic, 1)
            seen: dict[int, float] = {}
            new_message = asyncio.Event()

            async def collect() -> None:
                while True:
                    message = await paho.next_message(timeout=3600)
                    try:
                        seq = int(json.loads(message.payload)["seq"])
                    except (ValueError, KeyError, TypeError):
                        continue
                    seen.setdefault(seq, time.monotonic())
                    new_message.set()
            collector = asyncio.ensure_future(collect())
            exited = asyncio.ensure_future(session.wait_exit(None))
            try:
                started_by = time.monotonic() + start_within
                while len(seen) < 2:                      # telemetry flows
                    if time.monotonic() >= started_by:
                        raise RuntimeError(f"no telemetry within {start_within:g} s, before the fault")
                    await _either(new_message, exited, started_by - time.monotonic())
                    new_message.clear()
                    if exited.done():
                        raise RuntimeError(f"firmware exited with {exited.result()} before the fault")
                t_on = time.monotonic()
                handle = session.inject_fault(spec)
                await asyncio.wait([exited], timeout=hold)
                if session.faults is not None:
                    session.faults.remove(handle)
                t_off = time.monotonic()
                seq_at_off = max(_sent_seqs(session, until=t_off), default=0)
                deadline = t_off + window
                while not exited.done() and time.monotonic() < deadline:
                    fresh = [t for seq, t in seen.items() if seq > seq_at_off]
                    if fresh:
                        cell.recovered, cell.recover_s = True, round(min(fresh) - t_off, 3)
                        break
                    await _either(new_message, exited, deadline - time.monotonic())
                    new_message.clear()
                if cell.recovered:       # let what was in flight arrive before counting losses
                    await asyncio.wait([exited], timeout=1.0)
                if exited.done():
                    cell.exit_code = exited.result()
                    cell.recovered = False
                    cell.note = _last_failure(session)
                sent = _sent_seqs(session)
                cell.sent = max([*sent, *seen], default=0)
                cell.received = len(seen)
                # lost: sent and never received. A running firmware's newest messages may still be
                # on their way (not counted); a firmware that gave up lost everything unreceived.
                settled = cell.sent if cell.exit_code is not None else max(seen, default=0)
                cell.lost = sum(1 for s in range(1, settled + 1) if s not in seen)
                cell.arrivals = sorted((round(t - t_on, 3), s) for s, t in seen.items())
            finally:
                collector.cancel()
                exited.cancel()
                await asyncio.gather(collector, exited, return_exceptions=True)
        except Exception as error:
            cell.note = f"{type(error).__name__}: {error}"
        finally:
            if paho is not None:
                await paho.close()
            await session.stop()
    return cell


async def _either(event: asyncio.Event, task: asyncio.Future, timeout: float) -> None:
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait([waiter, task], timeout=max(0.0, timeout), return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()


def _sent_seqs(session: Session, until: float | None = None) -> set[int]:
    """Sequence numbers in the AT+IMQTTPUB lines the firmware sent (as the link delivered them)."""
    link = session.link
    if link is None:
        return set()
    data = b"".join(r.data for r in link.records if r.direction == TE_TO_TA and (until is None or r.t <= until))
    return {int(m) for m in SEQ_ON_UART.findall(data)}


def _last_failure(session: Session) -> str:
    lines = session.console_lines or getattr(session, "_last_console", [])
    fails = [line for line in lines if " fail " in line]
    return fails[-1] if fails else (lines[-1] if lines else "")


async def run_matrix(kinds: list[str], levels: list[str], *, hold: float, window: float, seed: int,
                     progress=None) -> list[Cell]:
    firmware = build_firmware()
    cells = []
    for kind in kinds:
        for level in levels:
            spec = SEVERITIES[kind][LEVELS.index(level)]
            if progress:
                progress.update(spec)
            cells.append(await run_cell(spec, firmware=firmware, hold=hold, window=window, seed=seed,
                                        severity=level))
            if progress:
                progress.advance()
    return cells


FIELDS = ("kind", "severity", "spec", "recovered", "recover_s", "sent", "received", "lost", "exit_code", "note")


def write_csv(cells: list[Cell], path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        for cell in cells:
            writer.writerow({k: v for k, v in asdict(cell).items() if k in FIELDS})


def table(cells: list[Cell]) -> str:
    """The matrix as a Markdown table: one row per kind, one column per severity."""
    levels = [level for level in LEVELS if any(c.severity == level for c in cells)]
    lines = ["| fault | " + " | ".join(levels) + " |", "| --- |" + " --- |" * len(levels)]
    for kind in dict.fromkeys(c.kind for c in cells):
        row = []
        for level in levels:
            cell = next((c for c in cells if c.kind == kind and c.severity == level), None)
            row.append(_cell_text(cell) if cell else "")
        lines.append(f"| {kind} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def _cell_text(cell: Cell) -> str:
    if cell.recovered:
        return f"ok {cell.recover_s:.2f} s, lost {cell.lost}"
    if cell.exit_code is not None:
        return f"**exit {cell.exit_code}**, lost {cell.lost}"
    return f"**no** ({cell.note or 'no new message'}), lost {cell.lost}"
