"""Sans-I/O MQTT 3.1 / 3.1.1 client protocol (bytes in, events and bytes out).

In the style of h11/wsproto: :class:`MqttClientProtocol` does no I/O. Calling
its methods (``connect``, ``publish``, ``subscribe``, ...) appends packets to an
outgoing buffer that the caller drains with :meth:`MqttClientProtocol.data_to_send`;
bytes read from the network go into :meth:`MqttClientProtocol.receive_data`,
which returns the events they complete. The protocol answers the broker's
side of the QoS handshakes itself (PUBACK, PUBREC, PUBREL, PUBCOMP): after each
``receive_data`` call the caller must send ``data_to_send()``.

Version differences handled here: 3.1 sends protocol name ``MQIsdp`` level 3
and its CONNACK has no session-present flag; 3.1.1 sends ``MQTT`` level 4.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import Sequence, Union

MAX_REMAINING_LENGTH = 268_435_455  # 0xFF 0xFF 0xFF 0x7F: the 4-byte limit
MAX_PACKET_ID = 65_535

PROTOCOL_NAMES = {"3.1": (b"MQIsdp", 3), "3.1.1": (b"MQTT", 4)}

# Control packet types (the upper nibble of the first byte).
CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT = 8, 9, 10, 11, 12, 13, 14

SUBACK_FAILURE = 0x80

CONNACK_REASONS = {
    0: "connection accepted",
    1: "unacceptable protocol version",
    2: "identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorized",
}


class LocalProtocolError(Exception):
    """The caller used the protocol wrongly (e.g. publish before connect)."""


class MalformedPacket(ValueError):
    """Bytes that are not a valid MQTT packet."""


# ---------------------------------------------------------------- events


@dataclass(frozen=True)
class Connected:
    session_present: bool
    return_code: int = 0


@dataclass(frozen=True)
class ConnectRefused:
    return_code: int

    @property
    def reason(self) -> str:
        return CONNACK_REASONS.get(self.return_code, f"return code {self.return_code}")


@dataclass(frozen=True)
class MessageReceived:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    packet_id: int | None


@dataclass(frozen=True)
class PublishDone:
    packet_id: int


@dataclass(frozen=True)
class Subscribed:
    packet_id: int
    granted: list[int]


@dataclass(frozen=True)
class Unsubscribed:
    packet_id: int


@dataclass(frozen=True)
class PingResponse:
    pass


@dataclass(frozen=True)
class ProtocolError:
    reason: str


Event = Union[Connected, ConnectRefused, MessageReceived, PublishDone, Subscribed,
              Unsubscribed, PingResponse, ProtocolError]


# ---------------------------------------------------------------- primitives


def encode_remaining_length(length: int) -> bytes:
    """Encode the fixed header's Remaining Length (1 to 4 bytes, 7 bits each)."""
    if not 0 <= length <= MAX_REMAINING_LENGTH:
        raise ValueError(f"remaining length {length} out of range 0..{MAX_REMAINING_LENGTH}")
    out = bytearray()
    while True:
        byte, length = length % 128, length // 128
        out.append(byte | (0x80 if length else 0))
        if not length:
            return bytes(out)


def decode_remaining_length(data: bytes | bytearray, offset: int = 0) -> tuple[int, int] | None:
    """Decode a Remaining Length at ``offset``.

    Returns ``(value, number_of_bytes)``, or ``None`` when more bytes are needed.
    Raises :class:`MalformedPacket` when a fourth byte still has its
    continuation bit set.
    """
    value = 0
    for i in range(4):
        if offset + i >= len(data):
            return None
        byte = data[offset + i]
        value += (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value, i + 1
    raise MalformedPacket("remaining length longer than 4 bytes")


def _encode_string(value: str | bytes) -> bytes:
    raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    if len(raw) > 0xFFFF:
        raise ValueError("string longer than 65535 bytes")
    return struct.pack("!H", len(raw)) + raw


def _packet(first_byte: int, body: bytes = b"") -> bytes:
    return bytes([first_byte]) + encode_remaining_length(len(body)) + body


def _check_qos(qos: int) -> None:
    if qos not in (0, 1, 2):
        raise ValueError(f"QoS must be 0, 1 or 2, not {qos!r}")


class _Await(enum.Enum):
    """What an outbound packet id is waiting for."""

    PUBACK = "PUBACK"
    PUBREC = "PUBREC"
    PUBCOMP = "PUBCOMP"
    SUBACK = "SUBACK"
    UNSUBACK = "UNSUBACK"


class _State(enum.Enum):
    NEW = "new"                # nothing sent yet
    CONNECTING = "connecting"  # CONNECT sent, no CONNACK yet
    CONNECTED = "connected"
    CLOSED = "closed"          # refused, DISCONNECT sent or protocol error


# ---------------------------------------------------------------- protocol


class MqttClientProtocol:
    """The client side of one MQTT 3.1 / 3.1.1 network connection."""

    def __init__(self, version: str = "3.1.1") -> None:
        if version not in PROTOCOL_NAMES:
            raise ValueError(f"MQTT version must be '3.1' or '3.1.1', not {version!r}")
        self.version = version
        self._state = _State.NEW
        self._out = bytearray()
        self._in = bytearray()
        self._inflight: dict[int, _Await] = {}   # our packet ids still in use
        self._inbound_qos2: set[int] = set()     # broker's QoS 2 ids awaiting PUBREL
        self._last_id = 0

    # ----------------------------------------------------------- state

    @property
    def connected(self) -> bool:
        """True between a successful CONNACK and DISCONNECT/refusal/error."""
        return self._state is _State.CONNECTED

    @property
    def closed(self) -> bool:
        return self._state is _State.CLOSED

    @property
    def inflight_packet_ids(self) -> frozenset[int]:
        """Our packet ids that are still waiting for their acknowledgement."""
        return frozenset(self._inflight)

    def data_to_send(self) -> bytes:
        """Return and clear the bytes queued for the network."""
        out, self._out = bytes(self._out), bytearray()
        return out

    # ----------------------------------------------------------- outbound

    def connect(self, client_id: str, *, username: str | None = None,
                password: str | bytes | None = None, clean_session: bool = True,
                keepalive: int = 60) -> None:
        """Queue CONNECT. Must be the first packet of the connection."""
        if self._state is not _State.NEW:
            raise LocalProtocolError("CONNECT may be sent only once, first")
        if not 0 <= keepalive <= 0xFFFF:
            raise ValueError("keepalive must be 0..65535 seconds")
        if password is not None and username is None:
            raise ValueError("a password needs a user name")
        name, level = PROTOCOL_NAMES[self.version]
        flags = (0x80 if username is not None else 0) | (0x40 if password is not None else 0)
        flags |= 0x02 if clean_session else 0
        body = _encode_string(name) + struct.pack("!BBH", level, flags, keepalive)
        body += _encode_string(client_id)
        if username is not None:
            body += _encode_string(username)
        if password is not None:
            body += _encode_string(password)
        self._out += _packet(CONNECT << 4, body)
        self._state = _State.CONNECTING

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> int:
        """Queue PUBLISH; return its packet id (0 for QoS 0).

        A QoS 1 publish is done on PUBACK, a QoS 2 one on PUBCOMP; each then
        yields :class:`PublishDone`.
        """
        self._require_session()
        _check_qos(qos)
        if not topic or "+" in topic or "#" in topic:
            raise ValueError(f"invalid topic name for PUBLISH: {topic!r}")
        packet_id = self._allocate(_Await.PUBACK if qos == 1 else _Await.PUBREC) if qos else 0
        body = _encode_string(topic)
        if qos:
            body += struct.pack("!H", packet_id)
        body += bytes(payload)
        self._out += _packet((PUBLISH << 4) | (qos << 1) | int(retain), body)
        return packet_id

    def subscribe(self, filters: Sequence[tuple[str, int]]) -> int:
        """Queue SUBSCRIBE for ``[(topic_filter, qos), ...]``; return its packet id."""
        self._require_session()
        if not filters:
            raise ValueError("SUBSCRIBE needs at least one topic filter")
        body = bytearray()
        for topic_filter, qos in filters:
            _check_qos(qos)
            if not topic_filter:
                raise ValueError("empty topic filter")
            body += _encode_string(topic_filter) + bytes([qos])
        packet_id = self._allocate(_Await.SUBACK)
        self._out += _packet((SUBSCRIBE << 4) | 0x02, struct.pack("!H", packet_id) + body)
        return packet_id

    def unsubscribe(self, topic_filters: Sequence[str]) -> int:
        """Queue UNSUBSCRIBE for the filters; return its packet id."""
        self._require_session()
        if not topic_filters:
            raise ValueError("UNSUBSCRIBE needs at least one topic filter")
        body = b"".join(_encode_string(t) for t in topic_filters)
        packet_id = self._allocate(_Await.UNSUBACK)
        self._out += _packet((UNSUBSCRIBE << 4) | 0x02, struct.pack("!H", packet_id) + body)
        return packet_id

    def ping(self) -> None:
        """Queue PINGREQ."""
        self._require_session()
        self._out += _packet(PINGREQ << 4)

    def disconnect(self) -> None:
        """Queue DISCONNECT; the protocol is closed afterwards."""
        self._require_session()
        self._out += _packet(DISCONNECT << 4)
        self._state = _State.CLOSED

    def _require_session(self) -> None:
        if self._state not in (_State.CONNECTING, _State.CONNECTED):
            raise LocalProtocolError(f"cannot send in state {self._state.value!r}")

    def _allocate(self, awaiting: _Await) -> int:
        """Next free packet id in 1..65535, never one still in flight."""
        if len(self._inflight) >= MAX_PACKET_ID:
            raise LocalProtocolError("all 65535 packet ids are in flight")
        candidate = self._last_id
        while True:
            candidate = candidate % MAX_PACKET_ID + 1
            if candidate not in self._inflight:
                break
        self._last_id = candidate
        self._inflight[candidate] = awaiting
        return candidate

    # ----------------------------------------------------------- inbound

    def receive_data(self, data: bytes) -> list[Event]:
        """Feed bytes from the network; return the events they complete.

        Accepts any split or coalescing of the stream. Malformed input yields
        one :class:`ProtocolError` and closes the protocol; later data is ignored.
        """
        if self._state is _State.CLOSED:
            return []
        self._in += data
        events: list[Event] = []
        while True:
            try:
                header = decode_remaining_length(self._in, 1) if self._in else None
                if header is None:
                    break
                length, size = header
                end = 1 + size + length
                if len(self._in) < end:
                    break
                first, body = self._in[0], bytes(self._in[1 + size:end])
                del self._in[:end]
                event = self._handle(first >> 4, first & 0x0F, body)
            except MalformedPacket as exc:
                event = ProtocolError(str(exc))
            if event is not None:
                events.append(event)
            if isinstance(event, ProtocolError):
                self._state = _State.CLOSED
            if self._state is _State.CLOSED:
                # closed by this packet (an error, a refused CONNECT): what follows in the
                # same chunk is ignored like any later data, whatever the split (found by fuzzing)
                self._in.clear()
                break
        return events

    def _handle(self, kind: int, flags: int, body: bytes) -> Event | None:
        if self._state is _State.NEW:
            raise MalformedPacket("data received before CONNECT was sent")
        if self._state is _State.CONNECTING and kind != CONNACK:
            raise MalformedPacket(f"expected CONNACK, got packet type {kind}")
        expected_flags = 0x02 if kind == PUBREL else 0
        if kind != PUBLISH and flags != expected_flags:
            raise MalformedPacket(f"packet type {kind} with reserved flags {flags:#x}")
        handler = self._HANDLERS.get(kind)
        if handler is None:
            raise MalformedPacket(f"packet type {kind} is not sent by a server")
        return handler(self, flags, body)

    def _on_connack(self, _flags: int, body: bytes) -> Event:
        if self._state is not _State.CONNECTING:
            raise MalformedPacket("unexpected CONNACK")
        if len(body) != 2:
            raise MalformedPacket("CONNACK length must be 2")
        ack_flags, code = body
        if self.version == "3.1.1" and ack_flags & 0xFE:
            raise MalformedPacket("CONNACK reserved flags set")
        if code:
            self._state = _State.CLOSED
            return ConnectRefused(code)
        self._state = _State.CONNECTED
        # MQTT 3.1 has no session-present flag (that byte is reserved).
        return Connected(session_present=self.version == "3.1.1" and bool(ack_flags & 1),
                         return_code=0)

    def _on_publish(self, flags: int, body: bytes) -> Event | None:
        qos, retain = (flags >> 1) & 0x03, bool(flags & 0x01)
        if qos == 3:
            raise MalformedPacket("PUBLISH with QoS 3")
        topic_end = 2 + _read_u16(body, 0, "PUBLISH topic length")
        if topic_end > len(body):
            raise MalformedPacket("PUBLISH topic longer than packet")
        try:
            topic = body[2:topic_end].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedPacket("PUBLISH topic is not UTF-8") from exc
        if not qos:
            return MessageReceived(topic, body[topic_end:], 0, retain, None)
        packet_id = _read_packet_id(body, topic_end, "PUBLISH")
        message = MessageReceived(topic, body[topic_end + 2:], qos, retain, packet_id)
        if qos == 1:
            self._out += _ack(PUBACK, packet_id)
            return message
        self._out += _ack(PUBREC, packet_id)
        if packet_id in self._inbound_qos2:
            return None  # a duplicate of a message already delivered
        self._inbound_qos2.add(packet_id)
        return message

    def _on_puback(self, _flags: int, body: bytes) -> Event | None:
        packet_id = _read_ack(body, "PUBACK")
        return self._finish(packet_id, _Await.PUBACK, PublishDone(packet_id))

    def _on_pubrec(self, _flags: int, body: bytes) -> Event | None:
        packet_id = _read_ack(body, "PUBREC")
        if self._inflight.get(packet_id) in (_Await.PUBREC, _Await.PUBCOMP):
            self._inflight[packet_id] = _Await.PUBCOMP
            self._out += _ack(PUBREL, packet_id, flags=0x02)
        return None

    def _on_pubrel(self, _flags: int, body: bytes) -> Event | None:
        packet_id = _read_ack(body, "PUBREL")
        self._inbound_qos2.discard(packet_id)
        self._out += _ack(PUBCOMP, packet_id)  # answered even for an unknown id
        return None

    def _on_pubcomp(self, _flags: int, body: bytes) -> Event | None:
        packet_id = _read_ack(body, "PUBCOMP")
        return self._finish(packet_id, _Await.PUBCOMP, PublishDone(packet_id))

    def _on_suback(self, _flags: int, body: bytes) -> Event | None:
        packet_id = _read_packet_id(body, 0, "SUBACK")
        granted = list(body[2:])
        if not granted or any(code not in (0, 1, 2, SUBACK_FAILURE) for code in granted):
            raise MalformedPacket(f"SUBACK with invalid return codes {granted}")
        return self._finish(packet_id, _Await.SUBACK, Subscribed(packet_id, granted))

    def _on_unsuback(self, _flags: int, body: bytes) -> Event | None:
        packet_id = _read_ack(body, "UNSUBACK")
        return self._finish(packet_id, _Await.UNSUBACK, Unsubscribed(packet_id))

    def _on_pingresp(self, _flags: int, body: bytes) -> Event:
        if body:
            raise MalformedPacket("PINGRESP with a body")
        return PingResponse()

    def _finish(self, packet_id: int, awaiting: _Await, event: Event) -> Event | None:
        """Release ``packet_id`` if it was waiting for this acknowledgement.

        Acknowledgements for ids that are not in flight (late or duplicated)
        are ignored.
        """
        if self._inflight.get(packet_id) is not awaiting:
            return None
        del self._inflight[packet_id]
        return event

    _HANDLERS = {
        CONNACK: _on_connack, PUBLISH: _on_publish, PUBACK: _on_puback, PUBREC: _on_pubrec,
        PUBREL: _on_pubrel, PUBCOMP: _on_pubcomp, SUBACK: _on_suback,
        UNSUBACK: _on_unsuback, PINGRESP: _on_pingresp,
    }


def _ack(kind: int, packet_id: int, flags: int = 0) -> bytes:
    return _packet((kind << 4) | flags, struct.pack("!H", packet_id))


def _read_u16(body: bytes, offset: int, what: str) -> int:
    if offset + 2 > len(body):
        raise MalformedPacket(f"{what} truncated")
    return struct.unpack_from("!H", body, offset)[0]


def _read_packet_id(body: bytes, offset: int, what: str) -> int:
    packet_id = _read_u16(body, offset, f"{what} packet id")
    if packet_id == 0:
        raise MalformedPacket(f"{what} with packet id 0")
    return packet_id


def _read_ack(body: bytes, what: str) -> int:
    if len(body) != 2:
        raise MalformedPacket(f"{what} length must be 2")
    return _read_packet_id(body, 0, what)
