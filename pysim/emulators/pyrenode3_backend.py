"""Renode in this Python process, through pyrenode3 (pythonnet on mono).

The same board scripts and serial sockets as the Renode backend, but no Renode
process and no robot server: ``pyrenode3`` loads Renode's assemblies into the
interpreter (once per process) and runs monitor commands directly, and the
semihosting exit is a Python callback that Renode calls at the ``bkpt 0xAB``.

What differs from ``RenodeEmulator``: one emulation per process (Renode is a
singleton there; ``stop`` clears it for the next start); ``pid`` is this process;
the virtual-time UART keywords (``watch_uart`` and friends) are not available.
Renode cannot be unloaded: a process that used this backend keeps Renode's
threads and mono until it exits.

Needs: the pyrenode3 wheel (``make renode`` installs it when ../shared/wheels has
it), pythonnet, mono's embeddable library (``libmonosgen-2.0``), and a Renode
build directory: ``$PYRENODE_BUILD_DIR`` or the project's ``.renode/renode-1.15.1``.
"""

from __future__ import annotations

import asyncio
import ctypes.util
import importlib.util
import os
import tempfile
from pathlib import Path
from typing import Any

from .base import EmulatorError
from .board import Board
from .renode import (APPLICATION_EXIT, LOCAL_INSTALL, SYS_EXIT, SYS_EXIT_EXTENDED, RenodeEmulator, _connect,
                     _free_ports, semihosting_calls)
from .renode_control import RenodeCommandError


def build_dir() -> Path | None:
    """The Renode build pyrenode3 loads: ``$PYRENODE_BUILD_DIR`` or the project's install."""
    chosen = os.environ.get("PYRENODE_BUILD_DIR")
    if chosen:
        return Path(chosen)
    local = sorted(LOCAL_INSTALL.parent.glob("renode-*/bin/Renode.exe"))
    return local[-1].parents[1] if local else None


class PyRenode3Emulator(RenodeEmulator):
    name = "pyrenode3"
    executable = "pyrenode3"
    install_hint = ("`make renode` installs Renode and the pyrenode3 wheel when ../shared has them "
                    "(it also needs libmonosgen-2.0-1); or set PYRENODE_BUILD_DIR to a Renode build")

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._monitor: Any = None
        self._started = False
        self.exit_hooks = False  # the exit is a Python callback here, not a logging hook

    @classmethod
    def command(cls) -> str | None:
        return None  # no executable: see why_unavailable

    @classmethod
    def why_unavailable(cls) -> str | None:
        if importlib.util.find_spec("pyrenode3") is None:
            return f"pyrenode3: the pyrenode3 package is not installed; {cls.install_hint}"
        if build_dir() is None:
            return f"pyrenode3: no Renode build found; {cls.install_hint}"
        if ctypes.util.find_library("monosgen-2.0") is None:
            return "pyrenode3: mono's embeddable library is missing: apt-get install libmonosgen-2.0-1"
        return None

    @property
    def pid(self) -> int | None:
        return os.getpid() if self._started else None

    async def _launch(self, firmware: Path, board: Board) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
        uart_port, console_port = _free_ports(2)
        self._workdir = tempfile.TemporaryDirectory(prefix="pysim-pyrenode3-")
        script = Path(self._workdir.name) / "run.resc"
        script.write_text(self.script(firmware, board, uart_port, console_port))
        self._loop = asyncio.get_running_loop()
        self._semihosting_exit = self._loop.create_future()
        self._monitor = await asyncio.wait_for(asyncio.to_thread(_load_renode), self.startup_timeout)
        self._started = True
        await self.execute(f"include @{script}")
        await asyncio.to_thread(self._hook_semihosting, board.name, semihosting_calls(firmware))
        if not self.start_paused:
            await self.execute("start")
        uart = await asyncio.wait_for(_connect(uart_port), self.startup_timeout)
        if board.console is None:
            return uart, None
        console = await asyncio.wait_for(_connect(console_port), self.startup_timeout)
        return uart, console

    def _hook_semihosting(self, machine_name: str, addresses: list[int]) -> None:
        from Antmicro.Renode.Peripherals.CPU import ICpuSupportingGdb  # type: ignore[import-not-found]
        from pyrenode3.wrappers import Emulation  # type: ignore[import-not-found]
        from System import Action, UInt64  # type: ignore[import-not-found]

        def on_call(cpu: Any, address: Any) -> None:  # runs in Renode's emulation thread
            r0, r1 = cpu.GetRegisterUnsafe(0).RawValue, cpu.GetRegisterUnsafe(1).RawValue
            if r0 == SYS_EXIT_EXTENDED:
                code = int(cpu.Bus.ReadDoubleWord(r1 + 4))
            elif r0 == SYS_EXIT:
                code = 0 if r1 == APPLICATION_EXIT else 1
            else:
                return
            assert self._loop is not None
            self._loop.call_soon_threadsafe(self._set_exit, code)

        cpu = Emulation().get_mach(machine_name).sysbus.cpu.internal
        self._hook = Action[ICpuSupportingGdb, UInt64](on_call)  # kept: Renode holds only a delegate
        for address in addresses:
            cpu.AddHook(UInt64(address), self._hook)

    def _set_exit(self, code: int) -> None:
        if self._semihosting_exit is not None and not self._semihosting_exit.done():
            self._semihosting_exit.set_result(code)

    async def execute(self, command: str, timeout: float | None = 60.0) -> str:
        if self._monitor is None:
            raise EmulatorError("pyrenode3: not running")
        output, error = await asyncio.wait_for(asyncio.to_thread(self._monitor.execute, command), timeout)
        if error:
            raise RenodeCommandError(f"pyrenode3: {command}: {error.strip()}")
        return str(output).strip()

    async def wait_exit(self, timeout: float | None = None) -> int | None:
        if self._semihosting_exit is None:
            raise EmulatorError("pyrenode3: not started")
        try:
            return await asyncio.wait_for(asyncio.shield(self._semihosting_exit), timeout)
        except asyncio.TimeoutError:
            return None

    async def watch_uart(self, which: str = "uart") -> None:
        raise EmulatorError("pyrenode3: the virtual-time UART keywords need the renode backend")

    async def stop(self) -> None:
        if self._started:
            self._started = False
            from pyrenode3.wrappers import Emulation  # type: ignore[import-not-found]
            await asyncio.to_thread(Emulation().clear)
        self._monitor = None
        await super().stop()


def _load_renode() -> Any:
    """Load Renode into this process (the first call takes seconds) and return its monitor."""
    root = build_dir()
    assert root is not None
    os.environ.setdefault("PYRENODE_RUNTIME", "mono")
    os.environ.setdefault("PYRENODE_BUILD_DIR", str(root))
    os.environ.setdefault("PYRENODE_BUILD_OUTPUT", "bin")
    # pythonnet needs mono's netstandard facade, which Debian ships only in mono-devel
    facades = root / "mono-facades"
    if facades.is_dir() and str(facades) not in os.environ.get("MONO_PATH", ""):
        os.environ["MONO_PATH"] = os.pathsep.join(filter(None, [str(facades), os.environ.get("MONO_PATH")]))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # clr-loader's warning about mono < 6.12
        from pyrenode3.wrappers import Monitor  # type: ignore[import-not-found]
        return Monitor()
