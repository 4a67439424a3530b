"""The module's compatibility profile from the plugin: marker, indirect parametrize and
--pysim-profile reach `module_factory`'s modules and the `dut`'s (the demo firmware in QEMU)."""

from __future__ import annotations

import pytest


@pytest.mark.pysim(profile="sdk3")
async def test_marker_profile_reaches_module_factory(module_factory):
    mut = await module_factory()
    assert mut.module.config.profile == "sdk3"
    reply = await mut.at.command("AT")          # sdk3: echo is off at power-on
    assert reply.ok and not mut.module.engine.echo


async def test_default_profile_is_the_specs(module_factory):
    mut = await module_factory()
    assert mut.module.config.profile == "spec" and mut.module.engine.echo


@pytest.mark.parametrize("pysim_profile", ["sdk2"], indirect=True)
def test_dut_module_takes_the_profile(dut, pysim_profile):
    assert pysim_profile == "sdk2" and dut.module.config.profile == "sdk2"
    dut.console.expect(r"^STEP mqtt_subscribe ok", timeout=30)   # the demo works against it


def test_option_reaches_the_fixture(pytester):
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile("def test_it(pysim_profile):\n    assert pysim_profile == 'sdk2'\n")
    assert pytester.runpytest("-p", "no:cacheprovider", "--pysim-profile", "sdk2").ret == 0
    result = pytester.runpytest("-p", "no:cacheprovider", "--pysim-profile", "nope")
    assert result.ret != 0 and "invalid choice: 'nope'" in result.stderr.str()
