"""The demo firmware in QEMU under one fault of each link: what the firmware did
(console, exit code) and what the module, proxy or link did (events, counters)."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess

import pytest

from pysim.events import kind_is
from pysim.experiment.demo import play_demo
from pysim.session import DEMO_FIRMWARE, Session, SessionOptions

pytestmark = pytest.mark.skipif(shutil.which("qemu-system-arm") is None or not DEMO_FIRMWARE.is_file(),
                                reason="needs qemu-system-arm and firmware/build/demo.elf (make firmware)")


@pytest.fixture
async def run_demo(tmp_path):
    made: list[Session] = []

    async def run(faults=(), *, at_step: str | None = None, later=(), ota_size: int = 2048, timeout: float = 40):
        """Start the demo with ``faults``; apply ``later`` once the console shows ``at_step``."""
        session = Session(SessionOptions(workdir=tmp_path, fault_specs=list(faults), seed=3,
                                         fault_proxy=True))
        made.append(session)
        await session.start()
        if at_step:
            play = asyncio.ensure_future(play_demo(session, ota_size=ota_size, timeout=timeout))
            await session.wait_console(rf"^STEP {at_step} ok", timeout)
            for spec in later:
                session.inject_fault(spec)
            return session, await play
        return session, await play_demo(session, ota_size=ota_size, timeout=timeout)

    yield run
    for session in made:
        await session.stop()


async def test_a_refused_telemetry_publish_is_logged_and_the_demo_goes_on(run_demo):
    session, verdict = await run_demo(at_step="led", later=["module.cme:cmd=+IMQTTPUB,error=30,times=1"])
    assert verdict.passed, verdict.summary()
    assert len(session.events.find(kind_is("fault.module.cme"))) == 1
    assert any(re.match(r"^LOG telemetry \d+ lost \+CME ERROR:30$", line) for line in session.console_lines)


async def test_timing_profile_and_latency_still_pass(run_demo):
    session, verdict = await run_demo(["module.timing", "net.latency:ms=30,jitter=10"])
    assert verdict.passed, verdict.summary()
    assert session.events.find(kind_is("fault.net.on"))


def reconnected(session) -> None:
    """The demo lost its MQTT session, logged it, authenticated and connected again."""
    assert "LOG mqtt reconnected" in session.console_lines, session.console_lines[-8:]
    connects = session.events.find(lambda e: e.kind == "at.command" and e.detail.get("line") == "AT+IMQTTCONN")
    assert len(connects) >= 2


# Found by the resilience matrix: the demo used to exit 9 on a lost MQTT session.
@pytest.mark.parametrize("fault", ["net.reset:service=mqtt", "net.down:service=mqtt,for=1"])
async def test_demo_recovers_from_a_lost_mqtt_session(run_demo, fault):
    session, verdict = await run_demo(at_step="led", later=[fault])
    assert verdict.passed, verdict.summary()
    reconnected(session)


@pytest.fixture(scope="module")
def forever_demo():
    from pysim.experiment.resilience import build_firmware
    return build_firmware()


async def test_telemetry_resumes_after_a_module_reboot(forever_demo):
    """A reboot during an OTA download loses the download (the demo exits 8, as a real
    module would lose it); in the main loop the demo reconnects and telemetry resumes,
    counted at an independent subscriber (one resilience matrix cell)."""
    from pysim.experiment.resilience import run_cell

    cell = await run_cell("module.reboot:off=0.3", firmware=forever_demo, hold=1.0, window=10.0)
    assert cell.recovered and cell.exit_code is None, cell
    assert cell.lost <= 2                    # the reading sent while the module was off


async def test_a_cell_whose_firmware_never_publishes_ends(tmp_path):
    """The matrix once waited for ever for a first telemetry message: a firmware that
    never sends one (uart_echo) gets a cell that says so, in bounded time."""
    from pysim.experiment.resilience import ROOT, run_cell

    subprocess.run(["make", "-s", "-C", str(ROOT / "firmware"), "build/uart_echo.elf"], check=True)
    cell = await run_cell("net.latency:ms=50", firmware=ROOT / "firmware/build/uart_echo.elf",
                          start_within=2.0)
    assert not cell.recovered and cell.note == "RuntimeError: no telemetry within 2 s, before the fault"


async def test_uart_stall_in_the_main_loop_is_survived(run_demo):
    session, verdict = await run_demo(at_step="http_request", later=["uart.stall:for=1.5,dir=both"])
    assert verdict.passed, verdict.summary()


async def test_uart_drop_everything_the_mcu_sends(run_demo):
    session, verdict = await run_demo(at_step="led", later=["uart.drop:rate=1,dir=te2ta"])
    # the next command the firmware sends never reaches the module: it times out (5 s) and exits
    assert verdict.exit_code in (7, 8), verdict.summary()   # in a publish (7) or the OTA download (8)
    assert any(v.startswith("FAIL") for v in verdict.steps.values())
    dropped_from = session.events.find(kind_is("fault.on"))[-1].t
    assert all(e.t < dropped_from for e in session.events.find(kind_is("at.command")))   # the module saw none


async def test_uart_break_before_the_first_command(run_demo):
    session, verdict = await run_demo(["uart.break:bytes=3,dir=ta2te"])
    assert verdict.passed, verdict.summary()
