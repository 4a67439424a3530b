"""Captures and replay: a demo run in QEMU writes a capture; replaying its TE side
against a fresh module gives the same module side, a deliberately changed module
response is reported at its line, and the module side replayed to the firmware gives
the same firmware side without any module or cloud."""

from __future__ import annotations

import json
import shutil

import pytest

from pysim.capture import CaptureError, read_capture
from pysim.replay import diff_lines, replay_firmware, replay_module
from pysim.experiment.demo import play_demo
from pysim.session import DEMO_DEVICE, DEMO_FIRMWARE, Session, SessionOptions

pytestmark = pytest.mark.skipif(shutil.which("qemu-system-arm") is None or not DEMO_FIRMWARE.is_file(),
                                reason="needs qemu-system-arm and firmware/build/demo.elf (make firmware)")


@pytest.fixture(scope="module")
def demo_capture(tmp_path_factory):
    """One demo run (small OTA image, block 1 corrupted once, as `pysim run` does) with a capture."""
    import asyncio

    path = tmp_path_factory.mktemp("capture") / "demo.jsonl"

    async def run():
        from peripherals.ica import Faults
        session = Session(SessionOptions(capture=path, faults=Faults(corrupt_ota_blocks={1}),
                                         workdir=path.parent))
        try:
            await session.start()
            verdict = await play_demo(session, ota_size=2048, timeout=40)
        finally:
            await session.stop()
        assert verdict.passed, verdict.summary()
    asyncio.run(run())
    return path


def test_capture_format_and_no_secret(demo_capture):
    header, records = read_capture(demo_capture)
    assert header["capture"] == "pysim" and header["version"] == 1
    links = {r["link"] for r in records}
    assert {"uart", "console", "event"} <= links
    times = [r["t"] for r in records if r["link"] == "uart"]
    assert times == sorted(times)
    te = "".join(r["data"] for r in records if r.get("dir") == "te2ta")
    assert te.startswith("AT\r") and "AT+IMQTTAUTH=" in te
    text = demo_capture.read_text()
    assert DEMO_DEVICE[2] not in text and "*" * len(DEMO_DEVICE[2]) in text
    assert any(r.get("kind") == "ota.image" for r in records)


async def test_module_replay_is_identical(demo_capture):
    result = await replay_module(demo_capture, quiet=2.0)
    assert result.expected_lines and result.identical, result.report()


async def test_module_replay_catches_a_changed_response(demo_capture):
    result = await replay_module(demo_capture, faults=["module.cme:cmd=+IOTAVER,error=30,times=1"])
    assert not result.identical
    first = result.differences[0]
    assert "+CME ERROR:30" in first, result.report()


async def test_firmware_replay_without_module_or_cloud(demo_capture):
    result = await replay_firmware(demo_capture, DEMO_FIRMWARE, quiet=2.0)   # a loaded host may be slow
    assert result.expected_lines and result.identical, result.report()


def test_a_line_in_another_place_is_a_move_not_a_difference():
    from pysim.replay import split_moves
    kept, moved = split_moves(["A", "+IMQTTPUB:5,0", "B", "C"], ["A", "B", "+IMQTTPUB:5,0", "X"])
    assert moved == ["+IMQTTPUB:5,0"] and kept == ["line 3: expected 'C', got 'X'"]
    kept, moved = split_moves(["A", "+IMQTTPUB:5,0"], ["A", "+IMQTTPUB:5,1"])
    assert kept == ["asynchronous line expected '+IMQTTPUB:5,0', missing",
                    "asynchronous line unexpected '+IMQTTPUB:5,1'"] and moved == []


def test_diff_lines_names_each_difference():
    assert diff_lines(["A", "B", "C"], ["A", "X", "C", "D"]) == [
        "line 2: expected 'B', got 'X'", "line 4: unexpected 'D'"]
    assert diff_lines(["A", "B"], ["A"]) == ["line 2: expected 'B', missing"]


def test_not_a_capture(tmp_path):
    bad = tmp_path / "x.jsonl"
    bad.write_text(json.dumps({"hello": 1}) + "\n")
    with pytest.raises(CaptureError, match="not a pysim capture"):
        read_capture(bad)


def test_a_receive_urc_moves_with_its_own_ok():
    """What CI once saw: the cloud's OTA announcement came after the next telemetry
    publish in the replay, before it in the capture; timing, not a difference."""
    from pysim.replay import split_moves
    urc = '+IOTANEWVER:"1.1.0",2048,"cb05"'
    capture = ["+IMQTTPUB:4", "OK", urc, "OK", "+IMQTTPUB:5", "OK"]
    replay = ["+IMQTTPUB:4", "OK", "+IMQTTPUB:5", "OK", urc, "OK"]
    assert split_moves(capture, replay) == ([], [urc])
    kept, _ = split_moves(capture, ["+IMQTTPUB:4", "OK", "+IMQTTPUB:5", "OK"])
    assert kept == [f"asynchronous line expected {urc!r}, missing"]      # its OK went with it


def test_module_lines_read_payloads_by_length():
    from pysim.replay import module_lines
    data = (b'\r\n+IMQTTRCVPUB:1,"/t",4,"a\r\nb"\r\n\r\nOK\r\n'
            b'\r\n+IMQTTRCVPUBIN:1,"/t",3\r\n\r\nOK\r\nx\r\n\r\n+IMQTTPUB:2')
    assert module_lines(data) == ['+IMQTTRCVPUB:1,"/t",4,"a\\r\\nb"', "OK", '+IMQTTRCVPUBIN:1,"/t",3 [3 bytes: x\\r\\n]',
                                  "OK", "+IMQTTPUB:2"]


def test_a_secret_split_over_uart_chunks_is_masked(tmp_path):
    """The firmware sends the AUTH line in pieces: the secret may straddle two of them."""
    import time as _time

    from pysim.capture import CaptureWriter
    from pysim.uart import TE_TO_TA, UartRecord
    path = tmp_path / "c.jsonl"
    writer = CaptureWriter(path, secrets=["demo-secret-01"])
    for piece in (b'AT+IMQTTAUTH="pk","dn","demo', b"-secr", b'et-01"\r', b"AT\r", b"de"):
        writer.uart(UartRecord(_time.monotonic(), TE_TO_TA, piece))
    writer.close()
    _, records = read_capture(path)
    te = "".join(r["data"] for r in records)
    assert te == 'AT+IMQTTAUTH="pk","dn","' + "*" * 14 + '"\rAT\rde'     # nothing lost, the tail flushed
    assert all("secr" not in r["data"] and "demo" not in r["data"] for r in records)
