"""Renode in process through pyrenode3 (``PyRenode3Emulator``), against uart_echo.

The backend runs in a child Python process: Renode, once loaded into an interpreter,
stays there (and Debian's mono crashes when that interpreter exits), so the test
process itself never loads it. Skipped without pyrenode3 or a Renode build."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from pysim.emulators import PyRenode3Emulator

pytestmark = [
    pytest.mark.renode,
    pytest.mark.skipif(not PyRenode3Emulator.available(), reason=str(PyRenode3Emulator.why_unavailable())),
]

CHILD = textwrap.dedent("""\
    import asyncio, json, os, sys
    from pysim.emulators import get_emulator

    async def run(elf):
        async with get_emulator("pyrenode3") as emu:
            await emu.start(elf)
            boot = await emu.console.wait_for_line("BOOT uart-echo", timeout=60)
            emu.uart.writer.write(b"ping\\r")
            echo = await asyncio.wait_for(emu.uart.reader.readexactly(5), 30)
            emu.uart.writer.write(b"EXIT 5\\r")
            code = await emu.wait_exit(timeout=30)
            return {"boot": boot, "echo": echo.decode(), "exit": code, "pid": emu.pid,
                    "virtual_time": await emu.virtual_time()}

    print(json.dumps(asyncio.run(run(sys.argv[1]))), flush=True)
    os._exit(0)   # mono, once hosted, crashes at interpreter exit
    """)


def test_pyrenode3_runs_the_firmware_in_process(uart_echo_elf, tmp_path):
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")]))}
    # cwd: a crashing mono writes mono_crash.* files where it runs, not into the checkout
    run = subprocess.run([sys.executable, "-c", CHILD, str(uart_echo_elf)], capture_output=True, text=True,
                         timeout=240, cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["boot"] == "BOOT uart-echo" and result["echo"] == "ping\r"
    assert result["exit"] == 5  # the semihosting call, seen by a Python callback Renode runs
    assert result["pid"] != os.getpid() and result["virtual_time"] > 0  # the child's own process
