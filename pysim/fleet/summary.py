"""The fleet's accounting: what was sent (shards) against what arrived (the subscriber).

Per device, ``attempted`` are the publishes the module accepted, ``received`` those of
them the independent subscriber got (each (device, seq) once), ``lost`` the difference.
A shard that died counts its devices as ``crashed``; they are not in the message counts
(its report died with it). Latency is the subscriber's arrival time minus the send time,
both wall-clock on this machine; ``late_ms`` how long after its due time (the 1/rate
schedule) each scripted publish was sent. CPU per device is the shards' CPU time (and their
emulators') over the devices and the shards' wall time, in % of one core; memory per
device the shards' peak RSS above their start (and the emulators' peak RSS) over the
devices. The broker's CPU and memory are reported apart. An interrupted fleet
(``interrupted``) reports what its shards had done when they were stopped: publishes
still in flight at the stop may count as lost."""

from __future__ import annotations

import json
from typing import Any

from .plan import FleetDevice


def percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[index]


def summarise(options, devices: list[FleetDevice], results: dict[int, dict], failures: dict[int, str],
              subscriber, *, shards_s: float, broker_cpu_s: float, broker_rss_kb: int, observer_cpu_s: float = 0.0,
              wall_s: float, interrupted: bool = False) -> dict[str, Any]:
    records: dict[str, dict] = {}
    for result in results.values():
        records.update(result["devices"])
    kinds = {d.device_name: d.kind for d in devices}
    arrivals = subscriber.arrivals if subscriber else {}
    latencies: list[float] = []
    lateness: list[float] = []
    attempted = received = failed = connected = extra = retries = 0
    errors: dict[str, str] = {}
    by_kind: dict[str, dict[str, int]] = {}
    for name, record in records.items():
        got = arrivals.get(name, {})
        sent = {int(k): v for k, v in record["sent"].items()}
        matched = [got[seq] - t for seq, t in sent.items() if seq in got]
        latencies += matched
        lateness += record.get("late", [])
        extra += sum(1 for seq in got if seq not in sent)
        k = by_kind.setdefault(record["kind"], {"devices": 0, "connected": 0, "sent": 0, "received": 0})
        k["devices"] += 1
        k["connected"] += record["connected"]
        k["sent"] += len(sent)
        k["received"] += len(matched)
        attempted += len(sent)
        received += len(matched)
        failed += record["failed"]
        retries += record.get("retries", 0)
        connected += record["connected"]
        if record["error"]:
            errors[name] = record["error"]
    crashed = len(devices) - len(records)
    latencies.sort()
    lateness.sort()
    n = max(1, len(records))
    shard_cpu = sum(r["cpu_s"] + r["emulator_cpu_s"] for r in results.values())
    shard_wall = max((r["wall_s"] for r in results.values()), default=0.0) or max(wall_s, 1e-9)
    shard_mem = sum(max(0, r["rss_peak_kb"] - r["rss_base_kb"]) + r["emulator_rss_kb"] for r in results.values())
    ms = lambda v: None if v is None else round(v * 1e3, 2)   # noqa: E731
    return {
        "interrupted": interrupted, "broker": options.broker,
        "observer": subscriber.name if subscriber else options.observer, "executor": options.executor,
        "shards": len(results) + len(failures),
        "devices": len(devices), "scripted": options.scripted, "emulated": options.emulated,
        "rate": options.rate, "duration_s": options.duration, "qos": options.qos,
        "connected": connected, "sent": attempted, "received": received, "lost": attempted - received,
        "failed": failed, "duplicates": subscriber.duplicates if subscriber else 0, "extra": extra,
        "connect_retries": retries, "crashed_devices": crashed, "shard_failures": {str(k): v for k, v in failures.items()},
        "device_errors": len(errors), "first_errors": dict(list(errors.items())[:5]),
        "by_kind": by_kind,
        "latency_ms": {"p50": ms(percentile(latencies, 50)), "p90": ms(percentile(latencies, 90)),
                       "p99": ms(percentile(latencies, 99)), "max": ms(latencies[-1] if latencies else None)},
        # scripted devices: how long after its due time each publish left (a shard short of
        # CPU falls behind its 1/rate schedule; latency alone would not show it)
        "late_ms": {"p50": ms(percentile(lateness, 50)), "p99": ms(percentile(lateness, 99)),
                    "max": ms(lateness[-1] if lateness else None)},
        "cpu_per_device_pct": round(100 * shard_cpu / n / shard_wall, 3),
        "memory_per_device_kb": round(shard_mem / n, 1),
        "broker_cpu_pct": round(100 * broker_cpu_s / shard_wall, 1),
        "observer_cpu_pct": round(100 * observer_cpu_s / shard_wall, 1),
        "broker_rss_mb": round(broker_rss_kb / 1024, 1),
        "broker_memory_per_device_kb": round(broker_rss_kb / max(1, len(devices)), 1),
        "shards_s": round(shards_s, 2), "wall_s": round(wall_s, 2),
    }


def text(summary: dict[str, Any]) -> str:
    s, lat = summary, summary["latency_ms"]
    lines = [
        f"fleet: {s['devices']} devices ({s['scripted']} scripted, {s['emulated']} emulated) on {s['broker']} "
        f"(observed by {s.get('observer', '?')}), "
        f"{s['shards']} shards ({s['executor']}), {s['rate']:g} msg/s each for {s['duration_s']:g} s, QoS {s['qos']}"
        + ("  INTERRUPTED: what was done until the stop" if s.get("interrupted") else ""),
        f"  connected   {s['connected']}/{s['devices']}  (after {s['connect_retries']} retries)" + (f"  ({s['crashed_devices']} in crashed shards)"
                                                            if s["crashed_devices"] else ""),
        f"  sent        {s['sent']}",
        f"  received    {s['received']}",
        f"  lost        {s['lost']}  (failed publishes {s['failed']}, duplicates {s['duplicates']})",
        f"  latency     p50 {lat['p50']} ms  p90 {lat['p90']} ms  p99 {lat['p99']} ms  max {lat['max']} ms",
        *([f"  on time     p50 {late['p50']} ms  p99 {late['p99']} ms  max {late['max']} ms after the due time "
           "(scripted publishes)"] if (late := s.get("late_ms", {})).get("p50") is not None else []),
        f"  per device  CPU {s['cpu_per_device_pct']:.3g}% of a core, memory {s['memory_per_device_kb']:.0f} KiB",
        f"  broker      CPU {s['broker_cpu_pct']:.3g}% of a core, RSS {s['broker_rss_mb']:.1f} MiB "
        f"({s['broker_memory_per_device_kb']:.1f} KiB per device)",
        f"  observer    {s.get('observer', '?')}, CPU {s.get('observer_cpu_pct', 0):.3g}% of a core",
        f"  time        shards {s['shards_s']:.1f} s, all {s['wall_s']:.1f} s",
    ]
    for index, why in s["shard_failures"].items():
        lines.append(f"  shard {index} failed: {why}")
    for name, why in s["first_errors"].items():
        lines.append(f"  {name}: {why}")
    return "\n".join(lines)


def write_json(summary: dict[str, Any], path) -> None:
    with open(path, "w") as f:
        json.dump(summary, f, indent=1)
        f.write("\n")
