"""firmware/Makefile: any app for any board, out-of-tree apps, one-line errors."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from pysim.emulators import Board, QemuEmulator

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"
pytestmark = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="needs arm-none-eabi-gcc")

OUT_OF_TREE = r'''
#include "bsp.h"
int main(void)
{
    bsp_init();
    bsp_console_puts("BOOT " APP_GREETING "\r\n");
    return 3;
}
'''


def make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "-s", "-C", str(FIRMWARE), *args], capture_output=True, text=True)


async def test_out_of_tree_app_with_its_own_app_mk(tmp_path):
    app = tmp_path / "hello"
    app.mkdir()
    (app / "main.c").write_text(OUT_OF_TREE)
    (app / "app.mk").write_text('APP_DEFS := -DAPP_GREETING=\'"from outside"\'\nCONSOLE_UART := 3\n')
    build = tmp_path / "build"
    result = make("APP=hello", f"APP_DIR={app}", "BOARD=netduino2", f"BUILD={build}")
    assert result.returncode == 0, result.stderr
    elf = build / "netduino2" / "hello.elf"
    assert elf.is_file() and (build / "netduino2" / "obj" / "hello" / "app" / "main.o").is_file()
    if shutil.which("qemu-system-arm") is None:
        pytest.skip("needs qemu-system-arm to run it")
    board = Board.load("netduino2").with_wiring(console="USART3")
    async with QemuEmulator() as emu:
        await emu.start(elf, board)
        assert await emu.console.wait_for_line("BOOT", timeout=20) == "BOOT from outside"
        assert await emu.wait_exit(20) == 3


def test_a_changed_make_variable_rebuilds(tmp_path):
    build = tmp_path / "build"
    assert make("APP=uart_echo", "BOARD=stm32vldiscovery", f"BUILD={build}").returncode == 0
    elf = build / "stm32vldiscovery" / "uart_echo.elf"
    first = elf.read_bytes()
    assert make("APP=uart_echo", "BOARD=stm32vldiscovery", f"BUILD={build}", "LINK_UART=3").returncode == 0
    assert elf.read_bytes() != first


@pytest.mark.parametrize("args, message", [
    (("APP=demo", "BOARD=netduino9"), "BOARD=netduino9: there is no bsp/netduino9/board.mk (boards: netduino2 "),
    (("APP=nothing",), "APP=nothing: no C sources in app/nothing (apps: "),
])
def test_bad_board_or_app_is_one_line(args, message):
    result = make(*args)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if "***" in line]
    assert len(errors) == 1 and message in errors[0], result.stderr
