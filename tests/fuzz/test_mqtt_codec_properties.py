"""Property-based tests of the MQTT client codec (hypothesis, derandomized): broker
streams, well formed or not, in any split, keep the invariants of fuzz/mqtt_harness.py."""

from __future__ import annotations

import base64

from hypothesis import given, settings, strategies as st

from fuzz.mqtt_harness import MqttHarness, _protocol
from peripherals.ica.net.mqtt_codec import MessageReceived, encode_remaining_length

SETTINGS = settings(derandomize=True, deadline=None, max_examples=300)


def publish_packet(topic: bytes, payload: bytes, qos: int, packet_id: int) -> bytes:
    body = len(topic).to_bytes(2, "big") + topic + (packet_id.to_bytes(2, "big") if qos else b"") + payload
    return bytes([0x30 | qos << 1]) + encode_remaining_length(len(body)) + body


topics = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00+#"),
                 min_size=1, max_size=20).map(str.encode)     # MQTT topic names are UTF-8
publishes = st.lists(st.tuples(topics,
                               st.binary(max_size=300), st.integers(0, 2), st.integers(1, 65535)),
                     min_size=1, max_size=8, unique_by=lambda m: m[3])   # QoS 2 ids: one each until PUBREL


@SETTINGS
@given(data=st.binary(max_size=300))
def test_any_bytes_in_any_split(data):
    MqttHarness().run(data)


@SETTINGS
@given(messages=publishes, chunk=st.integers(1, 50))
def test_publishes_arrive_whole_whatever_the_split(messages, chunk):
    stream = b"".join(publish_packet(*m) for m in messages)
    proto = _protocol(1)
    got = []
    for i in range(0, len(stream), chunk):
        got += [e for e in proto.receive_data(stream[i:i + chunk]) if isinstance(e, MessageReceived)]
    assert [(e.payload, e.qos) for e in got] == [(p, q) for _t, p, q, _i in messages]


def test_refused_connect_ignores_the_rest_of_its_chunk():
    """Found by the atheris fuzzer: after a refused CONNACK the rest of the same chunk
    gave a ProtocolError, while the same bytes split later were ignored."""
    MqttHarness().run(base64.b64decode("ACACAAHgACACAAA="))
