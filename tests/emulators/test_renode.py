"""The Renode backend against the real uart_echo firmware (skipped without renode)."""

from __future__ import annotations

import pytest

from pysim.emulators import RenodeEmulator
from pysim.uart import TE_TO_TA, UartLink

pytestmark = [
    pytest.mark.renode,
    pytest.mark.skipif(not RenodeEmulator.available(), reason=str(RenodeEmulator.why_unavailable())),
]


class Collector:
    def __init__(self) -> None:
        self.fed = bytearray()
        self.on_output = None

    def feed(self, data: bytes) -> None:
        self.fed += data


async def test_renode_boots_and_echoes(uart_echo_elf, boot_line):
    async with RenodeEmulator(startup_timeout=60) as emu:
        await emu.start(uart_echo_elf)
        await emu.console.wait_for_line(boot_line, timeout=60)
        module = Collector()
        link = UartLink()
        await link.start(emu.uart, module)
        try:
            module.on_output(b"AT\r")
            await link.wait_for(TE_TO_TA, b"AT\r", timeout=30)
        finally:
            await link.stop()
        pid = emu.pid
    assert emu.returncode is not None and pid is not None
