"""``pysim boards``: list the boards, or check board description files (docs/boards.md).

    pysim boards                       every board by name, with its machine and wiring
    pysim boards my-board.json ...     load and validate these (names or files); exit 1 on the first error
"""

from __future__ import annotations

import argparse
import sys

from pysim.emulators.board import Board, BoardError, board_names


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("boards", help="list the boards, or check board description files",
                              description="Without arguments: every board that --board takes by name. "
                                          "With names or .json files: load and validate each (docs/boards.md).")
    p.add_argument("boards", nargs="*", metavar="NAME|FILE", help="boards to check (default: list them all)")


def describe(board: Board) -> str:
    console = board.console.peripheral if board.console else "none"
    script = board.renode_script
    renode = "no" if script is None else ("yes" if script.is_file() else f"named, {script.name} missing")
    return (f"{board.name:18s} qemu -M {board.qemu_machine:17s} {board.mcu:12s} {board.cpu:10s} "
            f"flash {board.memory['flash'].size // 1024} KiB, RAM {board.memory['sram'].size // 1024} KiB, "
            f"AT {board.uart.peripheral}, console {console}, renode files {renode}  ({board.path})")


async def main(args: argparse.Namespace) -> int:
    for spec in args.boards or board_names():
        try:
            board = Board.load(spec)
        except BoardError as error:
            print(f"pysim boards: {error}", file=sys.stderr, flush=True)
            return 1
        print(describe(board), flush=True)
    return 0
