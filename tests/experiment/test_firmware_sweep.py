"""Sweeps of a real firmware (scenario ``firmware``): the demo in QEMU against its module
and the in-process cloud behind the fault proxy, every AT command it made timed; and the
command timer itself on byte streams written by hand."""

from __future__ import annotations

import csv
import shutil

import pytest

from pysim.experiment.at_timing import CommandTimer, command_name
from pysim.experiment.sweep import load_plan, run_plan
from pysim.session import DEMO_FIRMWARE
from pysim.uart import TA_TO_TE, TE_TO_TA


def feed(timer: CommandTimer, *chunks: tuple[float, str, bytes]) -> None:
    for t, direction, data in chunks:
        timer.feed(t, direction, data)


def test_command_names():
    assert [command_name(x) for x in ("AT", "ATE0", 'AT+IMQTTPUB="t",1,"x"', "AT+IMQTTPUB?", "AT+IMQTTPUB=?")] == [
        "AT", "E0", "+IMQTTPUB", "+IMQTTPUB", "+IMQTTPUB"]


def test_timer_finals_ids_results_and_receive_urcs():
    timer = CommandTimer()
    feed(timer,
         (1.0, TE_TO_TA, b'AT+IMQTTPUB="/t",1,"a"\r'),
         (1.1, TA_TO_TE, b"\r\n+IMQTTPUB:7\r\n"),
         # a receive URC with its own OK arrives between the id line and the command's OK
         (1.2, TA_TO_TE, b'\r\n+IMQTTRCVPUB:2,"/c",4,"OK\r\n"\r\n\r\nOK\r\n'),
         (1.3, TA_TO_TE, b"\r\nOK\r\n"),
         (1.4, TE_TO_TA, b"AT+IMQTTPARA=\"KEEPALIVE\",60\r"),
         (1.5, TA_TO_TE, b"\r\n+IMQTTPUB:6,0\r\n"),        # another publish's result: not ours
         (1.6, TA_TO_TE, b"\r\n+CME ERROR:50\r\n"),
         (1.9, TA_TO_TE, b"\r\n+IMQTTPUB:7,0\r\n"))
    pub, para = timer.exchanges
    assert (pub.command, pub.id, pub.final, round(pub.ms), pub.result) == ("+IMQTTPUB", "7", "OK", 300, "+IMQTTPUB:7,0")
    assert round(pub.result_ms) == 900
    assert (para.command, para.final, para.result_ms) == ("+IMQTTPARA", "+CME ERROR:50", None)


def test_timer_skips_data_entry_bytes_unless_refused():
    timer = CommandTimer()
    feed(timer,
         (0.0, TE_TO_TA, b'AT+IMQTTPUBIN="/t",1,6\r'),
         (0.1, TE_TO_TA, b"AT\rOK\r"),                        # 6 payload bytes that look like a command
         (0.2, TA_TO_TE, b"\r\n+IMQTTPUBIN:3\r\n\r\nOK\r\n"),
         (0.3, TE_TO_TA, b'AT+IMQTTPUBIN="/t",9,4\r'),      # refused: the TE sends no payload
         (0.4, TA_TO_TE, b"\r\n+CME ERROR:50\r\n"),
         (0.5, TE_TO_TA, b"AT+IMQTTAUTH?\r"),
         (0.6, TA_TO_TE, b'\r\n+IMQTTAUTH:"pk","dn"\r\n\r\nOK\r\n'))
    assert [(e.command, e.final) for e in timer.exchanges] == [
        ("+IMQTTPUBIN", "OK"), ("+IMQTTPUBIN", "+CME ERROR:50"), ("+IMQTTAUTH", "OK")]
    assert timer.exchanges[2].result is None           # a query has no result URC


def test_payload_is_no_firmware_axis(tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text("scenario: firmware\ngrid:\n  payload: [16]\n")
    with pytest.raises(ValueError, match=r"unknown grid parameter\(s\) payload for scenario firmware; "
                                         r"known: baud, latency_ms, fault_rate"):
        load_plan(plan)
    plan.write_text("scenario: firmware\nplay: nope.yaml\ngrid:\n  baud: [null]\n")
    with pytest.raises(Exception, match="nope.yaml"):
        load_plan(plan)


@pytest.mark.skipif(shutil.which("qemu-system-arm") is None or not DEMO_FIRMWARE.is_file(),
                    reason="needs qemu-system-arm and firmware/build/demo.elf (make firmware)")
def test_firmware_sweep_times_the_firmwares_commands(tmp_path):
    import asyncio

    (tmp_path / "until-coap.yaml").write_text(
        "name: until-coap\nsteps:\n  - wait_console: {regex: '^STEP coap_request ok', timeout: 30}\n")
    (tmp_path / "plan.yaml").write_text(
        "name: fw\nscenario: firmware\nplay: until-coap.yaml\ntimeout: 60\ngrid:\n  latency_ms: [0, 100]\n")
    plan = load_plan(tmp_path / "plan.yaml")
    out = tmp_path / "out"
    from pysim.experiment.progress import Progress
    progress = Progress(2, "sweep", live=False, stream=open(tmp_path / "progress.txt", "w"))
    result = asyncio.run(run_plan(plan, out, seed=1, progress=progress))
    progress.stream.close()
    assert [r.outcome for r in result.runs] == ["pass", "pass"], [r.error for r in result.runs]
    rows = list(csv.DictReader((out / "messages.csv").open()))
    auth = {r["latency_ms"]: float(r["result_ms"]) for r in rows if r["command"] == "+IMQTTAUTH"}
    assert auth["0"] < 100 <= 200 <= auth["100"]        # AUTH checks with a CONNECT: one round trip
    conn = {r["latency_ms"]: float(r["result_ms"]) for r in rows if r["command"] == "+IMQTTCONN"}
    assert conn["100"] >= 200 > conn["0"]
    assert [r["command"] for r in rows if r["latency_ms"] == "0"][:3] == ["AT", "E0", "+IMQTTAUTH"]
    assert all(r["answered"] == "True" and r["final_ok"] == "True" for r in rows)
    assert "firmware demo on netduinoplus2, scenario until-coap.yaml, 2 of 2 run(s) passed" in \
        (out / "report.html").read_text()
    assert (out / "captures" / "point00.jsonl").is_file()
