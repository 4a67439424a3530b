"""IcaLibrary used straight from Python: keywords work across calls on the background
loop, failures read well, and Stop All leaves no thread, socket or loop behind."""

from __future__ import annotations

import gc
import importlib
import os
import sys
import threading
from pathlib import Path

import shutil
import subprocess

import pytest

ROBOT_DIR = Path(__file__).resolve().parents[2] / "robot"
PK, DN, SECRET = "a1libPK", "lib-device-01", "lib-secret-01"


def load_library():
    """The IcaLibrary package from robot/, as Robot imports it."""
    if str(ROBOT_DIR) not in sys.path:
        sys.path.insert(0, str(ROBOT_DIR))
    return importlib.import_module("IcaLibrary").IcaLibrary


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.fixture
def lib():
    instance = load_library()()
    yield instance
    instance.stop_all()


def mqtt_online(lib) -> None:
    lib.send_at("ATE0")
    lib.send_at(f'AT+IMQTTAUTH="{PK}","{DN}","{SECRET}"')
    assert lib.wait_for_urc("+IMQTTAUTH") == "+IMQTTAUTH:OK"
    lib.send_at("AT+IMQTTCONN")
    assert lib.wait_for_urc("+IMQTTSTATE") == "+IMQTTSTATE:2"


def test_stop_all_leaves_nothing_running(lib):
    gc.collect()   # earlier tests' garbage would otherwise close its sockets mid-test
    threads, fds = set(threading.enumerate()), open_fds()
    lib.start_cloud()
    lib.register_device(PK, DN, SECRET)
    lib.start_module()
    lib.subscribe_as_cloud(f"/{PK}/{DN}/user/#")
    mqtt_online(lib)
    lib.module_should_be_connected()
    lib.send_at(f'AT+IMQTTPUB="/{PK}/{DN}/user/t",1,"hello"')
    assert lib.cloud_should_receive(f"/{PK}/{DN}/user/t") == "hello"
    assert len(open_fds()) > len(fds) and len(threading.enumerate()) > len(threads)
    loop = lib._loop.loop
    lib.stop_all()
    assert loop.is_closed()
    assert set(threading.enumerate()) == threads
    # paho keeps its wake-up socketpair after loop_stop until the client is collected
    gc.collect()
    assert open_fds() == fds
    lib.stop_all()   # idempotent


def test_the_module_keeps_running_between_keywords(lib):
    """A cloud publish lands while no keyword runs; the next keyword finds its URC."""
    lib.start_cloud()
    lib.register_device(PK, DN, SECRET)
    lib.start_module()
    mqtt_online(lib)
    lib.send_at(f'AT+IMQTTSUB="/{PK}/{DN}/user/cmd",1')
    lib.wait_for_urc("+IMQTTSUB")
    lib.publish_as_cloud(f"/{PK}/{DN}/user/cmd", "on")
    assert lib.wait_for_urc("+IMQTTRCVPUB").endswith(',2,"on"')


def test_failures_show_what_came_instead(lib):
    lib.start_cloud()
    lib.start_module(echo=False)
    with pytest.raises(AssertionError, match=r"'AT\+IMQTTCONN' ended with '\+CME ERROR:3', expected 'OK'"):
        lib.send_at("AT+IMQTTCONN")
    with pytest.raises(AssertionError, match=r"no \+IMQTTSTATE URC within 0.2 s"):
        lib.wait_for_urc("+IMQTTSTATE", timeout=0.2)
    with pytest.raises(AssertionError, match="no subscription covers"):
        lib.cloud_should_receive("/a/b")
    with pytest.raises(AssertionError, match="Stop All first"):
        lib.start_cloud()
    lib.send_at("AT")                 # still usable after failed keywords


def start_two_modules(lib) -> None:
    lib.start_cloud()
    for name in ("a", "b"):
        lib.register_device(PK, f"dev-{name}", f"secret-{name}")


def online(lib, module, dn, secret) -> None:
    lib.send_at("ATE0", module=module)
    lib.send_at(f'AT+IMQTTAUTH="{PK}","{dn}","{secret}"', module=module)
    assert lib.wait_for_urc("+IMQTTAUTH", module=module) == "+IMQTTAUTH:OK"
    lib.send_at("AT+IMQTTCONN", module=module)
    assert lib.wait_for_urc("+IMQTTSTATE", module=module).fields == ["2"]


def test_two_modules_by_handle(lib):
    start_two_modules(lib)
    assert lib.start_module(alias="a") == 1
    assert lib.start_module(alias="b") == 2
    assert lib.switch_module("a") == 2          # returns the one active before
    online(lib, None, "dev-a", "secret-a")      # None: the active module, a
    online(lib, "b", "dev-b", "secret-b")
    lib.module_should_be_connected(module=2)
    for name in ("a", "b"):
        lib.send_at(f'AT+IMQTTSUB="/{PK}/dev-{name}/user/cmd",1', module=name)
        lib.wait_for_urc("+IMQTTSUB", module=name)
    lib.publish_as_cloud(f"/{PK}/dev-b/user/cmd", "for b")
    urc = lib.wait_for_urc("+IMQTTRCVPUB", module="b")
    assert (urc.name, urc.fields[1], urc.payload) == ("+IMQTTRCVPUB", f"/{PK}/dev-b/user/cmd", b"for b")
    assert urc.text == urc and lib.urc_payload(urc) == "for b"
    with pytest.raises(AssertionError, match=r"no \+IMQTTRCVPUB URC within 0.3 s"):
        lib.wait_for_urc("+IMQTTRCVPUB", timeout=0.3, module="a")
    with pytest.raises(AssertionError, match="no module 'c'"):
        lib.send_at("AT", module="c")
    with pytest.raises(AssertionError, match="alias 'a' already runs"):
        lib.start_module(alias="a")
    event = lib.wait_for_cloud_event("mqtt.subscribe", topic=f"/{PK}/dev-b/user/cmd")
    assert event.device == (PK, "dev-b")
    lib.switch_module("b")
    lib.stop_module()                            # the active one
    with pytest.raises(AssertionError, match="module b was stopped"):
        lib.send_at("AT", module="b")
    with pytest.raises(AssertionError, match="no module: use Start Module first"):
        lib.send_at("AT")
    lib.send_at("AT", module="a")                # the other one runs on
    assert lib.start_module() == 3


def test_responses_are_returned_not_kept(lib):
    lib.start_cloud()
    lib.start_module()
    first = lib.send_at("AT+CGMI")
    assert first.final == "OK" and b"AT+CGMI\r" in first.raw and "ICA-SIM" in first
    lib.send_at("ATE0")
    lib.raw_output_should_contain("AT+CGMI\r", first)            # the older response, passed back
    lib.raw_output_should_not_contain("AT+CGMI", lib.send_at("AT+CGMI"))
    para = lib.send_at("AT+IMQTTPARA?")
    lib.send_at("AT")
    lib.response_should_contain('+IMQTTPARA:"KEEPALIVE",60', para)
    assert lib.response_field("+IMQTTPARA", 0, para) == para.response.line("+IMQTTPARA").fields[0] != ""
    with pytest.raises(AssertionError, match=r"no \+IMQTTPARA line"):
        lib.response_field("+IMQTTPARA")                          # deprecated: the last response, AT's
    assert lib.set_at_timeout("2s") == "10 s" and lib.set_at_timeout(10) == "2 s"
    assert lib.urc_field(1, '+IMQTTRCVPUB:1,"/a/b",2,"hi"') == "/a/b"     # a line's text reads as a URC
    with pytest.raises(AssertionError, match="not a response of Send AT"):
        lib.response_field("+IMQTTPARA", 0, ["+IMQTTPARA:1"])


def test_uart_keywords_on_the_at_link(lib):
    lib.start_cloud()
    lib.start_module(echo=False)
    assert lib.set_default_uart_timeout(5) == "30 s"
    sent = lib.write_line_to_uart("AT+CGMI", uart="at")
    assert (sent.line, sent.direction) == ("AT+CGMI", "TE->TA")
    te = lib.wait_for_line_on_uart("AT+CGMI", uart="at-te")
    maker = lib.wait_for_line_on_uart(r"^ICA-(\w+)$", regex=True)       # default uart of a module: at
    assert (maker.line, maker.groups, maker.direction) == ("ICA-SIM", ["SIM"], "TA->TE")
    assert 0 <= te.timestamp <= maker.timestamp
    lib.wait_for_line_on_uart("OK")
    # in order: the ICA-SIM line was read, a second wait for it finds nothing new
    with pytest.raises(AssertionError, match=r"no line 'ICA-SIM' on at within 0.2 s"):
        lib.wait_for_line_on_uart("ICA-SIM", timeout=0.2)
    lib.should_not_be_on_uart("ERROR", timeout=0.2)
    lib.write_line_to_uart("AT+NOSUCH", uart="at")
    with pytest.raises(AssertionError, match=r"line 'ERROR' on at-ta at [\d.]+ s: '\+CME ERROR:4'") as error:
        lib.should_not_be_on_uart("ERROR", timeout=5, uart="at-ta")
    assert "Trace tail of module 1" in str(error.value) and "TE->TA AT+NOSUCH" in str(error.value)
    with pytest.raises(AssertionError, match="no UART 'usb'"):
        lib.wait_for_line_on_uart("x", uart="usb")
    with pytest.raises(AssertionError, match="has no console"):
        lib.wait_for_line_on_uart("x", uart="console", module=1)


def test_a_failing_string_ends_a_wait_at_once(lib):
    lib.start_cloud()
    lib.start_module(echo=False)
    lib.send_at("AT+NOSUCH", expected="+CME ERROR:4")      # before registration: does not count
    lib.register_failing_uart_string(r"\+CME ERROR:\d+", regex=True, uart="at-ta")
    lib.send_at("AT+IMQTTCONN", expected="+CME ERROR:3")
    with pytest.raises(AssertionError) as error:
        lib.wait_for_line_on_uart("never comes", timeout=30)
    message = str(error.value)
    assert "failing string regex '\\\\+CME ERROR:\\\\d+' seen: TA->TE" in message, message
    assert "'+CME ERROR:3'" in message and "within 30 s" not in message


def test_failures_end_with_the_trace_tail(lib):
    lib.start_cloud()
    lib.start_module(echo=False, alias="m")
    lib.send_at("AT+CGMI")
    with pytest.raises(AssertionError) as error:
        lib.send_at("AT+IMQTTCONN")
    message = str(error.value)
    head, tail = message.split("\nTrace tail of module m (s since it started):\n")
    assert head == "'AT+IMQTTCONN' ended with '+CME ERROR:3', expected 'OK'; response lines: []"
    lines = tail.splitlines()
    assert lines[-2].split()[1:] == ["TE->TA", "AT+IMQTTCONN\\r"], lines
    assert lines[-1].split()[1:] == ["TA->TE", "\\r\\n+CME", "ERROR:3\\r\\n"], lines
    assert any("ICA-SIM" in line for line in lines)


def test_start_mcu_session_refuses_what_it_cannot_start(lib):
    with pytest.raises(AssertionError, match="identity must be PK:DN:SECRET, got 'a1:dn'"):
        lib.start_mcu_session(identity="a1:dn")
    with pytest.raises(AssertionError, match="the MCU session did not start: FileNotFoundError: no firmware at"):
        lib.start_mcu_session(firmware="/nonexistent.elf")


@pytest.fixture
def demo_elf() -> Path:
    root = ROBOT_DIR.parent
    subprocess.run(["make", "-s", "-C", str(root / "firmware"), "build/demo.elf"], check=True, capture_output=True)
    return root / "firmware" / "build" / "demo.elf"


@pytest.mark.skipif(not (shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-gcc")),
                    reason="needs qemu-system-arm and arm-none-eabi-gcc (make deps installs them)")
def test_the_session_cloud_knows_the_identity_given(lib, demo_elf):
    """The cloud knows the demo device with another secret: the firmware's login fails."""
    lib.start_mcu_session(firmware=str(demo_elf), identity="a1demoPK:demo-device-01:not-the-firmware-secret")
    line = lib.wait_for_line_on_uart(r"^STEP mqtt_auth (ok|fail)", regex=True, timeout=30)
    assert line.groups == ["fail"], line
    assert lib.wait_for_line_on_uart("+IMQTTAUTH:FAIL", uart="at-ta", timeout=5).direction == "TA->TE"


def test_an_unknown_profile_is_refused_at_import():
    with pytest.raises(ValueError, match="unknown module profile 'sdk9': use one of spec, sdk2, sdk3"):
        load_library()(profile="sdk9")


def test_the_import_profile_is_every_modules_default_and_start_module_overrides_it():
    lib = load_library()(profile="sdk2")
    try:
        lib.start_cloud()
        lib.start_module(alias="default")
        lib.start_module(alias="own", profile="spec")
        assert lib._module_handle("default").module.config.profile == "sdk2"
        assert lib._module_handle("own").module.config.profile == "spec"
        assert b"AT+CGMI" not in lib.send_at("AT+CGMI", module="default").raw   # sdk2: echo off at power-on
        assert b"AT+CGMI" in lib.send_at("AT+CGMI", module="own").raw
    finally:
        lib.stop_all()
