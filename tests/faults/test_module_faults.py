"""Module faults (peripherals/ica/faults.py) seen from a TE and from the cloud."""

from __future__ import annotations

import asyncio
import statistics

from peripherals.ica.faults import TIMING
from pysim.events import kind_is
from pysim.faults import FaultController
from pysim.peers import service_client
from te_steps import mqtt_online


async def test_cme_n_times_then_the_command_runs(module_factory, cloud):
    made = await module_factory(echo=False)
    faults = FaultController(module=made.module, events=cloud.events)
    faults.apply("module.cme:cmd=+CGMI,error=30,times=2")
    answers = [(await made.at.command("AT+CGMI")).final for _ in range(3)]
    assert answers == ["+CME ERROR:30", "+CME ERROR:30", "OK"]
    assert (await made.at.command("AT+CGMM")).ok           # another command is untouched
    assert len(cloud.events.find(kind_is("fault.module.cme"))) == 2


async def test_cme_at_a_rate_is_seeded(module_factory):
    async def errors(seed: int) -> list[bool]:
        made = await module_factory(echo=False)
        FaultController(module=made.module, seed=seed).apply("module.cme:cmd=AT,error=100,times=0,rate=0.3")
        return [not (await made.at.command("AT")).ok for _ in range(100)]
    first, again, other = await errors(5), await errors(5), await errors(6)
    assert first == again and first != other
    assert 15 <= sum(first) <= 45


async def test_a_rejected_publish_never_reaches_the_broker(module_factory, device, cloud):
    made = await module_factory()
    observer = await service_client(cloud)
    try:
        topic = f"/{device.product_key}/{device.device_name}/user/telemetry"
        await observer.subscribe(topic, 1)
        await mqtt_online(made.at, device)
        faults = FaultController(module=made.module)
        faults.apply("module.cme:cmd=+IMQTTPUB,error=30")
        refused = await made.at.command(f'AT+IMQTTPUB="{topic}",1,"one"')
        assert refused.final == "+CME ERROR:30"
        await made.at.expect_ok(f'AT+IMQTTPUB="{topic}",1,"two"')
        assert (await observer.next_message()).payload == b"two"   # "one" never went out
    finally:
        await observer.close()


async def test_delay_holds_the_response_and_what_follows(module_factory):
    made = await module_factory(echo=False)
    loop = asyncio.get_running_loop()
    faults = FaultController(module=made.module)
    handle = faults.apply("module.delay:cmd=+CGMR,ms=300")
    start = loop.time()
    assert (await made.at.command("AT+CGMR")).ok
    assert loop.time() - start >= 0.29
    start = loop.time()
    assert (await made.at.command("AT")).ok                 # not delayed
    assert loop.time() - start < 0.25
    faults.remove(handle)
    start = loop.time()
    assert (await made.at.command("AT+CGMR")).ok
    assert loop.time() - start < 0.25


async def test_timing_profile_draws_per_command_times(module_factory):
    made = await module_factory(echo=False)
    FaultController(module=made.module, seed=3).apply("module.timing:scale=10")
    loop = asyncio.get_running_loop()

    async def times(command: str, n: int) -> list[float]:
        out = []
        for _ in range(n):
            start = loop.time()
            await made.at.command(command)
            out.append((loop.time() - start) * 1000)
        return out
    at_ms = statistics.median(await times("AT", 9))
    auth_table_ms = TIMING["+IMQTTAUTH"][0] * 10
    auth_ms = statistics.median(await times("AT+IMQTTAUTH?", 9))
    assert TIMING[""][0] * 10 * 0.5 < at_ms < TIMING[""][1] * 10 * 1.5
    assert auth_ms > 0.5 * auth_table_ms and auth_ms > 3 * at_ms


async def test_spontaneous_reboot_loses_the_session(module_factory, device, cloud):
    made = await module_factory()
    at, module = made.at, made.module
    await mqtt_online(at, device)
    faults = FaultController(module=module, events=cloud.events)
    faults.apply("module.reboot:off=0.3")
    await cloud.events.wait_for(kind_is("module.reboot", spontaneous=True))
    # the broker sees the client go away without a DISCONNECT
    gone = await cloud.events.wait_for(lambda e: e.kind.startswith("mqtt.") and "disconnect" in e.kind)
    assert gone is not None
    # after restart: +IMQTTSTATE:0 unasked, echo back on (power-on settings), no session
    urc = await at.wait_urc("+IMQTTSTATE", timeout=5)
    assert urc.text == "+IMQTTSTATE:0"
    assert (await at.command("AT+IMQTTSTATE?")).line("+IMQTTSTATE").text == "+IMQTTSTATE:0"
    assert b"AT+IMQTTSTATE?\r" in bytes(at.raw)             # echoed again: ATE0 was lost
    assert (await at.command(f'AT+IMQTTPUB="/{device.product_key}/{device.device_name}/user/x",0,"x"')
            ).final == "+CME ERROR:3"
