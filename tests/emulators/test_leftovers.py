"""No QEMU outlives its harness: Ctrl-C of the harness, or a harness that never calls stop()."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.qemu
REPO = Path(__file__).resolve().parents[2]

HARNESS = textwrap.dedent("""
    import asyncio, faulthandler, signal, sys
    from pysim.emulators import QemuEmulator
    faulthandler.register(signal.SIGUSR1, all_threads=True)   # the test asks for stacks if we hang

    async def main(firmware, mode):
        emu = QemuEmulator()
        if mode == "interrupt":
            async with emu:
                await emu.start(firmware)
                await emu.console.wait_for_line("BOOT", timeout=20)
                print(emu.pid, flush=True)
                await asyncio.Event().wait()  # until Ctrl-C
        else:  # "abandon": leave without stop(); the finalizer must kill QEMU
            await emu.start(firmware)
            await emu.console.wait_for_line("BOOT", timeout=20)
            print(emu.pid, flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
            globals()["kept"] = emu  # alive until interpreter exit

    try:
        asyncio.run(main(sys.argv[1], sys.argv[2]))
    except KeyboardInterrupt:
        pass
""")


async def wait_process_end(pidfd: int, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    ended = loop.create_future()
    loop.add_reader(pidfd, lambda: ended.done() or ended.set_result(None))
    try:
        await asyncio.wait_for(ended, timeout)
    finally:
        loop.remove_reader(pidfd)


@pytest.mark.parametrize("mode", ["interrupt", "abandon"])
async def test_qemu_does_not_outlive_the_harness(uart_echo_elf, mode):
    harness = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HARNESS, str(uart_echo_elf), mode, cwd=REPO,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        pid = int(await asyncio.wait_for(harness.stdout.readline(), 30))
        pidfd = os.pidfd_open(pid)
        try:
            if mode == "interrupt":
                harness.send_signal(signal.SIGINT)
            else:
                harness.stdin.write(b"go\n")
            try:
                code = await asyncio.wait_for(harness.wait(), 30)
            except asyncio.TimeoutError:
                harness.send_signal(signal.SIGUSR1)
                stacks = await asyncio.wait_for(harness.stderr.read(20000), 5)
                raise AssertionError(f"harness still running 30 s after {mode}; its threads:\n"
                                     + stacks.decode(errors="replace")) from None
            assert code == 0, (await harness.stderr.read()).decode(errors="replace")
            await wait_process_end(pidfd, 10)
        finally:
            os.close(pidfd)
    finally:
        if harness.returncode is None:
            harness.kill()
            await harness.wait()
