"""The board description format (docs/boards.md): loading by name or path, wiring
overrides, and one-line errors naming the file and the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pysim.emulators import Board, QemuEmulator
from pysim.emulators.board import PLATFORMS_DIR, BoardError, board_names


def write(tmp_path: Path, data: dict, name: str = "my-board.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def description() -> dict:
    return json.loads((PLATFORMS_DIR / "netduino2.json").read_text())


def test_shipped_boards_load_and_differ():
    boards = {name: Board.load(name) for name in board_names()}
    assert {"netduinoplus2", "netduino2", "stm32vldiscovery"} <= set(boards)
    small = boards["stm32vldiscovery"]
    assert small.memory["sram"].size == 8 * 1024 and small.uart.base == 0x40013800
    assert set(small.uarts) == {"USART1", "USART2", "USART3"}
    assert boards["netduino2"].cpu == "cortex-m3" and boards["netduinoplus2"].cpu == "cortex-m4"


def test_a_user_board_by_path_with_its_own_renode_files(tmp_path, description):
    description["name"] = "my-board"
    description["wiring"] = {"at": "USART3", "console": "none"}
    description["renode"] = {"script": "my-board.resc", "platform": "my-board.repl"}
    description["contract"] = {"ready": "at-byte", "verdict": "console:^RESULT (?P<result>\\w+)"}
    board = Board.load(write(tmp_path, description))
    assert (board.name, board.uart.peripheral, board.uart.index, board.console) == ("my-board", "USART3", 2, None)
    assert board.renode_platform == "my-board.repl"  # the Renode backend resolves it next to the file
    assert board.renode_script == tmp_path / "my-board.resc"
    assert str(board.contract.ready) == "at-byte" and board.contract.verdict.kind == "console"
    with pytest.raises(BoardError, match="renode.script: no such file"):
        board.require_renode()
    argv = QemuEmulator().command_line(Path("/fw.elf"), board, 1111, None)
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "-serial"] == ["null", "null", "chardev:s2"]


def test_board_found_through_pysim_platforms(tmp_path, description, monkeypatch):
    description["name"] = "lab-board"
    write(tmp_path, description, "lab-board.json")
    monkeypatch.setenv("PYSIM_PLATFORMS", str(tmp_path))
    assert "lab-board" in board_names() and Board.load("lab-board").name == "lab-board"


def test_wiring_override_per_run():
    board = Board.load("netduinoplus2").with_wiring(at="usart2", console="USART1")
    assert (board.uart.peripheral, board.console.peripheral) == ("USART2", "USART1")
    assert Board.load("netduinoplus2").with_wiring(console="none").console is None
    with pytest.raises(BoardError, match="no USART 'USART9' on this board"):
        Board.load("netduinoplus2").with_wiring(at="USART9")
    with pytest.raises(BoardError, match="both USART2"):
        Board.load("netduinoplus2").with_wiring(at="USART2")


@pytest.mark.parametrize("change, message", [
    (lambda d: d.pop("qemu"), r"qemu: missing"),
    (lambda d: d["qemu"].pop("machine"), r"qemu.machine: missing"),
    (lambda d: d["memory"]["sram"].update(size="lots"), r"memory.sram.size: not a number: 'lots'"),
    (lambda d: d["memory"].pop("flash"), r"memory.flash: missing"),
    (lambda d: d["uarts"]["USART2"].update(qemu_serial="1"), r"uarts.USART2.qemu_serial: must be an integer"),
    (lambda d: d["uarts"]["USART2"].update(qemu_serial=0), r"uarts: two USARTs have the same qemu_serial"),
    (lambda d: d["wiring"].update(at="USART7"), r"wiring.at: no USART 'USART7'"),
    (lambda d: d["wiring"].update(console="USART1"), r"wiring: at and console are both USART1"),
    (lambda d: d.update(serial={}), r"serial: unknown field"),
    (lambda d: d.update(contract={"ready": "soon"}), r"contract: ready: expected one of"),
    (lambda d: d.update(contract={"verdict": "console:("}), r"contract: verdict: bad regular expression"),
    (lambda d: d.update(name=7), r"name: must be a string, got 7"),
])
def test_bad_descriptions_fail_with_one_line_naming_file_and_field(tmp_path, description, change, message):
    change(description)
    path = write(tmp_path, description)
    with pytest.raises(BoardError, match=message) as info:
        Board.load(path)
    text = str(info.value)
    assert text.startswith(f"{path.resolve()}: ") and "\n" not in text


def test_unreadable_files(tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text("{ not json")
    with pytest.raises(BoardError, match=r"broken.json: not valid JSON"):
        Board.load(bad)
    with pytest.raises(BoardError, match=r"missing.json: no such board description file"):
        Board.load(tmp_path / "missing.json")


def test_pysim_boards_lists_and_checks(tmp_path, description, capsys):
    from pysim import cli
    assert cli.main(["boards"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in listed] == board_names()
    assert any("stm32vldiscovery" in line and "RAM 8 KiB" in line for line in listed)
    description["wiring"]["at"] = "USART9"
    bad = write(tmp_path, description)
    assert cli.main(["boards", "netduino2", str(bad)]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith("netduino2 ")
    assert captured.err.strip() == f"pysim boards: {bad.resolve()}: wiring.at: no USART 'USART9' on this board " \
                                   "(it has: USART1, USART2, USART3, UART4, UART5, USART6)"
