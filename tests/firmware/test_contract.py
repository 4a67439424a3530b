"""The firmware contract (docs/firmware-contract.md): a firmware with another UART
mapping and no boot line runs through the contract's options only."""

from __future__ import annotations

import json
import re

import pytest

from pysim import cli
from pysim.contract import DEFAULTS, ContractError, FirmwareContract, Ready, Verdict, effective
from pysim.emulators.board import PLATFORMS_DIR
from pysim.session import Session, SessionOptions
from pysim.uart import TE_TO_TA

SWAPPED = dict(at_uart="USART2", console_uart="USART1", ready="at-byte", verdict=r"console:^RESULT (?P<result>\w+)")


def test_run_options_over_board_over_defaults():
    assert effective(None, FirmwareContract()) == DEFAULTS
    board = FirmwareContract.of(ready="now")
    run = FirmwareContract.of(at_uart="USART2", verdict="runner")
    merged = effective(run, board)
    assert (merged.at_uart, str(merged.ready), str(merged.verdict)) == ("USART2", "now", "runner")
    assert merged.console_uart is None  # the board's wiring


@pytest.mark.parametrize("pattern, line, code", [
    (r"^RESULT (?P<result>\w+)", "RESULT PASS", 0),
    (r"^RESULT (?P<result>\w+)", "RESULT FAIL no answer", 1),
    (r"^DONE (?P<code>-?\d+)", "DONE 7", 7),
    (r"^ALL TESTS OK$", "ALL TESTS OK", 0),
    (r"^ALL TESTS OK$", "LOG x", None),
])
def test_console_verdict_lines(pattern, line, code):
    assert Verdict.parse(f"console:{pattern}").code_of(line) == code


@pytest.mark.parametrize("text", ["soon", "console:", "console:(", "exit"])
def test_bad_ready_options(text):
    with pytest.raises(ContractError, match="^ready: "):
        Ready.parse(text)


async def test_swapped_uarts_without_boot_line(firmware_elf, tmp_path):
    elf = firmware_elf("at_swap", "netduinoplus2")
    session = Session(SessionOptions(firmware=elf, workdir=tmp_path, contract=FirmwareContract.of(**SWAPPED)))
    try:
        await session.start()
        assert await session.wait_exit(20) == 0
        assert session.link.delivered(TE_TO_TA).startswith(b"AT\r")
        assert "RESULT PASS" in session.console_lines
        assert not any(line.startswith("BOOT") for line in session.console_lines)
        assert session.emulator.returncode is None  # the verdict came from the console, QEMU still runs
    finally:
        await session.stop()


async def test_default_contract_does_not_fit_it(firmware_elf, tmp_path):
    """The same firmware under the demo's contract never prints the BOOT line."""
    session = Session(SessionOptions(firmware=firmware_elf("at_swap", "netduinoplus2"), workdir=tmp_path,
                                     boot_timeout=1.5))
    with pytest.raises(TimeoutError, match="BOOT"):
        await session.start()
    await session.stop()


def test_pysim_run_with_the_contract_options(firmware_elf, capsys):
    elf = firmware_elf("at_swap", "stm32vldiscovery")
    code = cli.main(["run", "--quiet", "--board", "stm32vldiscovery", "--firmware", str(elf), "--timeout", "20",
                     "--at-uart", "USART2", "--console-uart", "USART1", "--ready", "at-byte",
                     "--verdict", SWAPPED["verdict"]])
    assert code == 0, capsys.readouterr().err
    assert "firmware exit code: 0" in capsys.readouterr().out


def test_pysim_run_rejects_a_bad_contract_option(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["run", "--verdict", "maybe"])
    assert info.value.code == 2
    assert re.search(r"--verdict: verdict: expected one of", capsys.readouterr().err)



async def test_a_board_file_carries_the_contract(firmware_elf, tmp_path):
    """The same run with no run options: the user's board description says it all."""
    data = json.loads((PLATFORMS_DIR / "netduinoplus2.json").read_text())
    data["wiring"] = {"at": "USART2", "console": "USART1"}
    data["contract"] = {"ready": "at-byte", "verdict": SWAPPED["verdict"]}
    data["renode"]["script"] = str(PLATFORMS_DIR / data["renode"]["script"])
    board = tmp_path / "swapped.json"
    board.write_text(json.dumps(data))
    session = Session(SessionOptions(firmware=firmware_elf("at_swap"), board=str(board), workdir=tmp_path))
    try:
        await session.start()
        assert await session.wait_exit(20) == 0
        assert "RESULT PASS" in session.console_lines
    finally:
        await session.stop()
