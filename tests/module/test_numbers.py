"""Numbers in AT parameters are ASCII digits with one optional sign (DECISIONS §7).

Regression for issue 10 defect 6: ``AT+CMEE=++1``, ``-+1`` and superscript digits
answered +CME ERROR:100 (an internal error) instead of 50."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings, strategies as st

from peripherals.ica import IcaModule, ModuleConfig
from peripherals.ica.at import Arg, BadParams, as_float, as_int

INTEGER = re.compile(r"[+-]?[0-9]+")


def answer(line: bytes) -> bytes:
    """What a fresh module (echo off) answers to one command line."""
    module = IcaModule(ModuleConfig(echo=False))
    out = bytearray()
    module.on_output = out.extend
    module.feed(line + b"\r")
    return bytes(out)


@pytest.mark.parametrize("value", [b"++1", b"-+1", b"+-1", b"--0", b"\xb9", b"\xb2", b"1\xb3", b"\xbd",
                                   "١".encode(), "１".encode()])
def test_malformed_numbers_are_bad_parameters(value):
    assert answer(b"AT+CMEE=" + value) == b"\r\n+CME ERROR:50\r\n"


@pytest.mark.parametrize("value", [b"1", b"+1", b" 2 ", b"0"])
def test_good_numbers_still_read(value):
    assert answer(b"AT+CMEE=" + value) == b"\r\nOK\r\n"


def test_malformed_float_is_a_bad_parameter():
    assert answer(b'AT+IMQTTPARA="TIMEOUT",1_0') == b"\r\n+CME ERROR:50\r\n"
    assert answer(b'AT+IMQTTPARA="TIMEOUT",\xb9') == b"\r\n+CME ERROR:50\r\n"
    assert answer(b'AT+IMQTTPARA="TIMEOUT",.5e1') == b"\r\n+CME ERROR:50\r\n"   # 5 s: out of range
    assert answer(b'AT+IMQTTPARA="TIMEOUT",1.5') == b"\r\nOK\r\n"


# latin-1 text: each character is one byte on the UART, as the engine reads it
_LATIN1 = st.text(st.characters(max_codepoint=0xFF, blacklist_characters='\r\n\x08",;'), max_size=8)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(_LATIN1)
def test_any_integer_text_reads_or_is_bad_params(text):
    try:
        value = as_int(Arg(text, False), "n", lambda _m: None)
    except BadParams:
        assert not INTEGER.fullmatch(text.strip())
    else:
        assert INTEGER.fullmatch(text.strip()) and value == int(text)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(_LATIN1)
def test_any_float_text_reads_or_is_bad_params(text):
    try:
        as_float(Arg(text, False), "t", lambda _m: None, -1e9, 1e9)
    except BadParams:
        pass                                   # anything else (ValueError, ...) fails the test


@settings(max_examples=200, deadline=None, derandomize=True)
@given(_LATIN1.filter(lambda t: t != "?"))      # AT+CMEE=? is the test form: its answer is the range
def test_the_module_never_answers_an_internal_error_to_a_number(text):
    out = answer(b"AT+CMEE=" + text.encode("latin-1"))
    assert out in (b"\r\nOK\r\n", b"\r\n+CME ERROR:50\r\n")
