"""The trace writer: one line per AT line, both directions interleaved with cloud events."""

from __future__ import annotations

import io

from pysim.events import Event
from pysim.trace import LineAssembler, TraceWriter, escape
from pysim.uart import TA_TO_TE, TE_TO_TA, UartRecord


def test_escape():
    assert escape(b'AT+X="a\\b"\r\n\x00\xff\t') == 'AT+X="a\\\\b"\\r\\n\\x00\\xff\\t'


def test_assembler_keeps_leading_line_ends_with_the_next_line():
    lines = LineAssembler()
    assert lines.push(b"\r\nOK\r", 1.0) == []  # CR held: an LF may follow
    assert lines.push(b"\n\r\n+IMQTT", 2.0) == [(2.0, b"\r\nOK\r\n")]
    assert lines.flush() == (2.0, b"\r\n+IMQTT")


def test_assembler_lone_cr_ends_a_line_at_the_next_byte():
    lines = LineAssembler()
    assert lines.push(b"AT\r", 1.0) == []
    assert lines.push(b"AT+X\r", 2.0) == [(1.0, b"AT\r")]
    assert lines.release_held() == (2.0, b"AT+X\r")
    assert lines.release_held() is None


def test_assembler_cuts_long_lines():
    assert LineAssembler(max_len=4).push(b"0123456789", 0.0) == [(0.0, b"0123"), (0.0, b"4567")]


def test_trace_interleaves_directions_and_cloud_events_in_time_order():
    lines: list[str] = []
    trace = TraceWriter(lines.append, t0=10.0)
    trace.uart(UartRecord(12.345, TE_TO_TA, b'AT+IMQTTPUB="/a/b",1,"hi"'))
    trace.uart(UartRecord(12.346, TE_TO_TA, b"\r"))
    trace.uart(UartRecord(12.348, TA_TO_TE, b"\r\nOK\r\n"))
    trace.event(Event("mqtt.publish", ("pk", "dn"), {"topic": "/a/b"}, t=12.350))
    trace.console(12.351, "LOG published")
    trace.uart(UartRecord(12.360, TE_TO_TA, b"AT"))
    trace.flush()
    assert lines == [
        '   2.346 TE->TA AT+IMQTTPUB="/a/b",1,"hi"\\r',
        "   2.348 TA->TE \\r\\nOK\\r\\n",
        "   2.350 TA<->cloud mqtt.publish pk/dn topic='/a/b'",
        "   2.351 console LOG published",
        "   2.360 TE->TA AT",
    ]


def test_trace_to_a_file_and_t0_from_the_first_line():
    out = io.StringIO()
    trace = TraceWriter(out)
    trace.uart(UartRecord(5.0, TA_TO_TE, b"\r\nOK\r\n"))
    trace.uart(UartRecord(6.5, TA_TO_TE, b"\r\nERROR\r\n"))
    assert out.getvalue() == "   0.000 TA->TE \\r\\nOK\\r\\n\n   1.500 TA->TE \\r\\nERROR\\r\\n\n"


def test_binary_payloads_show_as_one_block_both_ways():
    from pysim.trace import TraceWriter
    from pysim.uart import TA_TO_TE, TE_TO_TA, UartRecord

    out: list[str] = []
    trace = TraceWriter(out.append, t0=0.0)
    block = bytes([0x0D, 0x0A, 0x41, 0x0D]) * 4
    trace.uart(UartRecord(0.1, TE_TO_TA, b"AT+IOTABLOCK=0\r"))
    trace.uart(UartRecord(0.2, TA_TO_TE, b"\r\n+IOTABLOCK:16,0x1234\r\n\r\nOK\r\n" + block + b"\r\nOK\r\n"))
    trace.uart(UartRecord(0.3, TE_TO_TA, b'AT+IMQTTPUBIN="/t",1,3\r'))
    trace.uart(UartRecord(0.4, TA_TO_TE, b"\r\nOK\r\n"))
    trace.uart(UartRecord(0.5, TE_TO_TA, b"\r\n\x00AT\r"))     # data, not a command
    trace.flush()
    text = "\n".join(out)
    assert "TA->TE <16 bytes: 0d 0a 41 0d 0d 0a 41 0d 0d 0a 41 0d 0d 0a 41 0d>" in text
    assert "TE->TA <3 bytes: 0d 0a 00>" in text
    assert "TE->TA AT\\r" in text
    assert text.count("TA->TE \\r\\nOK\\r\\n") == 3


def test_a_refused_data_entry_leaves_the_next_command_as_a_line():
    from pysim.trace import TraceWriter
    from pysim.uart import TA_TO_TE, TE_TO_TA, UartRecord

    out: list[str] = []
    trace = TraceWriter(out.append, t0=0.0)
    trace.uart(UartRecord(0.1, TE_TO_TA, b'AT+IMQTTPUBIN="/t",1,3\r'))
    trace.uart(UartRecord(0.2, TA_TO_TE, b"\r\n+CME ERROR:3\r\n"))
    trace.uart(UartRecord(0.3, TE_TO_TA, b"AT\r"))
    trace.uart(UartRecord(0.4, TA_TO_TE, b"\r\nOK\r\n"))
    trace.flush()
    assert any(line.endswith("TE->TA AT\\r") for line in out)
