"""One table of exchanges, checked both ways (h11's ``SIMPLE_CASES``): the module's
``AtEngine`` must write each case's bytes from the command line, the handler's
answer and the URCs; the TE's ``TeParser``/``AtClient`` must read the same bytes
back as the case's response lines, final result and URCs. Both sides take the
shapes from the AT catalogue; a command's arguments are read as the catalogue
declares them."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from peripherals.ica.at import AtEngine, CommandTable, DataEntry, Form, Reply, Urc, catalogue, command_args
from peripherals.ica.at.grammar import parse_line
from pysim.te import AtClient, Line, TeParser


@dataclass
class Case:
    line: str                                # the TE's command line ("" for URCs alone)
    answer: Reply | None                     # what the handler answers (None: no command)
    wire: bytes                              # every byte the module writes (echo off)
    lines: list[tuple[str, bytes]] = field(default_factory=list)   # response lines and payloads
    final: str = "OK"
    urcs: list[Urc] = field(default_factory=list)                  # sent after the command
    te_urcs: list[tuple[str, bytes]] = field(default_factory=list)
    data: bytes | None = None                # binary data entry
    plus: bool = False                       # data entry ended by +++


def entry(length: int, reply: Reply) -> Reply:
    return Reply(final=None, data_entry=DataEntry(length, lambda _payload: reply))


CASES = [
    Case("AT", Reply(), b"\r\nOK\r\n"),
    Case("AT+IMQTTSTATE?", Reply(["+IMQTTSTATE:2"]), b"\r\n+IMQTTSTATE:2\r\n\r\nOK\r\n", [("+IMQTTSTATE:2", b"")]),
    # an id line answers; the result URC +X:<id>,<status> comes later
    Case('AT+IMQTTPUB="/a/b",1,"hi"', Reply(["+IMQTTPUB:7"]),
         b"\r\n+IMQTTPUB:7\r\n\r\nOK\r\n\r\n+IMQTTPUB:7,0\r\n", [("+IMQTTPUB:7", b"")],
         urcs=[Urc(["+IMQTTPUB:7,0"])], te_urcs=[("+IMQTTPUB:7,0", b"")]),
    Case('AT+IMQTTSUB="/t/#",1', Reply(["+IMQTTSUB:8"]),
         b"\r\n+IMQTTSUB:8\r\n\r\nOK\r\n\r\n+IMQTTSUB:8,1\r\n", [("+IMQTTSUB:8", b"")],
         urcs=[Urc(["+IMQTTSUB:8,1"])], te_urcs=[("+IMQTTSUB:8,1", b"")]),
    Case("AT+ICOAPSENDREQN=2,\"/p\",\"x\"", Reply(["+ICOAPSENDREQN:3"]), b"\r\n+ICOAPSENDREQN:3\r\n\r\nOK\r\n",
         [("+ICOAPSENDREQN:3", b"")]),
    Case("AT+IHTTPSENDREQ=1,\"/p\",\"\"", Reply(["+IHTTPSENDREQ:4"]), b"\r\n+IHTTPSENDREQ:4\r\n\r\nOK\r\n",
         [("+IHTTPSENDREQ:4", b"")]),
    # an alias answers with the canonical name, and that is the response, not a URC
    Case("AT+ICOAPPARA?", Reply(['+ICOAPARA:"TIMEOUT",2']), b'\r\n+ICOAPARA:"TIMEOUT",2\r\n\r\nOK\r\n',
         [('+ICOAPARA:"TIMEOUT",2', b"")]),
    # a response line whose binary payload follows the OK
    Case("AT+IOTABLOCK=0", Reply(["+IOTABLOCK:3,0x1234"], payload=b"\r\nO"),
         b"\r\n+IOTABLOCK:3,0x1234\r\n\r\nOK\r\n\r\nO", [("+IOTABLOCK:3,0x1234", b"\r\nO")]),
    Case("AT+IMQTTPUBIN?", Reply(['+IMQTTPUBIN:"/t",0,2'], payload=b"\x00\xff"),
         b'\r\n+IMQTTPUBIN:"/t",0,2\r\n\r\nOK\r\n\x00\xff', [('+IMQTTPUBIN:"/t",0,2', b"\x00\xff")]),
    # the query of a receive URC is a response, payload and all
    Case("AT+IMQTTRCVPUB?", Reply(['+IMQTTRCVPUB:3,"/t",2,"hi"']), b'\r\n+IMQTTRCVPUB:3,"/t",2,"hi"\r\n\r\nOK\r\n',
         [('+IMQTTRCVPUB:3,"/t",2,"hi"', b"hi")]),
    # a status URC after the command's OK
    Case('AT+IMQTTAUTH="pk","dn","ds"', Reply(), b"\r\nOK\r\n\r\n+IMQTTAUTH:OK\r\n",
         urcs=[Urc(["+IMQTTAUTH:OK"])], te_urcs=[("+IMQTTAUTH:OK", b"")]),
    Case("AT+IMQTTCONN", Reply(), b"\r\nOK\r\n\r\n+IMQTTSTATE:2\r\n",
         urcs=[Urc(["+IMQTTSTATE:2"])], te_urcs=[("+IMQTTSTATE:2", b"")]),
    Case('AT+IHTTPSEND=1,"/p",""', Reply(), b'\r\nOK\r\n\r\n+IHTTPSEND:0,2,"ok"\r\n',
         urcs=[Urc([b'+IHTTPSEND:0,2,"ok"'])], te_urcs=[('+IHTTPSEND:0,2,"ok"', b"ok")]),
    Case('AT+IHTTPSEND=1,"/p",""', Reply(), b"\r\nOK\r\n\r\n+IHTTPSEND:4\r\n",
         urcs=[Urc(["+IHTTPSEND:4"])], te_urcs=[("+IHTTPSEND:4", b"")]),
    # receive URCs: their own OK follows and is no final result; payloads read by length
    Case("", None, b'\r\n+IMQTTRCVPUB:3,"/t",5,"a\"\r\n,"\r\n\r\nOK\r\n',
         urcs=[Urc([b'+IMQTTRCVPUB:3,"/t",5,"a"\r\n,"'], ok=True)],
         te_urcs=[('+IMQTTRCVPUB:3,"/t",5,"a"\r\n,"', b'a"\r\n,')]),
    Case("", None, b'\r\n+IMQTTRCVPUB:3,"/a\\"b",2,"hi"\r\n\r\nOK\r\n',     # a topic holding a quote
         urcs=[Urc([b'+IMQTTRCVPUB:3,"/a\\"b",2,"hi"'], ok=True)],
         te_urcs=[('+IMQTTRCVPUB:3,"/a\\"b",2,"hi"', b"hi")]),
    Case("", None, b'\r\n+IMQTTRCVPUBIN:4,"/t",3\r\n\r\nOK\r\n\r\nO',
         urcs=[Urc(['+IMQTTRCVPUBIN:4,"/t",3'], ok=True, payload=b"\r\nO")],
         te_urcs=[('+IMQTTRCVPUBIN:4,"/t",3', b"\r\nO")]),
    Case("", None, b'\r\n+ICOAPRCVRSP:5,"/p",2,"hi"\r\n\r\nOK\r\n',
         urcs=[Urc([b'+ICOAPRCVRSP:5,"/p",2,"hi"'], ok=True)], te_urcs=[('+ICOAPRCVRSP:5,"/p",2,"hi"', b"hi")]),
    Case("", None, b'\r\n+ICOAPRCVBIN:5,"/p",1\r\n\r\nOK\r\n\x07',
         urcs=[Urc(['+ICOAPRCVBIN:5,"/p",1'], ok=True, payload=b"\x07")],
         te_urcs=[('+ICOAPRCVBIN:5,"/p",1', b"\x07")]),
    Case("", None, b'\r\n+IHTTPRCVRSP:6,0,"/p",2,"ok"\r\n\r\nOK\r\n',
         urcs=[Urc([b'+IHTTPRCVRSP:6,0,"/p",2,"ok"'], ok=True)], te_urcs=[('+IHTTPRCVRSP:6,0,"/p",2,"ok"', b"ok")]),
    Case("", None, b"\r\n+IHTTPRCVRSP:6,3\r\n\r\nOK\r\n",           # a status, no payload
         urcs=[Urc(["+IHTTPRCVRSP:6,3"], ok=True)], te_urcs=[("+IHTTPRCVRSP:6,3", b"")]),
    Case("", None, b'\r\n+IHTTPRCVBIN:7,0,"/p",2\r\n\r\nOK\r\n\xff\x00',
         urcs=[Urc(['+IHTTPRCVBIN:7,0,"/p",2'], ok=True, payload=b"\xff\x00")],
         te_urcs=[('+IHTTPRCVBIN:7,0,"/p",2', b"\xff\x00")]),
    Case("", None, b'\r\n+IOTANEWVER:"2.0",1024,"abc"\r\n\r\nOK\r\n',
         urcs=[Urc(['+IOTANEWVER:"2.0",1024,"abc"'], ok=True)], te_urcs=[('+IOTANEWVER:"2.0",1024,"abc"', b"")]),
    Case("", None, b"\r\n+IMQTTPINGRSP\r\n\r\nOK\r\n",
         urcs=[Urc(["+IMQTTPINGRSP"], ok=True)], te_urcs=[("+IMQTTPINGRSP", b"")]),
    # binary data entry: msg_len > 0 (OK, then the bytes) and msg_len 0 (>, then bytes and +++)
    Case('AT+IMQTTPUBIN="/t",1,3', entry(3, Reply(["+IMQTTPUBIN:5"])),
         b"\r\nOK\r\n\r\n+IMQTTPUBIN:5\r\n\r\nOK\r\n", [("+IMQTTPUBIN:5", b"")], data=b"a\r\n"),
    Case('AT+ICOAPSENDNBIN=2,"/p",0', entry(0, Reply(["+ICOAPSENDNBIN:9"])),
         b"\r\n>\r\n+ICOAPSENDNBIN:9\r\n\r\nOK\r\n", [("+ICOAPSENDNBIN:9", b"")], data=b"x+y", plus=True),
    Case('AT+IHTTPSENDBIN=2,"/p",2', entry(2, Reply(["+IHTTPSENDBIN:10"])),
         b"\r\nOK\r\n\r\n+IHTTPSENDBIN:10\r\n\r\nOK\r\n", [("+IHTTPSENDBIN:10", b"")], data=b"\x00\x01"),
    # parameters as the catalogue declares them: ASCII digits only (issue 10 defect 6)
    Case("AT+CMEE=++1", Reply(), b"\r\n+CME ERROR:50\r\n", final="+CME ERROR:50"),
    Case('AT+IMQTTPUB="/t",3,"x"', Reply(), b"\r\n+CME ERROR:50\r\n", final="+CME ERROR:50"),
    Case("AT+IMQTTSTATE=1", Reply(), b"\r\n+CME ERROR:4\r\n", final="+CME ERROR:4"),   # no set form
]


def engine_for(case: Case) -> AtEngine:
    """An engine whose table mounts the case's command, from the catalogue, answering ``case.answer``."""
    table = CommandTable(catalogue.BY_NAME)
    if case.answer is not None:
        [command] = parse_line(case.line[2:], lambda _t: lambda _m: None)
        answer = case.answer

        def handler(cmd):
            if cmd.form is Form.SET:
                command_args(cmd)   # the arguments must read as the catalogue says
            return answer
        definition = catalogue.command(command.name)
        assert definition is not None
        form = command.form if command.form in definition.forms else next(iter(definition.forms))
        table.command(definition.name, **{form.name.lower(): handler})
    return AtEngine(table, echo=False)


def module_bytes(case: Case) -> bytes:
    engine = engine_for(case)
    out = bytearray()
    if case.line:
        engine.receive(case.line.encode("latin-1") + b"\r")
        out += engine.data_to_send()
        if case.data is not None:
            engine.receive(case.data + (b"+++" if case.plus else b""))
            out += engine.data_to_send()
    for urc in case.urcs:
        engine.send_urc(urc)
        out += engine.data_to_send()
    return bytes(out)


@pytest.mark.parametrize("case", CASES, ids=[c.line or c.te_urcs[0][0][:16] for c in CASES])
def test_engine_writes_the_bytes(case):
    assert module_bytes(case) == case.wire


@pytest.mark.parametrize("case", CASES, ids=[c.line or c.te_urcs[0][0][:16] for c in CASES])
async def test_te_reads_the_events(case):
    """The TE client, talking to the engine above (whose bytes are ``case.wire``, as the
    test before shows), reads the case's response lines, final result and URCs."""
    engine = engine_for(case)
    seen = bytearray()

    def deliver() -> None:
        data = engine.data_to_send()
        seen.extend(data)
        for byte in data:                   # byte by byte: chunking must not matter
            client.feed(bytes([byte]))

    def write(data: bytes) -> None:
        engine.receive(data)
        deliver()

    client = AtClient(write)
    if case.line:
        response = await client.command(case.line, data=case.data, plus_escape=case.plus, timeout=1)
        assert [(line.text, line.payload) for line in response.lines] == case.lines
        assert response.final == case.final
    for urc in case.urcs:
        engine.send_urc(urc)
        deliver()
    assert bytes(seen) == case.wire
    assert [(line.text, line.payload) for line in client.urcs] == case.te_urcs


def test_parser_output_does_not_depend_on_chunking():
    wire = b"".join(case.wire for case in CASES if not case.line)
    whole = TeParser().feed(wire)
    parser = TeParser()
    pieces = [event for byte in wire for event in parser.feed(bytes([byte]))]
    assert [(e.text, e.payload) for e in whole if isinstance(e, Line)] == \
        [(e.text, e.payload) for e in pieces if isinstance(e, Line)]
