"""The fleet observer's CPU per received message: mosquitto_sub against paho-mqtt.

A fast publisher (``mosquitto_pub -l``, C, a process of its own, logged in as a device)
sends ``COUNT`` one-line JSON telemetry messages, QoS 1, through mosquitto
(``pysim.fleet.Mosquitto``) to the observer under test (``pysim.fleet``'s
``MosquittoSubObserver`` or ``FleetSubscriber``), subscribed QoS 1 as the fleet's is.
CPU is counted from just before the first message to the last one's arrival: for
mosquitto_sub its process (``/proc/<pid>/stat``) plus this process (the reader
thread; the main thread only waits); for paho this process (paho's network thread).
Each observer runs ``RUNS`` times, alternately; the figure is the median run's CPU per
received message, the reference the paho observer's, measured in the same run.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from benchlib import Figure, Report, median, parse_args, reproduce_command

from pysim.devauth import mqtt_connect_fields
from pysim.fleet import Mosquitto, fleet_devices
from pysim.fleet.mosquitto import write_private
from pysim.fleet.mosquitto_sub import MosquittoSubObserver, mosquitto_pub_for
from pysim.fleet.shard import proc_usage
from pysim.fleet.subscriber import FleetSubscriber
from pysim.peers import host_port

COUNT = 20_000
RUNS = 3
STALL_S = 5.0      # no new message for this long: the run ends with what arrived


def publish(url: str, creds, count: int, offset: int, options_dir: Path) -> subprocess.Popen:
    """Start ``mosquitto_pub -l``: ``count`` telemetry lines of the device, seqs from ``offset``
    (its password in a 0600 option file, not on the command line)."""
    client_id, user, password = mqtt_connect_fields(creds)
    write_private(options_dir / "mosquitto_pub", f"-u {user}\n-P {password}\n")
    lines = options_dir / "lines"        # written before the clock starts; read by mosquitto_pub alone
    lines.write_bytes(b"".join(b'{"seq":%d,"temperature":21.5,"humidity":40}\n' % seq
                               for seq in range(offset, offset + count)))
    host, port = host_port(url)
    with lines.open("rb") as stdin:      # the child keeps its own copy
        return subprocess.Popen([mosquitto_pub_for(shutil.which("mosquitto_sub") or "mosquitto_sub"),
                                 "-h", host, "-p", str(port), "-i", client_id, "-q", "1", "-l",
                                 "-t", f"/{creds.product_key}/{creds.device_name}/user/telemetry"],
                                stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                env={**os.environ, "XDG_CONFIG_HOME": str(options_dir)})


def one_run(kind: type, url: str, password: str, creds, count: int, offset: int) -> dict:
    observer = kind(url, password, product_key=creds.product_key, qos=1)
    observer.start()
    with tempfile.TemporaryDirectory(prefix="pysim-bench-observer-") as options_dir:
        publisher = None
        try:
            pid = observer.proc.pid if isinstance(observer, MosquittoSubObserver) else None
            publisher = publish(url, creds, count, offset, Path(options_dir))
            own0, child0, t0 = time.process_time(), proc_usage(pid)[0] if pid else 0.0, time.monotonic()
            last, since = -1, time.monotonic()
            while observer.count < count and time.monotonic() - since < STALL_S:
                if observer.count != last:
                    last, since = observer.count, time.monotonic()
                time.sleep(0.02)
            own, child = time.process_time() - own0, (proc_usage(pid)[0] - child0) if pid else 0.0
            elapsed = time.monotonic() - t0
            try:
                _, err = publisher.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                raise RuntimeError("mosquitto_pub did not finish within 30 s") from None
            if publisher.returncode != 0:
                raise RuntimeError(f"mosquitto_pub failed: {err.decode(errors='replace').strip()}")
        finally:
            if publisher is not None and publisher.poll() is None:     # leave no publisher behind
                publisher.kill()
                publisher.communicate()
            observer.stop()
    received = observer.received
    if received == 0:
        raise RuntimeError(f"the {kind.name} observer received nothing")
    return {"cpu_s": own + child, "own_s": own, "child_s": child, "received": received, "elapsed_s": elapsed}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__.splitlines()[0], argv)
    report = Report("bench_observer", "fleet observer CPU per message: mosquitto_sub vs paho",
                    reproduce_command(__file__, args.quick))
    report.skipped = Mosquitto.why_unavailable() or (
        None if MosquittoSubObserver.available() else "needs mosquitto_sub and mosquitto_pub (mosquitto-clients)")
    if report.skipped is None:
        count, runs = (1000, 1) if args.quick else (COUNT, RUNS)
        creds = fleet_devices(1, 0, seed="bench-observer")[0].credentials
        results: dict[str, list[dict]] = {"mosquitto_sub": [], "paho": []}

        async def measure() -> None:
            async with Mosquitto([creds]) as broker:
                offset = 0
                for _ in range(runs):
                    for kind in (MosquittoSubObserver, FleetSubscriber):
                        results[kind.name].append(await asyncio.to_thread(
                            one_run, kind, broker.url, broker.service_password, creds, count, offset))
                        offset += count

        asyncio.run(measure())
        per = {name: sorted(runs_, key=lambda r: r["cpu_s"] / r["received"]) for name, runs_ in results.items()}
        mid = {name: r[len(r) // 2] for name, r in per.items()}
        us = {name: 1e6 * r["cpu_s"] / r["received"] for name, r in mid.items()}
        m, p = mid["mosquitto_sub"], mid["paho"]
        report.figures.append(Figure(
            name="fleet observer CPU per received message, mosquitto_sub", value=us["mosquitto_sub"],
            unit="us/message", reference=us["paho"], reference_what="the paho observer, this run",
            ratio_meaning="mosquitto_sub / paho: below 1, mosquitto_sub costs less",
            samples=runs, samples_what=f"runs of {count} QoS 1 messages each, median run",
            details={"mosquitto_sub process": 1e6 * m["child_s"] / m["received"],
                     "reader thread": 1e6 * m["own_s"] / m["received"],
                     "mosquitto_sub received": f"{m['received']} in {m['elapsed_s']:.2f} s",
                     "paho received": f"{p['received']} in {p['elapsed_s']:.2f} s",
                     "at 10,000 msg/s": f"mosquitto_sub {us['mosquitto_sub']:.3g}% of a core, "
                                        f"paho {us['paho']:.3g}% of a core"}))
        report.notes.append("CPU from /proc and time.process_time (10 ms ticks for the mosquitto_sub process); "
                            "the publisher and mosquitto run in processes of their own and are not counted")
    report.emit(args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
