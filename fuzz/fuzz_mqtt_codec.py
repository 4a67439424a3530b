"""Coverage-guided fuzzer (atheris/libFuzzer) of the MQTT client codec (sans-I/O).

    python -m fuzz.fuzz_mqtt_codec [libFuzzer options] WORK_CORPUS fuzz/corpus/mqtt_codec

Each input: 1 byte choosing the start state and chunk size, then bytes "from the
broker". The invariants are those of :mod:`fuzz.mqtt_harness`. At the end (``-runs`` or
``-max_total_time``) it prints one line with the counts.
"""

from __future__ import annotations

import atheris

from fuzz.runner import fuzz

with atheris.instrument_imports(include=["peripherals"]):
    from fuzz.mqtt_harness import MqttHarness

harness = MqttHarness()


def test_one_input(data: bytes) -> None:
    harness.run(data)


def report() -> str:
    c = harness.counts
    return (f"fuzz_mqtt_codec: {c.inputs} inputs, {c.events} events, {c.protocol_errors} protocol errors "
          f"reported, 0 invariant failures")


if __name__ == "__main__":
    fuzz(test_one_input, lambda: harness.counts.inputs, report)
