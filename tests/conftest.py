"""Fixtures shared by the test areas: the firmware builds (need arm-none-eabi-gcc),
``backend``, the emulator a backend-generic test runs on, and (endpoint_clients.py)
independent clients of the cloud's endpoints."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from pysim.emulators import RenodeEmulator

# this folder is on sys.path (pytest's default import mode puts a conftest's folder there):
# the test modules import endpoint_clients' helpers, and its fixtures are loaded here
pytest_plugins = ["endpoint_clients", "pytester"]

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE_TOOLS = ("qemu-system-arm", "arm-none-eabi-gcc")
MISSING_FIRMWARE_TOOLS = [tool for tool in FIRMWARE_TOOLS if shutil.which(tool) is None]
#: QEMU always; Renode's cases skip, saying why, when it is not installed (`make renode`).
BACKENDS = ["qemu", pytest.param("renode", marks=[
    pytest.mark.renode, pytest.mark.skipif(not RenodeEmulator.available(), reason=str(RenodeEmulator.why_unavailable()))])]


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """``qemu`` or ``renode``: module-scoped, so a module's tests run backend by backend."""
    return request.param


@pytest.fixture(scope="session")
def demo_elf() -> Path:
    """The demo firmware (built when missing)."""
    subprocess.run(["make", "-s", "-C", str(ROOT / "firmware"), "build/demo.elf"], check=True)
    return ROOT / "firmware" / "build" / "demo.elf"


@pytest.fixture(scope="session")
def echo_elf() -> Path:
    """The uart_echo firmware: prints ``BOOT uart-echo`` and echoes the UART (built when missing)."""
    subprocess.run(["make", "-s", "-C", str(ROOT / "firmware"), "build/uart_echo.elf"], check=True)
    return ROOT / "firmware" / "build" / "uart_echo.elf"


@pytest.fixture(scope="session")
def thermostat_elf() -> Path:
    """The example project's firmware (examples/firmware, built when missing): reads its console."""
    subprocess.run(["make", "-s", "-C", str(ROOT / "examples" / "firmware")], check=True)
    return ROOT / "examples" / "firmware" / "build" / "thermostat.elf"


@pytest.fixture(scope="session")
def firmware_variant(tmp_path_factory):
    """Build the demo with other make variables into its own directory: ``variant(SECRET="x")``."""
    made: dict[tuple, Path] = {}

    def build(**variables: str) -> Path:
        key = tuple(sorted(variables.items()))
        if key not in made:
            out = tmp_path_factory.mktemp("fw")
            args = [f"{k}={v}" for k, v in key]
            subprocess.run(["make", "-s", "-C", str(ROOT / "firmware"), f"BUILD={out}", *args,
                            f"{out}/demo.elf"], check=True)
            made[key] = out / "demo.elf"
        return made[key]

    return build



MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)


@pytest.fixture
async def mosquitto(tmp_path):
    """Debian's mosquitto on a free port, anonymous logins allowed: ``mqtt://127.0.0.1:PORT``
    (skips, saying why, when it is not installed)."""
    if MOSQUITTO is None:
        pytest.skip("needs Debian's mosquitto (`make deps`)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "log_dest stderr\nlog_type information\n")
    proc = await asyncio.create_subprocess_exec(MOSQUITTO, "-c", str(conf), stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)
    try:
        log = b""
        while b"running" not in log:       # "mosquitto version 2.x running": the listener is open
            line = await asyncio.wait_for(proc.stdout.readline(), 10)
            assert line, f"mosquitto ended: {log.decode(errors='replace')}"
            log += line
        drain = asyncio.ensure_future(proc.stdout.read())   # its log never fills the pipe
        yield f"mqtt://127.0.0.1:{port}"
    finally:
        proc.terminate()
        await proc.wait()

FIRMWARE_FIXTURES = {"demo_elf", "echo_elf", "thermostat_elf", "firmware_variant"}


def pytest_collection_modifyitems(items):
    """Skip the tests under tests/session and those that build firmware when QEMU or the
    ARM toolchain is missing."""
    if not MISSING_FIRMWARE_TOOLS:
        return
    skip = pytest.mark.skip(reason=f"needs {', '.join(MISSING_FIRMWARE_TOOLS)}: `make deps` installs them (Debian)")
    session_dir = str(ROOT / "tests" / "session")
    for item in items:
        if str(item.fspath).startswith(session_dir) or FIRMWARE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(skip)
