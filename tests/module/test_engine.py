"""The sans-I/O AT engine on its own: framing, echo, data entry, the output queue."""

from __future__ import annotations

import pytest

from peripherals.ica.at import AtEngine, CommandTable, DataEntry, Reply, Urc, bad_params


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make_engine(**kw) -> tuple[AtEngine, list]:
    table = CommandTable()
    seen: list = []
    table.command("", execute=lambda c: Reply())
    table.command("+ECHOARGS", set=lambda c: Reply([f"+ECHOARGS:{len(c.args)}:" + "|".join(a.text for a in c.args)]))
    table.command("+BAD", set=lambda c: (_ for _ in ()).throw(bad_params("nope")))
    table.command("+BIN", set=lambda c: Reply(final=None, data_entry=DataEntry(
        int(c.args[0].text), lambda data: (seen.append(data), Reply(["+BIN:1"]))[1])))
    table.command("+BLOCK", set=lambda c: Reply(["+BLOCK:3"], payload=b"\x00\r\n"))
    engine = AtEngine(table, **kw)
    return engine, seen


def run(engine: AtEngine, data: bytes, one_byte_at_a_time: bool = False) -> bytes:
    if one_byte_at_a_time:
        for b in data:
            engine.receive(bytes([b]))
    else:
        engine.receive(data)
    return engine.data_to_send()


@pytest.mark.parametrize("split", [False, True])
def test_simple_command_with_and_without_echo(split):
    engine, _ = make_engine()
    assert run(engine, b"AT\r", split) == b"AT\r\r\nOK\r\n"
    engine.echo = False
    assert run(engine, b"AT\r\n", split) == b"\r\nOK\r\n"


def test_coalesced_commands_answer_in_order():
    engine, _ = make_engine(echo=False)
    out = run(engine, b'AT\rAT+ECHOARGS=1,"a,b"\rAT+NOPE\r')
    assert out == b'\r\nOK\r\n\r\n+ECHOARGS:2:1|a,b\r\n\r\nOK\r\n\r\n+CME ERROR:4\r\n'


def test_lowercase_prefix_and_names():
    engine, _ = make_engine(echo=False)
    assert run(engine, b"at+echoargs=5\r") == b"\r\n+ECHOARGS:1:5\r\n\r\nOK\r\n"


def test_line_without_at_prefix_is_ignored_and_lf_after_cr_too():
    engine, _ = make_engine(echo=False)
    assert run(engine, b"hello\r\n\r\n") == b""


def test_backspace_edits_the_line():
    engine, _ = make_engine(echo=False)
    assert run(engine, b"ATX\x08\r") == b"\r\nOK\r\n"


def test_line_too_long_is_discarded_whole():
    engine, _ = make_engine(echo=False)
    assert run(engine, b"AT+ECHOARGS=" + b"1" * 2000 + b"\r") == b"\r\n+CME ERROR:24\r\n"
    assert run(engine, b"AT\r") == b"\r\nOK\r\n"


def test_cmee_modes():
    engine, _ = make_engine(echo=False)
    engine.cmee = 0
    assert run(engine, b"AT+BAD=1\r") == b"\r\nERROR\r\n"
    engine.cmee = 2
    assert run(engine, b"AT+BAD=1\r") == b"\r\n+CME ERROR:incorrect parameters\r\n"


def test_semicolon_concatenation_stops_at_first_error():
    engine, _ = make_engine(echo=False)
    assert run(engine, b"AT+ECHOARGS=1;+BAD=2;+ECHOARGS=3\r") == b"\r\n+ECHOARGS:1:1\r\n\r\n+CME ERROR:50\r\n"


def test_bad_quoting_is_error_50():
    engine, _ = make_engine(echo=False)
    assert run(engine, b'AT+ECHOARGS="abc\r') == b"\r\n+CME ERROR:50\r\n"
    assert run(engine, b'AT+ECHOARGS="a\\"b\\\\c"\r') == b'\r\n+ECHOARGS:1:a"b\\c\r\n\r\nOK\r\n'


@pytest.mark.parametrize("split", [False, True])
def test_fixed_length_binary_entry(split):
    engine, seen = make_engine(echo=False)
    out = run(engine, b"AT+BIN=5\r", split)
    assert out == b"\r\nOK\r\n"
    out = run(engine, b"AT\r\x00\xff", split)   # command-looking bytes are data
    assert seen == [b"AT\r\x00\xff"]
    assert out == b"\r\n+BIN:1\r\n\r\nOK\r\n"


@pytest.mark.parametrize("split", [False, True])
def test_plus_escape_binary_entry(split):
    engine, seen = make_engine(echo=False)
    assert run(engine, b"AT+BIN=0\r", split) == b"\r\n>"
    out = run(engine, b"ab+c++d+++AT\r", split)
    assert seen == [b"ab+c++d"]
    assert out == b"\r\n+BIN:1\r\n\r\nOK\r\n\r\nOK\r\n"


def test_urc_waits_for_data_entry_and_then_comes_out():
    engine, seen = make_engine(echo=False)
    run(engine, b"AT+BIN=3\r")
    engine.send_urc(Urc(["+IMQTTRCVPUB:1,\"/t\",1,\"x\""], ok=True))
    assert engine.data_to_send() == b""          # not inside data entry
    out = run(engine, b"abc")
    assert out == b'\r\n+BIN:1\r\n\r\nOK\r\n\r\n+IMQTTRCVPUB:1,"/t",1,"x"\r\n\r\nOK\r\n'


def test_urc_queued_during_a_command_follows_its_final_result():
    table = CommandTable()
    engine = AtEngine(table, echo=False)

    def handler(cmd):
        engine.send_urc(Urc(["+URC:1"]))          # network news arriving mid-command
        return Reply(["+CMD:1"])

    table.command("+CMD", execute=handler)
    assert run(engine, b"AT+CMD\r") == b"\r\n+CMD:1\r\n\r\nOK\r\n\r\n+URC:1\r\n"


def test_binary_urc_and_payload_response():
    engine, _ = make_engine(echo=False)
    engine.send_urc(Urc(["+X:2"], ok=True, payload=b"\r\n"))
    assert engine.data_to_send() == b"\r\n+X:2\r\n\r\nOK\r\n\r\n"
    assert run(engine, b"AT+BLOCK=1\r") == b"\r\n+BLOCK:3\r\n\r\nOK\r\n\x00\r\n"


def test_urc_ok_can_be_dropped_by_startup_option():
    engine, _ = make_engine(echo=False, urc_ok=False)
    engine.send_urc(Urc(["+R:1"], ok=True))
    assert engine.data_to_send() == b"\r\n+R:1\r\n"


def test_data_entry_times_out_with_error_31_and_drops_the_partial_payload():
    clock = FakeClock()
    engine, seen = make_engine(echo=False, clock=clock, data_timeout=10.0)
    run(engine, b"AT+BIN=10\rabc")
    assert engine.next_deadline() == pytest.approx(110.0)
    clock.now = 109.9
    engine.poll()
    assert engine.data_to_send() == b""
    clock.now = 110.0
    engine.poll()
    assert engine.data_to_send() == b"\r\n+CME ERROR:31\r\n"
    assert seen == []
    assert run(engine, b"AT\r") == b"\r\nOK\r\n"


def test_reboot_reads_nothing_and_drops_urcs():
    engine, _ = make_engine(echo=False)
    engine.begin_reboot()
    engine.send_urc(Urc(["+X"]))
    assert run(engine, b"AT\r") == b""
    engine.end_reboot()
    assert engine.echo is False  # power-on default given at construction
    assert run(engine, b"AT\r") == b"\r\nOK\r\n"


def test_a_handler_bug_still_ends_with_a_final_result():
    table = CommandTable()
    seen = []
    table.command("+BOOM", execute=lambda c: 1 / 0,
                  set=lambda c: Reply(final=None, data_entry=DataEntry(1, lambda data: 1 / 0)))
    table.command("", execute=lambda c: Reply())
    engine = AtEngine(table, echo=False, observer=lambda kind, **d: seen.append(kind))
    assert run(engine, b"AT+BOOM\rAT\r") == b"\r\n+CME ERROR:100\r\n\r\nOK\r\n"
    assert run(engine, b"AT+BOOM=1\rxAT\r") == b"\r\nOK\r\n\r\n+CME ERROR:100\r\n\r\nOK\r\n"
    assert seen.count("error") == 2


def test_plus_escape_entry_over_64k_is_refused_whole():
    engine, seen = make_engine(echo=False)
    run(engine, b"AT+BIN=0\r")
    for _ in range(70):
        engine.receive(b"\x00" * 1024)
    assert engine.data_to_send() == b""
    assert run(engine, b"+++AT\r") == b"\r\n+CME ERROR:24\r\n\r\nOK\r\n"
    assert seen == []
