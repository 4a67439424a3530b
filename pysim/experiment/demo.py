"""The cloud's half of the demo firmware, played straight from Python (the same moves
as ``pysim/scenarios/demo.yaml``, with the OTA image size as a parameter) for
experiments, benchmarks and fault tests, and the outcome read from the console."""

from __future__ import annotations

import asyncio
import random
import re
from dataclasses import dataclass, field
from typing import Any

from pysim.emulators.console import ConsoleClosed

DEMO_STEPS = ("at", "mqtt_auth", "mqtt_connect", "mqtt_subscribe", "ota_version", "coap_auth",
              "coap_request", "http_auth", "http_request", "telemetry", "led", "ota")
STEP_LINE = re.compile(r"^STEP (\S+) (ok|fail)\s*(.*)$")


@dataclass
class DemoOutcome:
    exit_code: int | None
    steps: dict[str, str] = field(default_factory=dict)     # step -> "ok" | "FAIL <reason>"

    @property
    def passed(self) -> bool:
        return self.exit_code == 0 and all(self.steps.get(s) == "ok" for s in DEMO_STEPS)

    def summary(self) -> str:
        return f"exit code {self.exit_code}; " + ", ".join(f"{k} {v}" for k, v in self.steps.items())


def console_steps(lines: list[str]) -> dict[str, str]:
    steps = {}
    for line in lines:
        if m := STEP_LINE.match(line):
            steps[m.group(1)] = "ok" if m.group(2) == "ok" else f"FAIL {m.group(3)}".rstrip()
    return steps


async def play_demo(session: Any, *, ota_size: int = 2048, seed: int = 7, timeout: float = 40.0) -> DemoOutcome:
    """Send the LED command once the firmware subscribed, announce an OTA image once its
    HTTP request is done, and wait for its exit; a firmware that gives up early ends it."""
    pk, dn = session.device
    try:
        line = await session.wait_console(r"^STEP mqtt_subscribe (ok|fail)", timeout)
        if line.endswith("ok"):
            await session.cloud.publish(f"/{pk}/{dn}/user/command", b'{"led":1}', qos=1)
        await session.wait_console(r"^STEP http_request ok", timeout)
        image = session.cloud.ota.add_image(random.Random(seed).randbytes(ota_size), "1.1.0")
        await session.cloud.ota.announce(pk, dn, image)
    except (TimeoutError, asyncio.TimeoutError, ConnectionError, ConsoleClosed):
        pass                              # the firmware exited, or never got there
    code = await session.wait_exit(timeout)
    return DemoOutcome(code, console_steps(session.console_lines))
