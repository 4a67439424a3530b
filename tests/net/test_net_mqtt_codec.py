"""Unit tests of the sans-I/O MQTT codec: byte-exact packets (MQTT 3.1.1 spec,
section 3, and the 3.1 protocol name/level), the QoS handshakes, stream
splitting, and malformed input."""

import random

import pytest

from peripherals.ica.net.mqtt_codec import (
    Connected, ConnectRefused, LocalProtocolError, MalformedPacket, MessageReceived,
    MqttClientProtocol, PingResponse, ProtocolError, PublishDone, Subscribed, Unsubscribed,
    decode_remaining_length, encode_remaining_length)

CONNACK_OK = bytes.fromhex("20 02 00 00")


def connected(version="3.1.1"):
    proto = MqttClientProtocol(version)
    proto.connect("c1")
    proto.data_to_send()
    assert proto.receive_data(CONNACK_OK) == [Connected(session_present=False, return_code=0)]
    return proto


# ------------------------------------------------------------ remaining length

@pytest.mark.parametrize("value, encoded", [
    # the boundaries of MQTT 3.1.1 table 2.4
    (0, "00"), (127, "7f"), (128, "80 01"), (16_383, "ff 7f"), (16_384, "80 80 01"),
    (2_097_151, "ff ff 7f"), (2_097_152, "80 80 80 01"), (268_435_455, "ff ff ff 7f"),
])
def test_remaining_length_round_trip(value, encoded):
    raw = bytes.fromhex(encoded)
    assert encode_remaining_length(value) == raw
    assert decode_remaining_length(raw + b"\x99") == (value, len(raw))


def test_remaining_length_limits():
    with pytest.raises(ValueError):
        encode_remaining_length(268_435_456)
    with pytest.raises(ValueError):
        encode_remaining_length(-1)
    with pytest.raises(MalformedPacket):
        decode_remaining_length(bytes.fromhex("ff ff ff ff 01"))
    assert decode_remaining_length(bytes.fromhex("ff ff")) is None  # needs more bytes
    assert decode_remaining_length(b"\x30\x05", offset=1) == (5, 1)


# ------------------------------------------------------------ CONNECT / CONNACK

def test_connect_311_byte_exact():
    proto = MqttClientProtocol("3.1.1")
    proto.connect("c1", username="u", password="pw", clean_session=True, keepalive=10)
    assert proto.data_to_send() == bytes.fromhex(
        "10 15"                      # CONNECT, remaining length 21
        "00 04 4d 51 54 54"          # protocol name "MQTT"
        "04"                         # level 4
        "c2"                         # user name, password, clean session
        "00 0a"                      # keep alive 10 s
        "00 02 63 31"                # client id "c1"
        "00 01 75"                   # user name "u"
        "00 02 70 77")               # password "pw"


def test_connect_31_byte_exact():
    proto = MqttClientProtocol("3.1")
    proto.connect("c1", clean_session=False, keepalive=60)
    assert proto.data_to_send() == bytes.fromhex(
        "10 10"
        "00 06 4d 51 49 73 64 70"    # protocol name "MQIsdp"
        "03"                         # level 3
        "00"                         # no flags
        "00 3c"                      # keep alive 60 s
        "00 02 63 31")


def test_connect_binary_password_and_long_body():
    proto = MqttClientProtocol()
    proto.connect("x" * 200, username="u", password=b"\x00\xff")
    out = proto.data_to_send()
    assert out[:3] == bytes([0x10]) + encode_remaining_length(len(out) - 3)
    assert out.endswith(b"\x00\x02\x00\xff")


def test_connect_rejects_bad_arguments():
    with pytest.raises(ValueError):
        MqttClientProtocol("5.0")
    with pytest.raises(ValueError):
        MqttClientProtocol().connect("c", password="p")
    proto = MqttClientProtocol()
    proto.connect("c")
    with pytest.raises(LocalProtocolError):
        proto.connect("c")


@pytest.mark.parametrize("version, connack, event", [
    ("3.1.1", "20 02 00 00", Connected(False, 0)),
    ("3.1.1", "20 02 01 00", Connected(True, 0)),
    ("3.1", "20 02 01 00", Connected(False, 0)),  # reserved byte in 3.1
    ("3.1.1", "20 02 00 05", ConnectRefused(5)),
    ("3.1", "20 02 00 02", ConnectRefused(2)),
])
def test_connack(version, connack, event):
    proto = MqttClientProtocol(version)
    proto.connect("c")
    assert proto.receive_data(bytes.fromhex(connack)) == [event]
    assert proto.connected is isinstance(event, Connected)
    assert proto.closed is isinstance(event, ConnectRefused)


def test_connect_refused_reason_text():
    assert ConnectRefused(4).reason == "bad user name or password"


# ------------------------------------------------------------ PUBLISH, outbound

@pytest.mark.parametrize("qos, retain, first", [(0, False, 0x30), (0, True, 0x31),
                                                (1, False, 0x32), (2, True, 0x35)])
def test_publish_encoding(qos, retain, first):
    proto = connected()
    packet_id = proto.publish("a/b", b"hi", qos=qos, retain=retain)
    id_bytes = b"" if qos == 0 else packet_id.to_bytes(2, "big")
    body = b"\x00\x03a/b" + id_bytes + b"hi"
    assert proto.data_to_send() == bytes([first, len(body)]) + body
    assert packet_id == (0 if qos == 0 else 1)


def test_publish_qos1_handshake():
    proto = connected()
    packet_id = proto.publish("t", b"x", qos=1)
    proto.data_to_send()
    assert proto.inflight_packet_ids == {packet_id}
    assert proto.receive_data(bytes([0x40, 2, 0, packet_id])) == [PublishDone(packet_id)]
    assert proto.inflight_packet_ids == frozenset()
    # a duplicate acknowledgement is ignored
    assert proto.receive_data(bytes([0x40, 2, 0, packet_id])) == []


def test_publish_qos2_handshake_as_sender():
    proto = connected()
    packet_id = proto.publish("t", b"x", qos=2)
    proto.data_to_send()
    assert proto.receive_data(bytes([0x50, 2, 0, packet_id])) == []
    assert proto.data_to_send() == bytes([0x62, 2, 0, packet_id])  # PUBREL
    assert proto.receive_data(bytes([0x40, 2, 0, packet_id])) == []  # wrong ack: ignored
    assert proto.receive_data(bytes([0x70, 2, 0, packet_id])) == [PublishDone(packet_id)]
    assert proto.inflight_packet_ids == frozenset()


def test_publish_rejects_wildcards_and_bad_qos():
    proto = connected()
    for topic in ("", "a/+", "a/#"):
        with pytest.raises(ValueError):
            proto.publish(topic, b"")
    with pytest.raises(ValueError):
        proto.publish("a", b"", qos=3)


def test_sending_needs_connect_and_stops_after_disconnect():
    proto = MqttClientProtocol()
    with pytest.raises(LocalProtocolError):
        proto.publish("a", b"")
    proto = connected()
    proto.disconnect()
    assert proto.data_to_send() == bytes.fromhex("e0 00")
    with pytest.raises(LocalProtocolError):
        proto.ping()


# ------------------------------------------------------------ PUBLISH, inbound

def test_inbound_qos0_and_qos1():
    proto = connected()
    assert proto.receive_data(bytes.fromhex("31 06 00 01 74 6f 6b 21")) == [
        MessageReceived("t", b"ok!", 0, True, None)]
    assert proto.data_to_send() == b""
    assert proto.receive_data(bytes.fromhex("32 06 00 01 74 12 34 7a")) == [
        MessageReceived("t", b"z", 1, False, 0x1234)]
    assert proto.data_to_send() == bytes.fromhex("40 02 12 34")  # PUBACK


def test_inbound_qos2_delivered_once_until_pubrel():
    proto = connected()
    publish = bytes.fromhex("34 06 00 01 74 00 07 7a")
    duplicate = bytes([publish[0] | 0x08]) + publish[1:]  # DUP flag set
    assert proto.receive_data(publish) == [MessageReceived("t", b"z", 2, False, 7)]
    assert proto.data_to_send() == bytes.fromhex("50 02 00 07")  # PUBREC
    assert proto.receive_data(duplicate) == []
    assert proto.data_to_send() == bytes.fromhex("50 02 00 07")  # PUBREC again
    assert proto.receive_data(bytes.fromhex("62 02 00 07")) == []
    assert proto.data_to_send() == bytes.fromhex("70 02 00 07")  # PUBCOMP
    # after PUBREL the id is free again: a new message with it is new
    assert proto.receive_data(publish) == [MessageReceived("t", b"z", 2, False, 7)]


def test_pubrel_for_unknown_id_is_still_completed():
    proto = connected()
    assert proto.receive_data(bytes.fromhex("62 02 00 09")) == []
    assert proto.data_to_send() == bytes.fromhex("70 02 00 09")


# ------------------------------------------------------------ SUBSCRIBE, UNSUBSCRIBE, PING

def test_subscribe_and_suback():
    proto = connected()
    packet_id = proto.subscribe([("a/+", 1), ("b/#", 2)])
    assert proto.data_to_send() == bytes.fromhex(
        "82 0e 00 01" "00 03 61 2f 2b 01" "00 03 62 2f 23 02")
    assert proto.receive_data(bytes.fromhex("90 04 00 01 01 80")) == [
        Subscribed(packet_id, [1, 0x80])]


def test_unsubscribe_and_unsuback():
    proto = connected()
    packet_id = proto.unsubscribe(["a/+"])
    assert proto.data_to_send() == bytes.fromhex("a2 07 00 01 00 03 61 2f 2b")
    assert proto.receive_data(bytes.fromhex("b0 02 00 01")) == [Unsubscribed(packet_id)]


def test_ping():
    proto = connected()
    proto.ping()
    assert proto.data_to_send() == bytes.fromhex("c0 00")
    assert proto.receive_data(bytes.fromhex("d0 00")) == [PingResponse()]


# ------------------------------------------------------------ packet ids

def test_packet_ids_wrap_and_skip_those_in_flight():
    proto = connected()
    held = proto.publish("t", b"", qos=1)  # id 1 stays in flight
    for expected in range(2, 65_536):
        packet_id = proto.publish("t", b"", qos=1)
        assert packet_id == expected
        proto.receive_data(bytes([0x40, 2]) + packet_id.to_bytes(2, "big"))
    assert held == 1
    assert proto.publish("t", b"", qos=1) == 2  # wrapped, skipping 1


def test_packet_ids_exhausted():
    proto = connected()
    for _ in range(65_535):
        proto.subscribe([("t", 0)])
    assert len(proto.inflight_packet_ids) == 65_535
    with pytest.raises(LocalProtocolError):
        proto.publish("t", b"", qos=2)


# ------------------------------------------------------------ stream handling

STREAM = bytes.fromhex(
    "20 02 01 00"                   # CONNACK, session present
    "90 03 00 01 00"                # SUBACK id 1
    "32 06 00 01 74 00 05 7a"       # PUBLISH QoS 1 id 5
    "d0 00"                         # PINGRESP
    "30 81 01 00 01 74" + "41" * 126)  # PUBLISH QoS 0, 2-byte remaining length
EXPECTED = [Connected(True, 0), Subscribed(1, [0]), MessageReceived("t", b"z", 1, False, 5),
            PingResponse(), MessageReceived("t", b"A" * 126, 0, False, None)]


def stream_proto():
    proto = MqttClientProtocol()
    proto.connect("c")
    proto.subscribe([("t", 0)])
    proto.data_to_send()
    return proto


def test_coalesced_packets():
    assert stream_proto().receive_data(STREAM) == EXPECTED


def test_split_one_byte_at_a_time():
    proto = stream_proto()
    events = []
    for i in range(len(STREAM)):
        events += proto.receive_data(STREAM[i:i + 1])
    assert events == EXPECTED
    assert proto.data_to_send() == bytes.fromhex("40 02 00 05")


# ------------------------------------------------------------ malformed input

BEFORE_CONNACK = [
    "20 ff ff ff ff 01",            # remaining length over 4 bytes
    "20 03 00 00 00",               # CONNACK too long
    "20 02 02 00",                  # CONNACK reserved flag (3.1.1)
    "21 02 00 00",                  # reserved fixed-header flags
    "30 02 00 00",                  # PUBLISH before CONNACK
    "d0 00",                        # anything but CONNACK first
]
AFTER_CONNACK = [
    "36 03 00 01 74",               # PUBLISH QoS 3
    "30 02 00 05",                  # topic longer than packet
    "30 04 00 02 ff fe",            # topic not UTF-8
    "32 03 00 01 74",               # QoS 1 without packet id
    "40 02 00 00",                  # packet id 0
    "60 02 00 01",                  # PUBREL without its 0010 flags
    "90 02 00 01",                  # SUBACK without return codes
    "90 03 00 01 03",               # SUBACK return code 3
    "d0 01 00",                     # PINGRESP with a body
    "10 00",                        # CONNECT from a server
    "20 02 00 00",                  # second CONNACK
]


@pytest.mark.parametrize("after_connack, data", [(False, d) for d in BEFORE_CONNACK]
                         + [(True, d) for d in AFTER_CONNACK])
def test_malformed_input_gives_one_protocol_error(after_connack, data):
    proto = connected() if after_connack else MqttClientProtocol()
    if not after_connack:
        proto.connect("c")
    events = proto.receive_data(bytes.fromhex(data))
    assert len(events) == 1 and isinstance(events[0], ProtocolError), events
    assert proto.closed
    assert proto.receive_data(CONNACK_OK + bytes.fromhex("d0 00")) == []


def test_data_before_connect_is_an_error():
    events = MqttClientProtocol().receive_data(CONNACK_OK)
    assert [type(e) for e in events] == [ProtocolError]


def test_random_bytes_never_raise():
    rng = random.Random(1234)
    for _ in range(300):
        proto = connected()
        blob = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
        for i in range(0, len(blob), 7):
            events = proto.receive_data(blob[i:i + 7])
            assert all(isinstance(e, (MessageReceived, PublishDone, Subscribed, Unsubscribed,
                                      PingResponse, ProtocolError)) for e in events)
