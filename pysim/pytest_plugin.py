"""pytest plugin: test firmware (and TEs) against the ICA module model and a cloud.

Installed with the package (entry point ``pytest11``). The fixture most firmware
teams need is ``dut``, which works in plain synchronous tests with nothing to
configure, and in async tests (with ``await``)::

    def test_led(dut):
        dut.console.expect(r"^STEP mqtt_subscribe ok", timeout=30)
        dut.cloud.publish(f"/{dut.device[0]}/{dut.device[1]}/user/command", '{"led":1}')
        assert dut.cloud.expect_message("/+/+/user/ack", r'"value":1').topic.endswith("/ack")

Fixtures (``pytest --fixtures`` shows each one's docstring):

* ``dut``: firmware in an emulator + module + cloud (:class:`pysim.dut.Dut`);
* ``pysim_firmware``, ``pysim_board``, ``pysim_emulator``, ``pysim_baud``, ``pysim_device``: the values
  ``dut`` uses: an indirect parametrize, else ``@pytest.mark.pysim(...)``, else the
  ``--pysim-*`` option, else the default;
* async (pytest-asyncio), all on the one ``cloud`` of the test: ``cloud``, ``device``,
  ``module_factory``, ``ica_module``, ``at`` and ``mcu_session``;
* faults (docs/faults.md): ``mcu_session(fault_specs=[...])`` starts a session with faults,
  ``session.inject_fault(spec)`` adds one during the run; for a module alone,
  ``faults(module)`` gives a :class:`pysim.faults.FaultController` (removed at teardown).

When a test fails, its trace (AT lines both ways with times, console lines, cloud
events) is added to the report as the "pysim trace" section, to the JUnit XML as the
``pysim_trace`` property, and written to ``<--pysim-trace-dir>/<test>.trace.txt``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator

import pytest

from pysim.factory import ModuleUnderTest, make_module

try:   # declared with pytest-asyncio's own decorator: works in its strict and auto modes
    import pytest_asyncio
    async_fixture = pytest_asyncio.fixture
except ImportError:   # pragma: no cover - without pytest-asyncio only the sync fixtures work
    async_fixture = pytest.fixture

DEFAULT_DEVICE = "a1testPK:test-device-01:test-secret-01"
DEFAULTS: dict[str, Any] = {"firmware": None, "board": "netduinoplus2", "emulator": "qemu", "baud": None,
                            "device": None}
MARKER = "pysim"


# ---- options and the value helper ------------------------------------------------------

def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pysim", "ICA co-simulation (pysim)")
    group.addoption("--pysim-firmware", default=None, metavar="ELF",
                    help="the firmware the `dut` fixture runs (default: the demo of a source checkout)")
    group.addoption("--pysim-board", default=DEFAULTS["board"], metavar="NAME",
                    help=f"board description for `dut` (default: {DEFAULTS['board']})")
    group.addoption("--pysim-emulator", default=DEFAULTS["emulator"], choices=["qemu", "renode", "auto"],
                    help=f"emulator backend for `dut` and `mcu_session` (default: {DEFAULTS['emulator']})")
    group.addoption("--pysim-baud", default=None, type=int, metavar="N",
                    help="pace the UART between firmware and module at this baud rate (default: unpaced)")
    group.addoption("--pysim-device", default=None, metavar="PK:DN:SECRET",
                    help="the firmware's device for `dut` (default: the demo's, a1demoPK:demo-device-01:...) and "
                         f"the device the `device` fixture registers (default: {DEFAULT_DEVICE})")
    group.addoption("--pysim-trace", action="store_true",
                    help="print each test's readable trace as it happens (default: only on failure)")
    group.addoption("--pysim-trace-dir", default="pysim-traces", metavar="DIR",
                    help="where a failing test's trace file goes, relative to the rootdir (default: pysim-traces)")
    # debugger (docs/debugging.md): also per test with @pytest.mark.pysim_gdb(port, wait=True)
    group.addoption("--pysim-gdb", type=int, default=None, metavar="PORT",
                    help="mcu_session serves GDB on 127.0.0.1:PORT (default: no GDB server)")
    group.addoption("--pysim-gdb-wait", action="store_true",
                    help="with --pysim-gdb: hold the CPU until GDB continues it")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "pysim_gdb(port, wait=False): mcu_session serves GDB on this port")
    config.addinivalue_line(
        "markers", "pysim(firmware=None, board=None, emulator=None, baud=None, **session_options): "
                   "the `dut` of this test; wins over the --pysim-* options, loses to an indirect parametrize")


def pysim_value(request: pytest.FixtureRequest, name: str) -> Any:
    """One value for the test: an indirect ``parametrize("pysim_<name>", ...)``, else the
    closest ``@pytest.mark.pysim(<name>=...)``, else ``--pysim-<name>``, else the default."""
    if getattr(request, "param", None) is not None and request.fixturename == f"pysim_{name}":
        return request.param
    marker = request.node.get_closest_marker(MARKER)
    if marker is not None and marker.kwargs.get(name) is not None:
        return marker.kwargs[name]
    option = request.config.getoption(f"--pysim-{name}")
    return option if option is not None else DEFAULTS.get(name)


def gdb_options(request: pytest.FixtureRequest) -> dict:
    """``gdb_port``/``gdb_wait`` for a session: the test's pysim_gdb marker, else the options."""
    marker = request.node.get_closest_marker("pysim_gdb")
    if marker is not None:
        port = marker.kwargs.get("port", marker.args[0] if marker.args else None)
        return {"gdb_port": port, "gdb_wait": bool(marker.kwargs.get("wait", False))}
    return {"gdb_port": request.config.getoption("--pysim-gdb"),
            "gdb_wait": request.config.getoption("--pysim-gdb-wait")}


def parse_device(spec: str) -> tuple[str, str, str]:
    parts = spec.split(":")
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"device must be PK:DN:SECRET, got {spec!r}")
    return parts[0], parts[1], parts[2]


# ---- the trace of a test ---------------------------------------------------------------

@dataclass
class TestTrace:
    """The readable trace lines of one test, from every session and module it started."""

    echo: bool = False
    lines: list[str] = field(default_factory=list)
    sources: list[Callable[[], list[str]]] = field(default_factory=list)

    def add(self, line: str) -> None:
        self.lines.append(line)
        if self.echo:
            print(line)

    def text(self) -> str:
        lines = list(self.lines)
        for source in self.sources:
            lines += source()
        return "\n".join(lines)


TRACE_KEY = pytest.StashKey[TestTrace]()


def trace_file_name(nodeid: str) -> str:
    """A file name for a test: its node id with what a file name cannot hold replaced."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_")[:200] + ".trace.txt"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    trace = item.stash.get(TRACE_KEY, None)
    if trace is None or not report.failed:
        return
    text = trace.text()
    if not text:
        return
    directory = Path(item.config.rootpath) / item.config.getoption("--pysim-trace-dir")
    path = directory / trace_file_name(item.nodeid)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
        where = str(path)
    except OSError as error:
        where = f"not written: {error.strerror}"
    report.sections.append((f"pysim trace ({where})", text))
    # JUnit XML takes a test's properties from its teardown report, made from the item's
    item.user_properties.append(("pysim_trace", text))
    item.user_properties.append(("pysim_trace_file", where))


# ---- helper fixtures: the values ----------------------------------------------------

@pytest.fixture
def pysim_firmware(request: pytest.FixtureRequest) -> Path | None:
    """The ELF `dut` runs (parametrize indirect / marker / --pysim-firmware / the demo)."""
    value = pysim_value(request, "firmware")
    return Path(value) if value else None


@pytest.fixture
def pysim_board(request: pytest.FixtureRequest) -> str:
    """The board `dut` runs on (parametrize indirect / marker / --pysim-board / netduinoplus2)."""
    return pysim_value(request, "board")


@pytest.fixture
def pysim_emulator(request: pytest.FixtureRequest) -> str:
    """The emulator backend (parametrize indirect / marker / --pysim-emulator / qemu)."""
    return pysim_value(request, "emulator")


@pytest.fixture
def pysim_baud(request: pytest.FixtureRequest) -> int | None:
    """The UART's baud rate, None for unpaced (parametrize indirect / marker / --pysim-baud)."""
    value = pysim_value(request, "baud")
    return int(value) if value else None


@pytest.fixture
def pysim_device(request: pytest.FixtureRequest) -> tuple[str, str, str] | None:
    """The firmware's (PK, DN, SECRET) for `dut`, None for the demo's (parametrize indirect / marker /
    --pysim-device); the marker and parametrize take "PK:DN:SECRET" or a tuple."""
    value = pysim_value(request, "device")
    return parse_device(value) if isinstance(value, str) else (tuple(value) if value else None)


@pytest.fixture
def pysim_trace(request: pytest.FixtureRequest) -> TestTrace:
    """The test's trace, shown and saved when the test fails (every pysim fixture adds to it)."""
    trace = request.node.stash.get(TRACE_KEY, None)
    if trace is None:
        trace = TestTrace(echo=request.config.getoption("--pysim-trace"))
        request.node.stash[TRACE_KEY] = trace
    return trace


def _session_options(request: pytest.FixtureRequest, tmp_path: Path, **values: Any) -> Any:
    from pysim.session import SessionOptions

    marker = request.node.get_closest_marker(MARKER)
    extra = {k: v for k, v in (marker.kwargs if marker else {}).items() if k not in DEFAULTS}
    emulator = values.pop("emulator", None)
    return SessionOptions(emulator=None if emulator == "auto" else emulator, workdir=tmp_path, **values, **extra)


# ---- the device under test (sync and async tests) -------------------------------------

@pytest.fixture
def dut(request: pytest.FixtureRequest, tmp_path: Path, pysim_firmware: Path | None, pysim_board: str,
        pysim_emulator: str, pysim_baud: int | None, pysim_device: tuple[str, str, str] | None,
        pysim_trace: TestTrace) -> Iterator[Any]:
    """The device under test: `pysim_firmware` in `pysim_emulator` + a module + the in-process
    cloud, booted (:class:`pysim.dut.Dut`: ``console``, ``uart``, ``cloud``, ``module``); stopped after the test."""
    from pysim.dut import Dut

    values: dict[str, Any] = {"device": pysim_device} if pysim_device else {}
    options = _session_options(request, tmp_path, firmware=pysim_firmware, board=pysim_board,
                               emulator=pysim_emulator, baud=pysim_baud, **values)
    device = Dut.start(options)
    pysim_trace.sources.append(lambda: device.session.trace_lines)
    try:
        yield device
    finally:
        device.stop()


# ---- async fixtures: one cloud per test ---------------------------------------------

@async_fixture
async def cloud() -> AsyncIterator[Any]:
    """The test's in-process cloud (MQTT broker, CoAP and HTTP servers, OTA), started; every
    other async pysim fixture of the test uses this one."""
    from pysim.cloud import Cloud

    instance = Cloud()
    await instance.start()
    try:
        yield instance
    finally:
        await instance.stop()


@pytest.fixture
def device(cloud: Any, request: pytest.FixtureRequest) -> Any:
    """Credentials (``--pysim-device``) registered in `cloud`: a ``DeviceCredentials``."""
    return cloud.registry.add(*parse_device(request.config.getoption("--pysim-device") or DEFAULT_DEVICE))


@async_fixture
async def module_factory(cloud: Any, tmp_path: Path, pysim_trace: TestTrace
                         ) -> AsyncIterator[Callable[..., Awaitable[ModuleUnderTest]]]:
    """Factory of modules on `cloud`: ``mut = await module_factory(**ModuleConfig fields)``
    gives ``mut.module`` and ``mut.at`` (an ``AtClient``); NV store in ``tmp_path``."""
    from pysim.trace import TraceWriter

    writer = TraceWriter(pysim_trace.add)
    cloud.events.listeners.append(writer.event)
    made: list[ModuleUnderTest] = []

    async def make(**options: Any) -> ModuleUnderTest:
        name = f"ica{len(made)}"
        mut = await make_module(cloud.addresses, events=cloud.events, name=name,
                                nv_path=tmp_path / f"{name}.nv.json", trace=writer, **options)
        made.append(mut)
        return mut

    try:
        yield make
    finally:
        for mut in made:
            await mut.module.stop()
        writer.flush()
        cloud.events.listeners.remove(writer.event)


@async_fixture
async def _ica(module_factory: Callable[..., Awaitable[ModuleUnderTest]]) -> ModuleUnderTest:
    """The module and AT client `ica_module` and `at` share."""
    return await module_factory()


@pytest.fixture
def ica_module(_ica: ModuleUnderTest) -> Any:
    """A started module (:class:`peripherals.ica.IcaModule`) on `cloud`, echo as configured."""
    return _ica.module


@pytest.fixture
def at(_ica: ModuleUnderTest) -> Any:
    """The TE-side :class:`pysim.te.AtClient` wired to `ica_module` (the one `module_factory` made)."""
    return _ica.at


@async_fixture
async def mcu_session(request: pytest.FixtureRequest, tmp_path: Path, cloud: Any, pysim_trace: TestTrace,
                      pysim_emulator: str) -> AsyncIterator[Callable[..., Awaitable[Any]]]:
    """Factory of firmware sessions on `cloud`: ``session = await mcu_session(firmware=..., **options)``
    (:class:`pysim.session.Session`, started); stopped after the test."""
    from pysim.factory import start_session

    made: list[Any] = []

    async def make(**options: Any) -> Any:
        options.setdefault("emulator", pysim_emulator)
        for key, value in gdb_options(request).items():
            options.setdefault(key, value)
        session_options = _session_options(request, tmp_path, **options)
        session = await start_session(session_options, cloud=cloud)
        made.append(session)
        pysim_trace.sources.append(lambda: session.trace_lines)
        return session

    try:
        yield make
    finally:
        for session in made:
            await session.stop()


@async_fixture
async def faults() -> AsyncIterator[Callable[..., Any]]:
    """Factory: ``controller = faults(module, seed=1)``, a :class:`pysim.faults.FaultController`
    on a module under test (``controller.apply("module.cme:cmd=+IMQTTPUB,error=30")``); every
    fault it applied is removed after the test."""
    from pysim.faults import FaultController

    made: list[Any] = []

    def make(module: Any, seed: int = 1) -> Any:
        controller = FaultController(module=module, events=module.events, seed=seed)
        made.append(controller)
        return controller

    try:
        yield make
    finally:
        for controller in made:
            controller.clear()
            await controller.module.injector.stop()
