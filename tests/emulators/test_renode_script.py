"""What the Renode backend hands to Renode, checked without running it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pysim.emulators import Board, RenodeEmulator
from pysim.emulators.board import PLATFORMS_DIR
from pysim.emulators.renode import EXIT_MARK, semihosting_calls


def test_script_sets_the_board_script_variables_and_hooks_semihosting(uart_echo_elf):
    board = Board.load("netduinoplus2")
    lines = RenodeEmulator().script(uart_echo_elf, board, 4001, 4002).splitlines()
    assert lines[:8] == [
        '$name="netduinoplus2"', f"$bin=@{uart_echo_elf}", f"$platform=@{PLATFORMS_DIR / 'netduinoplus2.repl'}",
        f"i @{board.renode_script}",
        'emulation CreateServerSocketTerminal 4001 "uart" false', f"connector Connect {board.uart.renode} uart",
        'emulation CreateServerSocketTerminal 4002 "console" false', f"connector Connect {board.console.renode} console",
    ]
    hooks = [line for line in lines if line.startswith("sysbus.cpu AddHook")]
    assert hooks and all(EXIT_MARK in hook for hook in hooks)
    assert lines[-1] == "start"
    assert RenodeEmulator(start_paused=True).script(uart_echo_elf, board, 1, 2).splitlines()[-1] != "start"


@pytest.mark.parametrize("resc", sorted(PLATFORMS_DIR.glob("*.resc")), ids=lambda p: p.name)
def test_board_scripts_build_the_machine_from_the_variables(resc: Path):
    text = resc.read_text()
    if resc.name == "stm32_machine.resc":
        for needed in ("mach create $name", "machine LoadPlatformDescription $platform", "sysbus LoadELF $bin"):
            assert needed in text
    else:   # a board's script: defaults for a run by hand, then the shared machine script
        assert f'$name?="{resc.stem}"' in text and f"$platform?=@platforms/{resc.stem}.repl" in text
        assert text.rstrip().endswith("i $ORIGIN/stm32_machine.resc")


@pytest.mark.parametrize("repl", sorted(PLATFORMS_DIR.glob("*.repl")), ids=lambda p: p.name)
def test_platform_files_fetch_nothing_from_the_network(repl: Path):
    text = "\n".join(line for line in repl.read_text().splitlines() if not line.lstrip().startswith("//"))
    assert "ApplySVD" not in text and not re.search(r"@https?:", text)


def test_semihosting_calls_are_the_bkpt_0xab_instructions(uart_echo_elf):
    objdump = shutil.which("arm-none-eabi-objdump")
    if objdump is None:
        pytest.skip("needs arm-none-eabi-objdump (binutils-arm-none-eabi)")
    listing = subprocess.run([objdump, "-d", str(uart_echo_elf)], capture_output=True, text=True, check=True).stdout
    expected = [int(m.group(1), 16) for m in re.finditer(r"^\s*([0-9a-f]+):\s+beab\s+bkpt\s+0x00ab", listing, re.M)]
    assert expected and semihosting_calls(uart_echo_elf) == expected


def test_a_platform_path_inside_renode_stays_as_it_is():
    board = Board.load("netduinoplus2")
    stock = Board.from_dict({**_raw(board), "renode": {"script": "netduinoplus2.resc",
                                                        "platform": "@platforms/cpus/stm32f4.repl"}}, board.path)
    assert RenodeEmulator().platform_file(stock) == "@platforms/cpus/stm32f4.repl"


def _raw(board: Board) -> dict:
    return json.loads(board.path.read_text())
