"""IcaLibrary used straight from Python: keywords work across calls on the background
loop, failures read well, and Stop All leaves no thread, socket or loop behind."""

from __future__ import annotations

import gc
import importlib
import os
import sys
import threading
from pathlib import Path

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
