"""Board descriptions: what the emulators need to know about a board.

A board is a JSON file (format: docs/boards.md). ``Board.load("netduino2")`` reads
a shipped board (``platforms/<name>.json``, or ``$PYSIM_PLATFORMS/<name>.json``
first when that is set); ``Board.load("path/to/my-board.json")`` reads any file.
Every problem is a ``BoardError`` of one line naming the file and the field.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from pysim.contract import ContractError, FirmwareContract

DEFAULT_BOARD = "netduinoplus2"
NO_CONSOLE = "none"
_SIZE = re.compile(r"^(0x[0-9a-fA-F]+|\d+)\s*([KM]?)$")


def _shipped_dir() -> Path:
    try:
        from platforms import directory  # package data when installed
        return directory()
    except ImportError:  # a checkout whose `platforms` is not importable
        return Path(__file__).resolve().parents[2] / "platforms"


#: Where board descriptions are looked up by name, in order.
PLATFORMS_DIR = _shipped_dir()


def search_dirs() -> list[Path]:
    extra = os.environ.get("PYSIM_PLATFORMS")
    return [Path(p) for p in extra.split(os.pathsep) if p] + [PLATFORMS_DIR] if extra else [PLATFORMS_DIR]


def board_names() -> list[str]:
    """Every board that can be loaded by name."""
    return sorted({p.stem for d in search_dirs() if d.is_dir() for p in d.glob("*.json")})


def built_app(firmware_dir: Path, board: str, app: str) -> Path:
    """Where ``make -C firmware APP=<app> BOARD=<name>`` puts the ELF
    (``build/<name>/<app>.elf``); ``board`` is a name or a description file."""
    name = Board.load(board).name if "/" in board or board.endswith(".json") else board
    return firmware_dir / "build" / name / f"{app}.elf"


class BoardError(ValueError):
    """A board description is missing or wrong (one line: file, field, problem)."""


@dataclass(frozen=True)
class MemoryRegion:
    base: int
    size: int

    def __contains__(self, address: int) -> bool:
        return self.base <= address < self.base + self.size


@dataclass(frozen=True)
class SerialWiring:
    """One USART of the board and where each emulator exposes it."""

    peripheral: str  # e.g. "USART1"
    index: int  # QEMU ``-serial`` position
    base: int
    irq: int
    renode: str  # Renode peripheral path, e.g. "sysbus.usart1"


@dataclass(frozen=True)
class Board:
    name: str
    description: str
    mcu: str
    cpu: str
    memory: dict[str, MemoryRegion]
    uarts: dict[str, SerialWiring]  # every USART the emulators wire, by peripheral name
    uart: SerialWiring  # wired to the module (AT traffic only)
    console: SerialWiring | None  # the firmware's debug console; None: no console
    qemu_machine: str
    renode_script: Path | None  # the board's .resc, absolute; None: no Renode support
    renode_platform: str | None  # the .repl it loads: a file next to the description, or ``@...`` in Renode
    path: Path  # the description file
    contract: FirmwareContract = field(default_factory=FirmwareContract)  # the board's contract defaults

    @classmethod
    def load(cls, name_or_path: str | os.PathLike[str] = DEFAULT_BOARD) -> "Board":
        """A shipped board by name, or a description file by path (anything with a ``/``
        or ending in ``.json``)."""
        text = str(name_or_path)
        if "/" in text or text.endswith(".json"):
            path = Path(text)
            if not path.is_file():
                raise BoardError(f"{path}: no such board description file")
        else:
            candidates = [d / f"{text}.json" for d in search_dirs()]
            path = next((p for p in candidates if p.is_file()), candidates[-1])
            if not path.is_file():
                raise BoardError(f"unknown board {text!r} (known boards: {', '.join(board_names()) or 'none'}; "
                                 "or give the path of a .json description)")
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise BoardError(f"{path}: not valid JSON: {error}") from None
        except OSError as error:
            raise BoardError(f"{path}: cannot read: {error.strerror}") from None
        return cls.from_dict(data, path.resolve())

    @classmethod
    def from_dict(cls, data: Any, path: Path) -> "Board":
        return _Reader(path).board(data)

    def with_wiring(self, at: str | None = None, console: str | None = None) -> "Board":
        """This board with another USART for AT and/or the console (``"none"``: no
        console); None keeps the board's choice."""
        reader = _Reader(self.path)
        uart = reader.uart_ref(self.uarts, at, "the run's AT UART") if at else self.uart
        if console is None:
            new_console = self.console
        else:
            new_console = (None if console.lower() == NO_CONSOLE
                           else reader.uart_ref(self.uarts, console, "the run's console UART"))
        if new_console is not None and new_console.peripheral == uart.peripheral:
            raise BoardError(f"{self.path}: the AT UART and the console are both {uart.peripheral}")
        return replace(self, uart=uart, console=new_console)

    def require_renode(self) -> tuple[Path, str]:
        """The Renode script and platform, or a ``BoardError`` saying they are missing."""
        if self.renode_script is None or self.renode_platform is None:
            raise BoardError(f"{self.path}: renode: board {self.name!r} names no Renode script and platform")
        if not self.renode_script.is_file():
            raise BoardError(f"{self.path}: renode.script: no such file {self.renode_script}")
        return self.renode_script, self.renode_platform


class _Reader:
    """Reads one description, failing with ``<file>: <field>: <problem>``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, problem: str) -> BoardError:
        return BoardError(f"{self.path}: {where}: {problem}")

    def get(self, data: Mapping[str, Any], key: str, where: str, kind: type | tuple[type, ...], *,
            required: bool = True) -> Any:
        name = f"{where}.{key}" if where else key
        if key not in data:
            if required:
                raise self.fail(name, "missing")
            return None
        value = data[key]
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            kinds = kind if isinstance(kind, tuple) else (kind,)
            wanted = " or ".join({dict: "an object", str: "a string", int: "an integer"}.get(k, k.__name__)
                                 for k in kinds)
            raise self.fail(name, f"must be {wanted}, got {json.dumps(value)}")
        return value

    def number(self, data: Mapping[str, Any], key: str, where: str) -> int:
        value = self.get(data, key, where, (int, str))
        if isinstance(value, int):
            return value
        m = _SIZE.match(value.strip())
        if not m:
            raise self.fail(f"{where}.{key}", f"not a number: {value!r} (use 1024, \"0x400\", \"8K\" or \"1M\")")
        return int(m.group(1), 0) * {"": 1, "K": 1024, "M": 1024 * 1024}[m.group(2)]

    def board(self, data: Any) -> Board:
        if not isinstance(data, dict):
            raise self.fail("(top level)", "must be a JSON object")
        known = {"name", "description", "mcu", "cpu", "memory", "uarts", "wiring", "qemu", "renode", "contract"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise self.fail(unknown[0], f"unknown field (known: {', '.join(sorted(known))})")
        memory = {}
        for key, region in self.get(data, "memory", "", dict).items():
            if not isinstance(region, dict):
                raise self.fail(f"memory.{key}", "must be an object with base and size")
            memory[key] = MemoryRegion(self.number(region, "base", f"memory.{key}"),
                                       self.number(region, "size", f"memory.{key}"))
        for needed in ("flash", "sram"):
            if needed not in memory:
                raise self.fail(f"memory.{needed}", "missing")
        uarts = {}
        for name, spec in self.get(data, "uarts", "", dict).items():
            where = f"uarts.{name}"
            if not isinstance(spec, dict):
                raise self.fail(where, "must be an object")
            index = self.get(spec, "qemu_serial", where, int)
            if not 0 <= index < 16:
                raise self.fail(f"{where}.qemu_serial", f"must be 0..15, got {index}")
            uarts[name] = SerialWiring(name, index, self.number(spec, "base", where), self.get(spec, "irq", where, int),
                                       self.get(spec, "renode", where, str, required=False) or "")
        if not uarts:
            raise self.fail("uarts", "names no USART")
        indexes = [u.index for u in uarts.values()]
        if len(set(indexes)) != len(indexes):
            raise self.fail("uarts", "two USARTs have the same qemu_serial")
        wiring = self.get(data, "wiring", "", dict)
        uart = self.uart_ref(uarts, self.get(wiring, "at", "wiring", str), "wiring.at")
        console_name = self.get(wiring, "console", "wiring", str)
        console = None if console_name.lower() == NO_CONSOLE else self.uart_ref(uarts, console_name, "wiring.console")
        if console is not None and console.peripheral == uart.peripheral:
            raise self.fail("wiring", f"at and console are both {uart.peripheral}")
        qemu = self.get(data, "qemu", "", dict)
        renode = self.get(data, "renode", "", dict, required=False)
        script = platform = None
        if renode is not None:
            script = (self.path.parent / self.get(renode, "script", "renode", str)).resolve()
            platform = self.get(renode, "platform", "renode", str)
        contract_data = self.get(data, "contract", "", dict, required=False)
        try:
            contract = FirmwareContract.from_dict(contract_data or {})
        except ContractError as error:
            raise self.fail("contract", str(error)) from None
        if contract.at_uart or contract.console_uart:
            raise self.fail("contract", "name the UARTs in `wiring`, not in `contract`")
        return Board(
            name=self.get(data, "name", "", str),
            description=self.get(data, "description", "", str, required=False) or "",
            mcu=self.get(data, "mcu", "", str),
            cpu=self.get(data, "cpu", "", str),
            memory=memory,
            uarts=uarts,
            uart=uart,
            console=console,
            qemu_machine=self.get(qemu, "machine", "qemu", str),
            renode_script=script,
            renode_platform=platform,
            path=self.path,
            contract=contract,
        )

    def uart_ref(self, uarts: Mapping[str, SerialWiring], name: str, where: str) -> SerialWiring:
        for key, wiring in uarts.items():
            if key.lower() == name.lower():
                return wiring
        raise self.fail(where, f"no USART {name!r} on this board (it has: {', '.join(uarts)})")
