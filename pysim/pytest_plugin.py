"""pytest plugin: fixtures for testing firmware and TEs against the ICA module model.

Installed with the package (entry point ``pytest11``), so a firmware project's
tests can use, with pytest-asyncio:

* ``cloud``: a started in-process :class:`pysim.cloud.Cloud`;
* ``device``: credentials registered in it (``--pysim-device PK:DN:SECRET`` to choose);
* ``ica_module``: an :class:`IcaModule` pointed at the cloud, NV store in ``tmp_path``;
* ``at``: a :class:`pysim.te.AtClient` wired to ``ica_module`` (echo left as the module has it);
* ``module_factory``: more modules, each with its own AT client;
* ``mcu_session``: a factory of :class:`pysim.session.Session` (cloud + module + firmware in an emulator);
  ``fault_specs=[...]`` starts it with faults, ``session.inject_fault(spec)`` adds one during the run;
* ``faults``: ``faults(module)`` -> a :class:`pysim.faults.FaultController` for a module under test
  (``.apply("module.cme:cmd=+IMQTTPUB,error=30")``); its faults are removed at teardown.

Everything started by a fixture is stopped at teardown, also when the test fails.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable

import pytest

from peripherals.ica import IcaModule, ModuleConfig
from pysim.cloud import Cloud
from pysim.devauth import DeviceCredentials
from pysim.te import AtClient

DEFAULT_DEVICE = "a1testPK:test-device-01:test-secret-01"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pysim", "ICA co-simulation")
    group.addoption("--pysim-device", default=DEFAULT_DEVICE,
                    help="PK:DN:SECRET of the device the `device` fixture registers")
    group.addoption("--pysim-emulator", default=None,
                    help="emulator backend for mcu_session: qemu (default) or renode")
    group.addoption("--pysim-trace", action="store_true",
                    help="print the readable AT/cloud trace of each module test")


def parse_device(spec: str) -> tuple[str, str, str]:
    parts = spec.split(":")
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"device must be PK:DN:SECRET, got {spec!r}")
    return parts[0], parts[1], parts[2]


@pytest.fixture
async def cloud() -> AsyncIterator[Cloud]:
    instance = Cloud()
    await instance.start()
    try:
        yield instance
    finally:
        await instance.stop()


@pytest.fixture
def device(cloud: Cloud, request: pytest.FixtureRequest) -> DeviceCredentials:
    return cloud.registry.add(*parse_device(request.config.getoption("--pysim-device")))


@dataclass
class ModuleUnderTest:
    module: IcaModule
    at: AtClient


@pytest.fixture
async def module_factory(cloud: Cloud, tmp_path: Path, request: pytest.FixtureRequest
                         ) -> AsyncIterator[Callable[..., Awaitable[ModuleUnderTest]]]:
    made: list[IcaModule] = []
    trace = request.config.getoption("--pysim-trace")

    async def make(**options) -> ModuleUnderTest:
        config = ModuleConfig(name=f"ica{len(made)}", nv_path=tmp_path / f"ica{len(made)}.nv.json")
        config.use_cloud(cloud.addresses)
        config = dataclasses.replace(config, **options)     # what the test names wins
        module = IcaModule(config, events=cloud.events)
        await module.start()
        made.append(module)
        client = AtClient(module.feed)
        module.on_output = client.feed
        return ModuleUnderTest(module, client)

    if trace:
        from pysim.trace import TraceWriter
        writer = TraceWriter(print)
        cloud.events.listeners.append(writer.event)
    try:
        yield make
    finally:
        for module in made:
            await module.stop()


@pytest.fixture
async def ica_module(module_factory) -> IcaModule:
    return (await module_factory()).module


@pytest.fixture
async def at(ica_module: IcaModule) -> AtClient:
    client = AtClient(ica_module.feed)
    ica_module.on_output = client.feed
    return client


@pytest.fixture
async def faults(request: pytest.FixtureRequest):
    """Factory: ``controller = faults(module, seed=1)``; every fault it applied is removed at teardown."""
    from pysim.faults import FaultController

    made: list[FaultController] = []

    def make(module: IcaModule, seed: int = 1) -> FaultController:
        controller = FaultController(module=module, events=module.events, seed=seed)
        made.append(controller)
        return controller

    yield make
    for controller in made:
        controller.clear()
        await controller.module.injector.stop()


@pytest.fixture
async def mcu_session(request: pytest.FixtureRequest, tmp_path: Path):
    """Factory: ``session = await mcu_session(firmware=..., **options)``; started, stopped at teardown."""
    from pysim.session import Session, SessionOptions

    made: list[Session] = []

    async def make(**options) -> Session:
        options.setdefault("emulator", request.config.getoption("--pysim-emulator"))
        options.setdefault("workdir", tmp_path)
        session = Session(SessionOptions(**options))
        made.append(session)
        await session.start()
        return session

    try:
        yield make
    finally:
        for session in made:
            await session.stop()
