"""Every command of the spec's index in every form it defines, over the byte stream,
with no cloud: test forms, query defaults, unsupported forms, state and range errors."""

from __future__ import annotations

import pytest

# (command, test-form lines) for all 42 commands: the spec's test rows (errata #54)
TEST_FORMS = [
    ("AT+IMQTTMODE", ['+IMQTTMODE:"mode"']),
    ("AT+IMQTTAUTH", ['+IMQTTAUTH:"productKey","deviceName","deviceSecret"']),
    ("AT+IMQTTPARA", ['+IMQTTPARA:"ParaTag","ParaValue"']),
    ("AT+IMQTTCONN", []),
    ("AT+IMQTTPUB", ['+IMQTTPUB:"topic","qos","message"']),
    ("AT+IMQTTPUBIN", ['+IMQTTPUBIN:"topic","qos","msg_len"']),
    ("AT+IMQTTSUB", ['+IMQTTSUB:"topic","qos"']),
    ("AT+IMQTTUNSUB", ['+IMQTTUNSUB:"topic"']),
    ("AT+IMQTTRCVPUB", []),
    ("AT+IMQTTRCVPUBIN", []),
    ("AT+IMQTTSTATE", []),
    ("AT+IMQTTDISCONN", []),
    ("AT+IMQTTDBGPARA", ['+IMQTTDBGPARA:"ParaTag","ParaValue"']),
    ("AT+IMQTTPINGRSP", []),
    ("AT+ICOAPARA", ['+ICOAPARA:"ParaTag","ParaValue"']),
    ("AT+ICOAPAUTH", ['+ICOAPAUTH:"productKey","deviceName","deviceSecret"']),
    ("AT+ICOAPSENDREQ", ['+ICOAPSENDREQ:"method","path","message"']),
    ("AT+ICOAPSENDBIN", ['+ICOAPSENDBIN:"method","path","msg_len"']),
    ("AT+ICOAPSENDREQN", ['+ICOAPSENDREQN:"method","path","message"']),
    ("AT+ICOAPSENDNBIN", ['+ICOAPSENDNBIN:"method","path","msg_len"']),
    ("AT+ICOAPRCVRSP", []),
    ("AT+ICOAPRCVBIN", []),
    ("AT+IHTTPARA", ['+IHTTPARA:"ParaTag","ParaValue"']),
    ("AT+IHTTPAUTH", ['+IHTTPAUTH:"productKey","deviceName","deviceSecret"']),
    ("AT+IHTTPSEND", ['+IHTTPSEND:"method","path","message"']),
    ("AT+IHTTPSENDREQ", ['+IHTTPSENDREQ:"method","path","message"']),
    ("AT+IHTTPSENDBIN", ['+IHTTPSENDBIN:"method","path","msg_len"']),
    ("AT+IHTTPRCVRSP", []),
    ("AT+IHTTPRCVBIN", []),
    ("AT+IHTTPDISCONN", []),
    ("AT+IOTAPARA", ['+IOTAPARA:"ParaTag","ParaValue"']),
    ("AT+IOTAVER", ['+IOTAVER:"version"']),
    ("AT+IOTANEWVER", []),
    ("AT+IOTAPGS", ['+IOTAPGS:"progress","desc"']),
    ("AT+IOTABLOCK", []),
    ("AT+IOTABORT", []),
    ("AT+ILOGLVL", ['+ILOGLVL:"level"']),
    ("AT+IREBOOT", []),
    ("AT+IDEFAULT", []),
    ("AT+CGMI", []),
    ("AT+CGMM", []),
    ("AT+CGMR", []),
]


def test_the_index_has_42_commands():
    assert len(TEST_FORMS) == 42


@pytest.mark.parametrize("command,lines", TEST_FORMS, ids=[c for c, _ in TEST_FORMS])
async def test_test_form(offline, command, lines):
    response = await offline.command(command + "=?")
    assert response.final == "OK"
    assert [line.text for line in response.lines] == lines


# Forms a command does not define answer +CME ERROR:4 (operation not supported)
UNSUPPORTED = [
    "AT+IMQTTCONN?", "AT+IMQTTCONN=1", "AT+IMQTTSTATE", "AT+IMQTTSTATE=1", "AT+IMQTTDISCONN?",
    "AT+IMQTTPINGRSP?", "AT+IMQTTPINGRSP", "AT+IMQTTRCVPUB", "AT+IMQTTRCVPUB=1", "AT+ICOAPRCVRSP=1",
    "AT+IHTTPDISCONN?", "AT+IOTAPGS?", "AT+IOTABLOCK?", "AT+IOTABLOCK", "AT+IOTABORT?",
    "AT+IREBOOT?", "AT+IREBOOT", "AT+IDEFAULT?", "AT+IOTANEWVER=1", "AT+IMQTTPUB", "AT+NOSUCH",
    "AT+NOSUCH=?", "ATZ",
]


@pytest.mark.parametrize("command", UNSUPPORTED)
async def test_undefined_forms_are_not_supported(offline, command):
    assert (await offline.command(command)).final == "+CME ERROR:4"


QUERY_DEFAULTS = [
    ("AT+IMQTTMODE?", ["+IMQTTMODE:0"]),
    ("AT+IMQTTPARA?", ['+IMQTTPARA:"TIMEOUT",2', '+IMQTTPARA:"CLEAN",1', '+IMQTTPARA:"KEEPALIVE",60',
                       '+IMQTTPARA:"VERSION","3.1.1"']),
    ("AT+IMQTTDBGPARA?", ['+IMQTTDBGPARA:"PINGRSP",0']),
    ("AT+IMQTTSTATE?", ["+IMQTTSTATE:0"]),
    ("AT+ICOAPARA?", ['+ICOAPARA:"TIMEOUT",2']),
    ("AT+ICOAPPARA?", ['+ICOAPARA:"TIMEOUT",2']),
    ("AT+IHTTPARA?", ['+IHTTPARA:"KEEPALIVE",0', '+IHTTPARA:"TIMEOUT",5']),
    ("AT+IHTTPPARA?", ['+IHTTPARA:"KEEPALIVE",0', '+IHTTPARA:"TIMEOUT",5']),
    ("AT+IOTAPARA?", ['+IOTAPARA:"DURATION",86400', '+IOTAPARA:"BLOCKSIZE",512']),
    ("AT+ILOGLVL?", ["+ILOGLVL:0"]),
    ("AT+CMEE?", ["+CMEE:1"]),
    # nothing yet: a bare OK (errata #40)
    ("AT+IMQTTPUB?", []), ("AT+IMQTTPUBIN?", []), ("AT+IMQTTSUB?", []), ("AT+IMQTTUNSUB?", []),
    ("AT+IMQTTRCVPUB?", []), ("AT+IMQTTRCVPUBIN?", []), ("AT+IMQTTAUTH?", []),
    ("AT+ICOAPAUTH?", []), ("AT+ICOAPSENDREQ?", []), ("AT+ICOAPSENDBIN?", []), ("AT+ICOAPSENDREQN?", []),
    ("AT+ICOAPSENDNBIN?", []), ("AT+ICOAPRCVRSP?", []), ("AT+ICOAPRCVBIN?", []), ("AT+IHTTPAUTH?", []),
    ("AT+IHTTPSEND?", []), ("AT+IHTTPSENDREQ?", []), ("AT+IHTTPSENDBIN?", []), ("AT+IHTTPRCVRSP?", []),
    ("AT+IHTTPRCVBIN?", []), ("AT+IOTAVER?", []), ("AT+IOTANEWVER?", []),
]


@pytest.mark.parametrize("command,lines", QUERY_DEFAULTS, ids=[c for c, _ in QUERY_DEFAULTS])
async def test_query_defaults(offline, command, lines):
    response = await offline.command(command)
    assert response.final == "OK"
    assert [line.text for line in response.lines] == lines


IDENTIFICATION = [("AT+CGMI", "ICA-SIM"), ("AT+CGMI?", "ICA-SIM"), ("AT+CGMM", "ICA-MODULE-SIM"),
                  ("AT+CGMM?", "ICA-MODULE-SIM"), ("AT+CGMR", "ica-at-0.4-sim-1"), ("AT+CGMR?", "ica-at-0.4-sim-1"),
                  ("AT+CGSN", "869000000000001"), ("AT+CGSN?", "869000000000001")]


@pytest.mark.parametrize("command,text", IDENTIFICATION)
async def test_identification(offline, command, text):
    response = await offline.command(command)
    assert response.ok and [line.text for line in response.lines] == [text]


async def test_ati_names_the_module(offline):
    response = await offline.command("ATI")
    assert response.ok and "ICA-MODULE-SIM" in [line.text for line in response.lines]


PARA_SETS = [
    ('AT+IMQTTPARA="TIMEOUT",0.5', "AT+IMQTTPARA?", '+IMQTTPARA:"TIMEOUT",0.5'),
    ('AT+IMQTTPARA="TIMEOUT",2,"CLEAN",0,"KEEPALIVE",180,"VERSION","3.1"', "AT+IMQTTPARA?",
     '+IMQTTPARA:"VERSION","3.1"'),
    ('AT+IMQTTPARA="TIMEOUT", 2, "CLEAN", 1, "KEEPALIVE", 60, "VERSION", "3.1.1"', "AT+IMQTTPARA?",
     '+IMQTTPARA:"KEEPALIVE",60'),  # the spec's example, spaces and all
    ('AT+IMQTTDBGPARA="PINGRSP", 1', "AT+IMQTTDBGPARA?", '+IMQTTDBGPARA:"PINGRSP",1'),
    ('AT+ICOAPARA="TIMEOUT", 60', "AT+ICOAPARA?", '+ICOAPARA:"TIMEOUT",60'),
    ('AT+ICOAPPARA="TIMEOUT",1', "AT+ICOAPARA?", '+ICOAPARA:"TIMEOUT",1'),
    ('AT+IHTTPARA="KEEPALIVE", 1, "TIMEOUT", 6', "AT+IHTTPARA?", '+IHTTPARA:"TIMEOUT",6'),
    ('AT+IOTAPARA="DURATION", 86400, "BLOCKSIZE", 512', "AT+IOTAPARA?", '+IOTAPARA:"BLOCKSIZE",512'),
    ('AT+IOTAPARA="BLOCKSIZE",4096', "AT+IOTAPARA?", '+IOTAPARA:"BLOCKSIZE",4096'),
    ("AT+IMQTTMODE=1", "AT+IMQTTMODE?", "+IMQTTMODE:1"),
    ("AT+ILOGLVL=5", "AT+ILOGLVL?", "+ILOGLVL:5"),
    ("AT+CMEE=0", "AT+CMEE?", "+CMEE:0"),
    ('AT+IOTAVER="hw_1.0.0 fw_1.2.0"', "AT+IOTAVER?", '+IOTAVER:"hw_1.0.0 fw_1.2.0"'),
]


@pytest.mark.parametrize("command,query,expected", PARA_SETS, ids=[c for c, _, _ in PARA_SETS])
async def test_set_then_query(offline, command, query, expected):
    assert (await offline.command(command)).ok
    response = await offline.command(query)
    assert expected in [line.text for line in response.lines]


BAD_PARAMETERS = [
    'AT+IMQTTPARA="TIMEOUT",0.4', 'AT+IMQTTPARA="TIMEOUT",2.5', 'AT+IMQTTPARA="CLEAN",2',
    'AT+IMQTTPARA="KEEPALIVE",59', 'AT+IMQTTPARA="KEEPALIVE",181', 'AT+IMQTTPARA="VERSION","5"',
    'AT+IMQTTPARA="NOPE",1', 'AT+IMQTTPARA="TIMEOUT"', 'AT+IMQTTPARA=', 'AT+IMQTTPARA="TIMEOUT",x',
    'AT+IMQTTDBGPARA="PINGRSP",2', "AT+IMQTTMODE=2", "AT+IMQTTMODE=", 'AT+ICOAPARA="TIMEOUT",0',
    'AT+ICOAPARA="TIMEOUT",61', 'AT+IHTTPARA="KEEPALIVE",2', 'AT+IHTTPARA="TIMEOUT",0',
    'AT+IHTTPARA="TIMEOUT",61', 'AT+IOTAPARA="DURATION",59', 'AT+IOTAPARA="DURATION",2592001',
    'AT+IOTAPARA="BLOCKSIZE",15', 'AT+IOTAPARA="BLOCKSIZE",4097', "AT+ILOGLVL=6", "AT+ILOGLVL=-1",
    "AT+IREBOOT=2", "AT+IREBOOT=", "AT+CMEE=3", 'AT+IMQTTAUTH="pk","dn"', 'AT+IMQTTAUTH="pk","dn",""',
    'AT+IMQTTAUTH="pk","dn","s","x"', 'AT+ICOAPAUTH="a"', 'AT+IHTTPAUTH=', "AT+IOTAVER=", 'AT+IOTAVER=""',
    "AT+IOTAPGS=101", "AT+IOTAPGS=-5", "AT+IOTAPGS=", "AT+IOTABLOCK=2", "AT+IOTABLOCK=",
    'AT+IMQTTPUB="/t",3,"m"', 'AT+IMQTTPUB="/t",1', 'AT+IMQTTPUB="",1,"m"', 'AT+IMQTTPUB="/t/#",1,"m"',
    'AT+IMQTTPUBIN="/t",1,65537', 'AT+IMQTTPUBIN="/t",1,-1', 'AT+IMQTTSUB="/t",3', 'AT+IMQTTSUB="/t"',
    "AT+IMQTTUNSUB=", 'AT+ICOAPSENDREQ=5,"/p","m"', 'AT+ICOAPSENDREQ=2,"p","m"', 'AT+ICOAPSENDREQ=2,"/p"',
    'AT+ICOAPSENDBIN=2,"/p",70000', 'AT+ICOAPSENDREQN=0,"/p","m"', 'AT+ICOAPSENDNBIN=2,"/p",-3',
    'AT+IHTTPSEND=9,"/p","m"', 'AT+IHTTPSEND=1,"","m"', 'AT+IHTTPSENDREQ=2,"/p"', 'AT+IHTTPSENDBIN=2,"/p",x',
    'AT+IMQTTPUB="/t,1,"m"',
]


@pytest.mark.parametrize("command", BAD_PARAMETERS)
async def test_bad_parameters_give_error_50(offline, command):
    assert (await offline.command(command)).final == "+CME ERROR:50"


WRONG_STATE = [
    'AT+IMQTTPUB="/t",1,"m"', 'AT+IMQTTPUBIN="/t",1,5', 'AT+IMQTTSUB="/t",1', 'AT+IMQTTUNSUB="/t"',
    "AT+IMQTTCONN", "AT+IMQTTDISCONN", "AT+IMQTTAUTH", "AT+ICOAPAUTH", "AT+IHTTPAUTH",
    'AT+ICOAPSENDREQ=2,"/p","m"', 'AT+ICOAPSENDBIN=2,"/p",3', 'AT+ICOAPSENDREQN=2,"/p","m"',
    'AT+ICOAPSENDNBIN=2,"/p",0', "AT+IOTABLOCK=0", "AT+IOTABLOCK=1", "AT+IOTABORT", 'AT+IOTAPGS=10,"x"',
]


@pytest.mark.parametrize("command", WRONG_STATE)
async def test_wrong_state_gives_error_3(offline, command):
    assert (await offline.command(command)).final == "+CME ERROR:3"


async def test_parameters_are_applied_all_or_nothing(offline):
    assert (await offline.command('AT+IMQTTPARA="KEEPALIVE",120,"CLEAN",7')).final == "+CME ERROR:50"
    response = await offline.command("AT+IMQTTPARA?")
    assert '+IMQTTPARA:"KEEPALIVE",60' in [line.text for line in response.lines]


async def test_cmee_0_and_2_change_the_error_form(offline):
    await offline.expect_ok("AT+CMEE=0")
    assert (await offline.command("AT+NOSUCH")).final == "ERROR"
    await offline.expect_ok("AT+CMEE=2")
    assert (await offline.command("AT+NOSUCH")).final == "+CME ERROR:operation not supported"


async def test_echo_on_and_off_over_the_raw_stream(offline):
    offline.raw.clear()
    await offline.expect_ok("ATE1")
    await offline.expect_ok("AT")
    assert bytes(offline.raw).endswith(b"AT\r\r\nOK\r\n")
    await offline.expect_ok("ATE0")
    offline.raw.clear()
    await offline.expect_ok("AT")
    assert bytes(offline.raw) == b"\r\nOK\r\n"


async def test_quoted_number_and_bare_string_are_accepted_with_a_warning(offline):
    warnings = offline.module.events.find(lambda e: e.kind == "at.warning")
    assert not warnings
    assert (await offline.command('AT+IMQTTPARA="KEEPALIVE","90"')).ok
    assert (await offline.command("AT+IMQTTPARA=TIMEOUT,1")).ok
    messages = [e.detail["message"] for e in offline.module.events.find(lambda e: e.kind == "at.warning")]
    assert any("KEEPALIVE should be a bare number" in m for m in messages)
    assert any("ParaTag should be a quoted string" in m for m in messages)


async def test_pgs_desc_may_be_left_out_but_needs_a_device(offline):
    # spec example AT+IOTAPGS=80: parameters fine, but no device authenticated yet
    assert (await offline.command("AT+IOTAPGS=80")).final == "+CME ERROR:3"
