"""The pytest plugin's mcu_session fixture, used as a firmware team would use it."""

from __future__ import annotations

from pysim.events import kind_is
from pysim.session import DEMO_DEVICE


async def test_mcu_session_fixture_runs_firmware_against_module_and_cloud(mcu_session, demo_elf, backend):
    session = await mcu_session(firmware=demo_elf, emulator=backend)
    await session.wait_console(r"^STEP mqtt_connect ok", 30)
    connect = await session.events.wait_for(kind_is("mqtt.connect"))
    assert connect.device == DEMO_DEVICE[:2]
    assert session.emulator.pid is not None and session.module is not None
    assert session.emulator.name == backend
