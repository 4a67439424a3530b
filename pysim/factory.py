"""Building the parts a test drives, the same way for the pytest plugin, the Robot
library, the benchmarks and the runner (as pytest-embedded's ``dut_factory``).

    mut = await make_module(cloud.addresses, events=cloud.events, nv_path=tmp / "nv.json")
    await mut.at.expect_ok("AT")                # mut.module: the IcaModule

    session = await start_session(SessionOptions(firmware="app.elf"), cloud=cloud)
    dut = Dut.start(SessionOptions(firmware="app.elf"))    # sync; dut.stop() at the end
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from peripherals.ica import IcaModule, ModuleConfig
from pysim.te import AtClient
from pysim.uart import TA_TO_TE, TE_TO_TA, UartRecord


@dataclass
class ModuleUnderTest:
    """A started module and the TE-side AT client wired to it."""

    module: IcaModule
    at: AtClient


async def make_module(addresses: dict[str, str] | None, *, events: Any = None, name: str = "ica0",
                      nv_path: Path | None = None, trace: Any = None, **options: Any) -> ModuleUnderTest:
    """Start a module pointed at ``addresses`` (a cloud's address map; None: no cloud) and
    wire an ``AtClient`` to it. ``options`` are more ``ModuleConfig`` fields and win over
    the addresses; ``trace``: a ``TraceWriter`` that sees the AT bytes both ways."""
    config = ModuleConfig(name=name, nv_path=nv_path)
    if addresses:
        config.use_cloud(addresses)
    config = dataclasses.replace(config, **options)
    module = IcaModule(config, events=events)
    await module.start()
    if trace is None:
        client = AtClient(module.feed)
        module.on_output = client.feed
    else:
        def to_module(data: bytes) -> None:
            trace.uart(UartRecord(time.monotonic(), TE_TO_TA, bytes(data)))
            module.feed(data)

        def to_te(data: bytes) -> None:
            trace.uart(UartRecord(time.monotonic(), TA_TO_TE, bytes(data)))
            client.feed(data)

        client = AtClient(to_module)
        module.on_output = to_te
    return ModuleUnderTest(module, client)


async def start_session(options: Any = None, *, cloud: Any = None) -> Any:
    """A started :class:`pysim.session.Session` (cloud + module + firmware); ``cloud``: a
    started in-process cloud to share."""
    from pysim.session import Session

    session = Session(options, cloud=cloud)
    await session.start()
    return session
