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
* ``pysim_firmware``, ``pysim_board``, ``pysim_emulator``, ``pysim_baud``, ``pysim_device``,
  ``pysim_cloud``: the values ``dut`` uses: an indirect parametrize, else ``@pytest.mark.pysim(...)``, else the
  ``--pysim-*`` option, else the default;
* ``cloud``, the test's one in-process cloud, which ``dut`` and every fixture below use;
  ``device``, credentials registered in it (sync and async tests);
* async only (pytest-asyncio): ``module_factory``, ``ica_module``, ``at``, ``mcu_session`` and
  ``faults``; in a synchronous test they fail in one line naming ``dut`` instead;
* faults (docs/faults.md): ``mcu_session(fault_specs=[...])`` starts a session with faults,
  ``session.inject_fault(spec)`` adds one during the run; for a module alone,
  ``faults(module)`` gives a :class:`pysim.faults.FaultController` (removed at teardown).

One cloud per test: an async test's fixtures (``dut`` included) all run on the
test's event loop, around one ``Cloud`` started on it; a synchronous test's ``dut``
and ``cloud`` run on one pysim loop thread of the test. With ``--pysim-cloud URL``
(an external broker) only ``dut`` runs; the in-process fixtures fail, saying so.

When a test fails, its trace (AT lines both ways with times, console lines, cloud
events) is added to the report as the "pysim trace" section, to the JUnit XML as the
``pysim_trace`` property, and written to ``<--pysim-trace-dir>/<test>.trace.txt``.
"""

from __future__ import annotations

import inspect
import json
import re
import time
from collections import Counter
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
                            "device": None, "cloud": None, "profile": "spec"}
CLOUD_TIMEOUT = 30.0   # starting or stopping a synchronous test's cloud
#: fixtures that stand for the in-process cloud (or act on it), in the order an error names them
CLOUD_FIXTURES = ("cloud", "device", "module_factory", "ica_module", "at", "mcu_session")
#: fixtures whose objects are awaited, so only an async test can use them
ASYNC_FIXTURES = ("module_factory", "ica_module", "at", "mcu_session", "faults")
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
    group.addoption("--pysim-cloud", default=None, metavar="URL",
                    help="`dut` uses this external broker/servers instead of an in-process cloud per test, e.g. "
                         "mqtt://127.0.0.1:1883 or a JSON address map as `pysim cloud` prints; the in-process "
                         "fixtures (`cloud`, `device`, `at`, ...) then fail (default: an in-process cloud per test)")
    group.addoption("--pysim-profile", default=None, choices=["spec", "sdk2", "sdk3"],
                    help="the module's compatibility profile for `dut`, `mcu_session` and `module_factory` "
                         "(docs/module-behaviour.md) (default: spec)")
    group.addoption("--pysim-trace", action="store_true",
                    help="print each test's readable trace as it happens (default: only on failure)")
    group.addoption("--pysim-trace-dir", default="pysim-traces", metavar="DIR",
                    help="where a failing test's trace file goes, relative to the rootdir (default: pysim-traces)")
    # debugger (docs/debugging.md): also per test with @pytest.mark.pysim_gdb(port, wait=True)
    group.addoption("--pysim-gdb", type=int, default=None, metavar="PORT",
                    help="`dut` and `mcu_session` serve GDB on 127.0.0.1:PORT (default: no GDB server)")
    group.addoption("--pysim-gdb-wait", action="store_true",
                    help="with --pysim-gdb: hold the CPU until GDB continues it (default: run at once)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "pysim_gdb(port, wait=False): `dut` and `mcu_session` serve GDB on "
                                       "this port")
    config.addinivalue_line(
        "markers", "pysim(firmware=None, board=None, emulator=None, baud=None, device=None, cloud=None, profile=None, "
                   "**session_options): "
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


def is_async_test(request: pytest.FixtureRequest) -> bool:
    """Whether the test is a coroutine function (it runs on pytest-asyncio's event loop)."""
    return inspect.iscoroutinefunction(getattr(request.node, "function", None))


def requested(request: pytest.FixtureRequest, names: tuple[str, ...]) -> str:
    """The first of ``names`` the test itself asks for (else the fixture being set up), for an error."""
    try:
        asked = set(inspect.signature(request.node.function).parameters)
    except (AttributeError, TypeError, ValueError):
        asked = set()
    return next((name for name in names if name in asked), request.fixturename or names[0])


def require_async_test(request: pytest.FixtureRequest) -> None:
    """Fail the test's set-up with one line when an awaited-only fixture is in a synchronous test."""
    if not is_async_test(request):
        name = requested(request, ASYNC_FIXTURES)
        pytest.fail(f"`{name}` is for async tests (`async def`, pytest-asyncio); a synchronous test drives the "
                    "firmware, its module and the cloud through `dut` (dut.cloud, dut.module)", pytrace=False)


def parse_device(spec: str) -> tuple[str, str, str]:
    parts = spec.split(":")
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"device must be PK:DN:SECRET, got {spec!r}")
    return parts[0], parts[1], parts[2]


# ---- the trace of a test ---------------------------------------------------------------

@dataclass
class TestTrace:
    """The readable trace lines of one test, from every session and module it started, all
    timed from ``t0`` (``time.monotonic()`` when the test's trace began)."""

    echo: bool = False
    lines: list[str] = field(default_factory=list)
    sources: list[Callable[[], list[str]]] = field(default_factory=list)
    t0: float = field(default_factory=time.monotonic)
    shown_events: set[str] = field(default_factory=set)

    def add(self, line: str) -> None:
        """A line of the test's own writer (the module fixtures')."""
        self.lines.append(line)
        self.show(line)

    def show(self, line: str) -> None:
        """With ``echo`` (``--pysim-trace``), print a line as it happens; an event of the shared
        cloud that another writer of the test printed already is left out."""
        if not self.echo:
            return
        if _label(line) in EVENT_LABELS:
            if line in self.shown_events:
                return
            self.shown_events.add(line)
        print(line)

    @property
    def session_options(self) -> dict[str, Any]:
        """What a session of the test needs: the test's time origin, and ``show`` when echoing."""
        return {"trace_t0": self.t0, "trace": self.show if self.echo else None}

    def text(self) -> str:
        """Every line in time order. An event of the shared cloud's log is seen by each writer
        that listens to it (a session's, the module fixtures'): it is shown once."""
        streams = [list(self.lines)] + [list(source()) for source in self.sources]
        events: Counter[str] = Counter()
        for stream in streams:
            events |= Counter(line for line in stream if _label(line) in EVENT_LABELS)
        merged = sorted((item for stream in streams for item in _timed(stream)), key=lambda item: item[0])
        out = []
        for _, line in merged:
            if _label(line) in EVENT_LABELS:
                if not events[line]:
                    continue
                events[line] -= 1
            out.append(line)
        return "\n".join(out)


EVENT_LABELS = {"TA<->cloud", "TA"}   # pysim.trace's CLOUD and MODULE: lines made from the event log


def _label(line: str) -> str:
    parts = line.split(None, 2)
    return parts[1] if len(parts) > 1 else ""


def _timed(lines: list[str]) -> list[tuple[float, str]]:
    """(time, line) for each line; a line without a time takes the one before it."""
    out, t = [], 0.0
    for line in lines:
        try:
            t = float(line.split(None, 1)[0])
        except (IndexError, ValueError):
            pass
        out.append((t, line))
    return out


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
def pysim_profile(request: pytest.FixtureRequest) -> str:
    """The module's compatibility profile: spec, sdk2 or sdk3 (parametrize indirect / marker /
    --pysim-profile); `dut`, `mcu_session` and `module_factory` start their modules with it."""
    return str(pysim_value(request, "profile"))


@pytest.fixture
def pysim_device(request: pytest.FixtureRequest) -> tuple[str, str, str] | None:
    """The firmware's (PK, DN, SECRET) for `dut`, None for the demo's (parametrize indirect / marker /
    --pysim-device); the marker and parametrize take "PK:DN:SECRET" or a tuple."""
    value = pysim_value(request, "device")
    return parse_device(value) if isinstance(value, str) else (tuple(value) if value else None)


@pytest.fixture
def pysim_cloud(request: pytest.FixtureRequest) -> dict[str, str] | None:
    """The external broker/servers `dut` uses as an address map, None for the test's in-process
    `cloud` (parametrize indirect / marker / --pysim-cloud); a URL, URLs joined by commas or a map."""
    from peripherals.ica import parse_cloud_spec

    value = pysim_value(request, "cloud")
    if value is None or isinstance(value, dict):
        addresses = value
    else:
        try:
            addresses = parse_cloud_spec(str(value))
        except (ValueError, json.JSONDecodeError) as error:
            pytest.fail(f"bad --pysim-cloud / pysim(cloud=...) {value!r}: {error}", pytrace=False)
    if addresses is not None and "mqtt" not in addresses:
        pytest.fail(f"--pysim-cloud / pysim(cloud=...) {value!r} names no MQTT broker: give mqtt://HOST:PORT",
                    pytrace=False)
    return addresses


@pytest.fixture
def pysim_trace(request: pytest.FixtureRequest) -> TestTrace:
    """The test's trace, shown and saved when the test fails (every pysim fixture adds to it)."""
    trace = request.node.stash.get(TRACE_KEY, None)
    if trace is None:
        trace = TestTrace(echo=request.config.getoption("--pysim-trace"))
        request.node.stash[TRACE_KEY] = trace
    return trace


def _session_options(request: pytest.FixtureRequest, tmp_path: Path, **values: Any) -> Any:
    """``SessionOptions`` from, weakest first: the GDB options, the test's ``pysim`` marker's
    other keywords, ``values``."""
    from pysim.session import SessionOptions

    marker = request.node.get_closest_marker(MARKER)
    extra = {k: v for k, v in (marker.kwargs if marker else {}).items() if k not in DEFAULTS}
    merged = {**gdb_options(request), **extra, **values}
    merged["module"] = {"profile": request.getfixturevalue("pysim_profile"), **merged.get("module", {})}
    emulator = merged.pop("emulator", None)
    return SessionOptions(emulator=None if emulator == "auto" else emulator, workdir=tmp_path, **merged)


# ---- the test's one cloud: on the test's event loop (async) or a pysim thread (sync) ----

def _new_cloud(request: pytest.FixtureRequest) -> Any:
    """A Cloud on the ports of the test's ``pysim(cloud_ports=(host, mqtt, coap, http))``, else free ones."""
    from pysim.cloud import Cloud

    marker = request.node.get_closest_marker(MARKER)
    ports = marker.kwargs.get("cloud_ports") if marker else None
    return Cloud(*ports) if ports else Cloud()


@pytest.fixture
def _pysim_loop() -> Iterator[Any]:
    """The event loop thread a synchronous test's `cloud` and `dut` run on (closed after the test)."""
    from pysim.loop_thread import LoopThread

    thread = LoopThread("pysim-test")
    try:
        yield thread
    finally:
        thread.close()


@pytest.fixture
def _pysim_thread_cloud(request: pytest.FixtureRequest, _pysim_loop: Any) -> Iterator[Any]:
    """A synchronous test's cloud, served by `_pysim_loop` while the test runs."""
    instance = _new_cloud(request)
    _pysim_loop.run(instance.start(), CLOUD_TIMEOUT)
    try:
        yield instance
    finally:
        _pysim_loop.run(instance.stop(), CLOUD_TIMEOUT)


@async_fixture
async def _pysim_async_cloud(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """An async test's cloud, on the test's event loop."""
    instance = _new_cloud(request)
    await instance.start()
    try:
        yield instance
    finally:
        await instance.stop()


@pytest.fixture
def cloud(request: pytest.FixtureRequest, pysim_cloud: dict[str, str] | None) -> Any:
    """The test's one in-process cloud (MQTT broker, CoAP and HTTP servers, OTA, registry), started;
    `dut` and every other pysim fixture of the test use this one (sync and async tests)."""
    if pysim_cloud is not None:
        pytest.fail(f"`{requested(request, CLOUD_FIXTURES)}` needs the in-process cloud, but this test's cloud is "
                    f"the external {pysim_cloud['mqtt']} (--pysim-cloud / pysim(cloud=...)): use `dut` and "
                    "`dut.cloud`, which talk to it", pytrace=False)
    return request.getfixturevalue("_pysim_async_cloud" if is_async_test(request) else "_pysim_thread_cloud")


# ---- the device under test (sync and async tests) -------------------------------------

@pytest.fixture
def _pysim_dut_options(request: pytest.FixtureRequest, tmp_path: Path, pysim_firmware: Path | None,
                       pysim_board: str, pysim_emulator: str, pysim_baud: int | None,
                       pysim_device: tuple[str, str, str] | None, pysim_cloud: dict[str, str] | None,
                       pysim_trace: TestTrace) -> Any:
    """The ``SessionOptions`` `dut` starts from."""
    values: dict[str, Any] = {"device": pysim_device} if pysim_device else {}
    return _session_options(request, tmp_path, firmware=pysim_firmware, board=pysim_board, emulator=pysim_emulator,
                            baud=pysim_baud, cloud=pysim_cloud, **pysim_trace.session_options, **values)


@pytest.fixture
def _pysim_dut_cloud(request: pytest.FixtureRequest, pysim_cloud: dict[str, str] | None) -> Any:
    """The in-process cloud `dut` shares: the test's `cloud`; None with an external one."""
    return None if pysim_cloud is not None else request.getfixturevalue("cloud")


def did_not_start(error: Exception) -> BaseException:
    """The failure of the test's set-up, one line, as `pysim run` reports a set-up error:
    ``raise did_not_start(error) from None``."""
    from pysim.cli import setup_error

    return pytest.fail.Exception(f"dut could not start: {setup_error(error)}", pytrace=False)


@async_fixture
async def _pysim_async_dut(_pysim_dut_options: Any, _pysim_dut_cloud: Any, pysim_trace: TestTrace
                           ) -> AsyncIterator[Any]:
    """An async test's `dut`, on the test's event loop around the test's `cloud`."""
    from pysim.dut import Dut

    try:
        device = await Dut.start_here(_pysim_dut_options, cloud=_pysim_dut_cloud)
    except Exception as error:   # as `pysim run`: anything before the firmware runs is a set-up error
        raise did_not_start(error) from None
    pysim_trace.sources.append(lambda: device.session.trace_lines)
    try:
        yield device
    finally:
        await device.stop_here()


@pytest.fixture
def dut(request: pytest.FixtureRequest, _pysim_dut_options: Any, pysim_trace: TestTrace) -> Iterator[Any]:
    """The device under test: `pysim_firmware` in `pysim_emulator` + a module + the test's `cloud`,
    booted (:class:`pysim.dut.Dut`: ``console``, ``uart``, ``cloud``, ``module``); stopped after the test."""
    from pysim.dut import Dut

    if is_async_test(request):
        yield request.getfixturevalue("_pysim_async_dut")
        return
    loop = request.getfixturevalue("_pysim_loop")
    try:
        device = Dut.start(_pysim_dut_options, cloud=request.getfixturevalue("_pysim_dut_cloud"), loop=loop)
    except Exception as error:
        raise did_not_start(error) from None
    pysim_trace.sources.append(lambda: device.session.trace_lines)
    try:
        yield device
    finally:
        device.stop()


@pytest.fixture
def device(cloud: Any, pysim_device: tuple[str, str, str] | None) -> Any:
    """Credentials registered in `cloud` (`pysim_device`, else a1testPK:test-device-01:...): a
    ``DeviceCredentials``."""
    return cloud.registry.add(*(pysim_device or parse_device(DEFAULT_DEVICE)))


@async_fixture
async def module_factory(request: pytest.FixtureRequest, cloud: Any, tmp_path: Path, pysim_trace: TestTrace
                         ) -> AsyncIterator[Callable[..., Awaitable[ModuleUnderTest]]]:
    """Factory of modules on `cloud` (async tests): ``mut = await module_factory(**ModuleConfig fields)``
    gives ``mut.module`` and ``mut.at`` (an ``AtClient``); NV store in ``tmp_path``."""
    from pysim.trace import TraceWriter

    require_async_test(request)
    profile = request.getfixturevalue("pysim_profile")
    writer = TraceWriter(pysim_trace.add, t0=pysim_trace.t0)
    cloud.events.listeners.append(writer.event)
    made: list[ModuleUnderTest] = []

    async def make(**options: Any) -> ModuleUnderTest:
        options.setdefault("profile", profile)
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
    """Factory of firmware sessions on `cloud` (async tests): ``session = await mcu_session(firmware=...,
    **options)`` (:class:`pysim.session.Session`, started); stopped after the test."""
    from pysim.factory import start_session

    require_async_test(request)
    made: list[Any] = []

    async def make(**options: Any) -> Any:
        options.setdefault("emulator", pysim_emulator)
        for key, value in pysim_trace.session_options.items():
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
async def faults(request: pytest.FixtureRequest) -> AsyncIterator[Callable[..., Any]]:
    """Factory (async tests): ``controller = faults(module, seed=1)``, a :class:`pysim.faults.FaultController`
    on a module under test (``controller.apply("module.cme:cmd=+IMQTTPUB,error=30")``); every
    fault it applied is removed after the test."""
    from pysim.faults import FaultController

    require_async_test(request)
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
