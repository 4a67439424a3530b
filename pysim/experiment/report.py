"""A sweep's plots (PNG, matplotlib) and its self-contained HTML report.

The report has the runs' summary table, the plots (inline, base64) and the AT
sequence timeline of each grid point's first run, in three lanes: TE (what the MCU
side sent), TA (what the module sent) and cloud (bytes through the fault proxy and the
cloud's events). The timeline is plain SVG drawn by a few lines of inline JavaScript:
the mouse wheel zooms around the pointer, dragging pans, hovering an event shows its
time and text, and a point can be chosen from a list. No file or script is fetched.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from pysim.capture import iter_capture, record_bytes
from pysim.trace import LineAssembler, describe

LANES = ("TE", "TA", "cloud")
SHORT = {"baud": "baud", "latency_ms": "lat", "payload": "len", "fault_rate": "fault"}


def point_label(point: dict[str, Any]) -> str:
    """A grid point in a few characters: ``baud=115200 lat=50 len=16 fault=0.2``."""
    return " ".join(f"{SHORT.get(k, k)}={v}" for k, v in point.items())


def timeline(capture: Path) -> list[dict[str, Any]]:
    """A capture's AT sequence as lane events: {t, lane, text}."""
    lines = {"te2ta": LineAssembler(), "ta2te": LineAssembler()}
    events: list[dict[str, Any]] = []

    def add(direction: str, cut: list[tuple[float, bytes]]) -> None:
        for t, line in cut:
            text = describe(line).strip()
            text = text.removeprefix("\\r\\n").removesuffix("\\r\\n").removesuffix("\\r")
            if text:
                events.append({"t": t, "lane": "TE" if direction == "te2ta" else "TA", "text": text})
    for record in iter_capture(capture):
        link = record.get("link")
        if link == "uart":
            other = "ta2te" if record["dir"] == "te2ta" else "te2ta"
            add(other, [held] if (held := lines[other].release_held()) else [])   # the other side's line is complete
            add(record["dir"], lines[record["dir"]].push(record_bytes(record), record["t"]))
        elif link == "net":
            events.append({"t": record["t"], "lane": "cloud",
                           "text": f"{record['service']} {record['dir']} {len(record['data'])} bytes"})
        elif link == "event" and record.get("kind", "").startswith(("mqtt.", "coap.", "http.", "fault.")):
            detail = ", ".join(f"{k}={v}" for k, v in record.get("detail", {}).items() if k != "client_id")
            events.append({"t": record["t"], "lane": "cloud", "text": f"{record['kind']} {detail}"[:200]})
    for direction, assembler in lines.items():
        add(direction, [rest] if (rest := assembler.flush()) else [])
    return sorted(events, key=lambda e: e["t"])


def write_plots(plan: Any, runs: list[Any], out: Path) -> list[Path]:
    """``plan``: a :class:`.sweep.Plan`; ``runs``: its :class:`.sweep.Run` s."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, latencies, throughput, spread = [], [], [], []
    for point in plan.points():
        mine = [r for r in runs if r.point == point]
        labels.append(point_label(point))
        latencies.append([m.ack_ms for r in mine for m in r.messages if m.ack_ms is not None] or [0.0]
                         if plan.scenario == "firmware" else
                         [m.latency_ms for r in mine for m in r.messages if m.latency_ms is not None] or [0.0])
        rates = [r.delivered / r.seconds for r in mine if r.seconds]
        throughput.append(sum(rates) / len(rates) if rates else 0.0)
        spread.append((max(rates) - min(rates)) / 2 if len(rates) > 1 else 0.0)
    height = max(3.0, 0.35 * len(labels) + 1.5)
    files = []
    fig, ax = plt.subplots(figsize=(9, height))
    ax.boxplot(latencies, orientation="horizontal", tick_labels=labels, showfliers=True)
    if plan.scenario == "firmware":
        ax.set_xlabel("AT command to the URC that reports its outcome, network included (ms)")
        ax.set_title(f"{plan.name}: the firmware's AT commands per grid point ({plan.repeats} run(s))")
    else:
        ax.set_xlabel("end-to-end latency, TE to subscriber (ms)")
        ax.set_title(f"{plan.name}: latency per grid point ({plan.repeats} run(s) x {plan.messages} messages)")
    fig.tight_layout()
    files.append(out / "latency.png")
    fig.savefig(files[-1], dpi=100)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(9, height))
    ax.barh(range(len(labels)), throughput, xerr=spread, color="#4a7fb5")
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    ax.set_xlabel(("answered AT commands" if plan.scenario == "firmware" else "delivered messages")
                  + " per second (mean of repeats; bar: half the range)")
    ax.set_title(f"{plan.name}: throughput per grid point")
    fig.tight_layout()
    files.append(out / "throughput.png")
    fig.savefig(files[-1], dpi=100)
    plt.close(fig)
    return files


def write_report(plan: Any, runs: list[Any], out: Path) -> list[Path]:
    pngs = write_plots(plan, runs, out)
    timelines = {}
    for n, point in enumerate(plan.points()):
        first = next((r for r in runs if r.point == point and r.capture is not None and r.capture.is_file()), None)
        if first is not None:
            timelines[f"{n}"] = {"label": point_label(point), "events": timeline(first.capture)}
    rows = []
    for r in runs:
        row = r.row(int(r.point.get("payload", 16)))
        rows.append("<tr>" + "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in row.values()) + "</tr>")
    header = "".join(f"<th>{html.escape(k)}</th>" for k in runs[0].row(16)) if runs else ""
    images = "".join(
        f'<figure><img alt="{p.stem}" src="data:image/png;base64,{base64.b64encode(p.read_bytes()).decode()}">'
        f"<figcaption>{p.name}</figcaption></figure>" for p in pngs)
    data = json.dumps(timelines).replace("</", "<\\/")
    page = TEMPLATE.replace("%TITLE%", html.escape(f"sweep {plan.name}")) \
        .replace("%SUMMARY%", html.escape(summary(plan, runs))) \
        .replace("%HEADER%", header).replace("%ROWS%", "\n".join(rows)).replace("%IMAGES%", images) \
        .replace("%DATA%", data)
    report = out / "report.html"
    report.write_text(page)
    return [*pngs, report]


def summary(plan: Any, runs: list[Any]) -> str:
    head = f"{len(plan.points())} grid points x {plan.repeats} repeat(s), "
    if plan.scenario == "firmware":
        passed = sum(r.outcome == "pass" for r in runs)
        what = (f"firmware {plan.firmware.name if plan.firmware else 'demo'} on {plan.board}, scenario "
                f"{plan.play.name if plan.play else 'demo'}, {passed} of {len(runs)} run(s) passed")
    else:
        what = f"{plan.messages} messages each, QoS {plan.qos}"
    return head + what + (f", fault {plan.fault}" if plan.fault else "")


TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>%TITLE%</title>
<style>
body { font: 14px sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; font-size: 12px; } td, th { border: 1px solid #ccc; padding: 2px 6px; }
figure { display: inline-block; margin: 0 1em 1em 0; } img { max-width: 900px; }
#timeline { border: 1px solid #999; background: #fafafa; cursor: grab; user-select: none; }
#tip { position: fixed; pointer-events: none; background: #ffffe0; border: 1px solid #888; padding: 3px 6px;
       font: 12px monospace; white-space: pre; display: none; max-width: 80em; overflow: hidden; }
.lane-TE { fill: #2a7ab8; } .lane-TA { fill: #d9822b; } .lane-cloud { fill: #3a9a4a; }
.lane-label { font: bold 13px sans-serif; fill: #333; }
</style></head><body>
<h1>%TITLE%</h1>
<p id="summary">%SUMMARY%</p>
<h2>AT sequence timeline</h2>
<p>Wheel: zoom around the pointer. Drag: pan. Hover an event: its time and text.
Grid point: <select id="point"></select> <button id="reset">whole run</button> <span id="range"></span></p>
<svg id="timeline" width="1100" height="230" xmlns="http://www.w3.org/2000/svg"></svg>
<div id="tip"></div>
<h2>Plots</h2>
%IMAGES%
<h2>Runs</h2>
<table><thead><tr>%HEADER%</tr></thead><tbody>
%ROWS%
</tbody></table>
<script type="application/json" id="timeline-data">%DATA%</script>
<script>
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("timeline-data").textContent);
  const svg = document.getElementById("timeline"), tip = document.getElementById("tip");
  const select = document.getElementById("point"), range = document.getElementById("range");
  const NS = "http://www.w3.org/2000/svg", LANES = ["TE", "TA", "cloud"];
  const left = 70, width = 1100 - left - 10, laneH = 64, top = 20;
  let events = [], t0 = 0, t1 = 1, full = [0, 1];
  for (const key of Object.keys(data)) {
    const o = document.createElement("option"); o.value = key; o.textContent = data[key].label; select.appendChild(o);
  }
  function el(name, attrs, parent) {
    const e = document.createElementNS(NS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    (parent || svg).appendChild(e); return e;
  }
  function x(t) { return left + (t - t0) / (t1 - t0) * width; }
  function draw() {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    LANES.forEach(function (lane, i) {
      el("rect", {x: left, y: top + i * laneH, width: width, height: laneH - 8, fill: i % 2 ? "#f0f0f0" : "#e8eef5"});
      const label = el("text", {x: 8, y: top + i * laneH + laneH / 2, class: "lane-label"}); label.textContent = lane;
    });
    const axis = el("g", {});
    for (let k = 0; k <= 10; k++) {
      const t = t0 + (t1 - t0) * k / 10, tx = el("text", {x: x(t) - 12, y: 14, "font-size": 10}, axis);
      tx.textContent = t.toFixed(3) + " s";
    }
    for (const e of events) {
      if (e.t < t0 || e.t > t1) continue;
      const i = LANES.indexOf(e.lane);
      const r = el("rect", {x: x(e.t) - 1.5, y: top + i * laneH + 6, width: 3, height: laneH - 20,
                            class: "ev lane-" + e.lane, "data-t": e.t});
      r.addEventListener("mousemove", function (m) {
        tip.style.display = "block"; tip.style.left = (m.clientX + 12) + "px"; tip.style.top = (m.clientY + 12) + "px";
        tip.textContent = e.lane + "  " + e.t.toFixed(6) + " s\\n" + e.text;
      });
      r.addEventListener("mouseleave", function () { tip.style.display = "none"; });
    }
    range.textContent = "showing " + t0.toFixed(4) + " s to " + t1.toFixed(4) + " s, " + events.length + " events";
  }
  function show(key) {
    events = (data[key] || {events: []}).events;
    const ts = events.map(function (e) { return e.t; });
    const lo = ts.length ? Math.min.apply(null, ts) : 0, hi = ts.length ? Math.max.apply(null, ts) : 1;
    const pad = Math.max((hi - lo) * 0.02, 0.001);
    full = [Math.max(lo - pad, 0), hi + pad]; t0 = full[0]; t1 = full[1]; draw();
  }
  svg.addEventListener("wheel", function (w) {
    w.preventDefault();
    const box = svg.getBoundingClientRect(), at = t0 + (w.clientX - box.left - left) / width * (t1 - t0);
    const k = w.deltaY < 0 ? 0.8 : 1.25;
    t0 = at - (at - t0) * k; t1 = at + (t1 - at) * k; draw();
  }, {passive: false});
  let drag = null;
  svg.addEventListener("mousedown", function (m) { drag = {x: m.clientX, t0: t0, t1: t1}; });
  window.addEventListener("mouseup", function () { drag = null; });
  window.addEventListener("mousemove", function (m) {
    if (!drag) return;
    const dt = (m.clientX - drag.x) / width * (drag.t1 - drag.t0);
    t0 = drag.t0 - dt; t1 = drag.t1 - dt; draw();
  });
  select.addEventListener("change", function () { show(select.value); });
  document.getElementById("reset").addEventListener("click", function () { t0 = full[0]; t1 = full[1]; draw(); });
  show(select.value);
})();
</script>
</body></html>
"""
