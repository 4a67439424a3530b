"""`dut` takes the GDB options as `mcu_session` does (the pysim_gdb marker, --pysim-gdb)."""

from __future__ import annotations

import re
import socket

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PORT = free_port()


@pytest.mark.pysim_gdb(PORT)
def test_dut_serves_gdb_on_the_marker_port(dut):
    assert dut.session.options.gdb_port == PORT and not dut.session.options.gdb_wait
    with socket.create_connection(("127.0.0.1", PORT), timeout=10) as gdb:
        gdb.settimeout(10)
        gdb.sendall(b"$?#3f")                   # remote protocol: why did the target stop?
        reply = b""
        while b"#" not in reply:
            chunk = gdb.recv(256)
            assert chunk, f"the GDB server closed after {reply!r}"
            reply += chunk
    assert re.search(rb"\$[ST][0-9a-f]{2}", reply), reply        # a stop reply packet
