"""Board descriptions, the QEMU command line built from them, and backend selection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pysim.emulators import (Board, EmulatorUnavailable, QemuEmulator, RenodeEmulator, emulator_class,
                             get_emulator)
from pysim.emulators.board import PLATFORMS_DIR, BoardError


def test_netduinoplus2_description():
    board = Board.load("netduinoplus2")
    assert board.qemu_machine == "netduinoplus2"
    assert (board.memory["flash"].base, board.memory["flash"].size) == (0x08000000, 1024 * 1024)
    assert (board.memory["sram"].base, board.memory["sram"].size) == (0x20000000, 128 * 1024)
    assert (board.uart.peripheral, board.uart.index, board.uart.base, board.uart.irq) == ("USART1", 0, 0x40011000, 37)
    assert (board.console.peripheral, board.console.index, board.console.base) == ("USART2", 1, 0x40004400)
    assert board.renode_script.is_file() and board.renode_platform == "netduinoplus2.repl"
    assert Board.load(PLATFORMS_DIR / "netduinoplus2.json") == board


def test_unknown_board_names_the_known_ones():
    with pytest.raises(BoardError, match="netduinoplus2"):
        Board.load("no-such-board")


def test_qemu_command_line_follows_the_board(tmp_path: Path):
    data = json.loads((PLATFORMS_DIR / "netduinoplus2.json").read_text())
    data["qemu"]["machine"] = "netduino2"
    data["wiring"]["console"] = "USART3"
    path = tmp_path / "other.json"
    path.write_text(json.dumps(data))
    board = Board.load(path)
    argv = QemuEmulator(icount=True, gdb_port=1234, gdb_wait=True).command_line(Path("/fw.elf"), board, 1111, 2222)
    assert argv[argv.index("-M") + 1] == "netduino2"
    serials = [argv[i + 1] for i, arg in enumerate(argv) if arg == "-serial"]
    assert serials == ["chardev:s0", "null", "chardev:s2"]
    assert "socket,id=s0,host=127.0.0.1,port=1111,nodelay=on" in argv
    assert "socket,id=s2,host=127.0.0.1,port=2222,nodelay=on" in argv
    tail = argv[argv.index("-kernel"):]
    assert tail == ["-kernel", "/fw.elf", "-semihosting-config", "enable=on,target=native",
                    "-icount", "shift=auto", "-gdb", "tcp:127.0.0.1:1234", "-S"]


def test_selection_by_name_and_by_what_is_installed(monkeypatch):
    monkeypatch.delenv("PYSIM_EMULATOR", raising=False)
    assert isinstance(get_emulator("qemu"), QemuEmulator)
    assert emulator_class(None) is QemuEmulator
    assert emulator_class("auto") is QemuEmulator
    with pytest.raises(ValueError, match="unknown emulator"):
        get_emulator("bochs")


def test_auto_falls_back_to_renode_only_without_qemu(monkeypatch):
    monkeypatch.setenv("PYSIM_QEMU", "no-such-qemu-binary")
    if RenodeEmulator.available():
        assert emulator_class("auto") is RenodeEmulator
    else:
        with pytest.raises(EmulatorUnavailable, match="apt-get install qemu-system-arm"):
            emulator_class("auto")
    with pytest.raises(EmulatorUnavailable, match="qemu-system-arm"):
        get_emulator("qemu")


def test_renode_unavailable_names_what_to_install(monkeypatch):
    monkeypatch.setenv("PYSIM_RENODE", "no-such-renode-binary")
    with pytest.raises(EmulatorUnavailable, match="renode.io"):
        get_emulator("renode")
