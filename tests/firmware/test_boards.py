"""Every board in platforms/ with its BSP: the firmware's facts match the board
description, uart_echo runs on each, and the demo passes on each under QEMU."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pysim.emulators import Board, QemuEmulator, RenodeEmulator
from pysim.emulators.board import board_names
from pysim.runner import RunChecks, run_firmware
from pysim.scenario import builtin_scenario, load_scenario
from pysim.session import Session, SessionOptions

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"

BOARDS = ["netduinoplus2", "netduino2", "stm32vldiscovery"]


def test_every_board_has_a_bsp_and_a_description():
    assert set(BOARDS) <= set(board_names())
    bsps = {p.parent.name for p in (FIRMWARE / "bsp").glob("*/board.mk")}
    assert bsps == set(board_names())


@pytest.mark.parametrize("name", BOARDS)
def test_bsp_facts_match_the_description(name):
    """Memory (memory.ld) and USART addresses/IRQs (board headers) agree with the JSON."""
    board = Board.load(name)
    bsp = FIRMWARE / "bsp" / name
    memory = (bsp / "memory.ld").read_text()
    for region, key in (("FLASH", "flash"), ("RAM", "sram")):
        m = re.search(rf"{region}\s+\(\w+\)\s*: ORIGIN = (0x[0-9A-Fa-f]+), LENGTH = (\d+)K", memory)
        assert m, f"{region} not in {bsp / 'memory.ld'}"
        assert (int(m.group(1), 16), int(m.group(2)) * 1024) == (board.memory[key].base, board.memory[key].size)
    headers = (bsp / "board.h").read_text()
    include = re.search(r'#include "(stm32f2f4\.h)"', headers)
    if include:
        headers += (FIRMWARE / "bsp" / "common" / include.group(1)).read_text()
    defined = dict(re.findall(r"#define BOARD_(USART\d_(?:BASE|IRQ)) (0x[0-9A-Fa-f]+|\d+)u", headers))
    for wiring in board.uarts.values():
        number = re.search(r"\d", wiring.peripheral).group(0)
        assert int(defined[f"USART{number}_BASE"], 0) == wiring.base, wiring
        assert int(defined[f"USART{number}_IRQ"], 0) == wiring.irq, wiring
    assert (board.qemu_machine, board.uart.peripheral, board.console.peripheral) == (name, "USART1", "USART2")


@pytest.mark.parametrize("name", BOARDS)
async def test_uart_echo_on_every_board(firmware_elf, name):
    async with QemuEmulator() as emu:
        await emu.start(firmware_elf("uart_echo", name), name)
        await emu.console.wait_for_line("BOOT uart-echo", timeout=20)
        payload = bytes(range(32, 127)) + b"\r"
        emu.uart.writer.write(payload + b"EXIT 42\r")
        assert await emu.uart.reader.readexactly(len(payload) + 8) == payload + b"EXIT 42\r"
        assert await emu.wait_exit(20) == 42


def backend_params():
    """qemu on every board; renode on the boards whose Renode files exist, when it is installed.
    The default board's demo runs elsewhere (tests/session, tests/cli, the Renode tests)."""
    for name in BOARDS[1:]:
        board = Board.load(name)
        yield pytest.param("qemu", name, id=f"qemu-{name}")
        reason = RenodeEmulator.why_unavailable()
        if reason is None and (board.renode_script is None or not board.renode_script.is_file()):
            reason = f"no Renode files for {name} yet"
        yield pytest.param("renode", name, id=f"renode-{name}",
                           marks=[pytest.mark.renode, pytest.mark.skipif(reason is not None, reason=str(reason))])


@pytest.mark.parametrize("backend, name", list(backend_params()))
async def test_demo_passes_on_board(firmware_elf, tmp_path, backend, name):
    session = Session(SessionOptions(firmware=firmware_elf("demo", name), board=name, emulator=backend,
                                     workdir=tmp_path))
    try:
        await session.start()
        result = await run_firmware(session, RunChecks(scenario=load_scenario(builtin_scenario("demo")), timeout=90))
        versions = dict(session.cloud.ota.versions)
    finally:
        await session.stop()
    assert result.passed, result.summary()
    assert result.firmware_exit_code == 0
    assert len(versions) == 1 and list(versions.values())[0] != "1.0.0"  # the OTA image was taken
