"""Module tests: an offline module (no cloud) for conformance, the plugin's fixtures for the rest."""

from __future__ import annotations

import pytest

from peripherals.ica import IcaModule, ModuleConfig
from pysim.events import EventLog
from pysim.te import AtClient


@pytest.fixture
async def offline(tmp_path):
    """A module with no cloud configured and echo off, and its AT client."""
    module = IcaModule(ModuleConfig(echo=False, nv_path=tmp_path / "nv.json"), events=EventLog())
    await module.start()
    client = AtClient(module.feed)
    module.on_output = client.feed
    client.module = module
    try:
        yield client
    finally:
        await module.stop()
