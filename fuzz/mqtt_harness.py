"""The MQTT codec harness: any bytes from a "broker" into the sans-I/O client protocol.

Invariants: ``receive_data`` never raises, whatever the bytes and their split; the
events of a stream do not depend on how it is split; after a ``ProtocolError`` the
protocol is closed and ignores what follows; the receive buffer never holds more
than one packet in the making (memory bounded by ``MAX_PACKET``).
"""

from __future__ import annotations

from dataclasses import dataclass

from peripherals.ica.net.mqtt_codec import MqttClientProtocol, ProtocolError

CONNACK_OK = b"\x20\x02\x00\x00"


class InvariantBroken(AssertionError):
    """An invariant of the MQTT codec does not hold for an input."""


@dataclass
class Counts:
    inputs: int = 0
    events: int = 0
    protocol_errors: int = 0


def _protocol(mode: int) -> MqttClientProtocol:
    """A client after CONNECT (mode 0), connected (1), or connected with operations in flight (2)."""
    proto = MqttClientProtocol("3.1.1" if mode % 2 == 0 else "3.1")
    proto.connect("fuzz", username="u", password="p", clean_session=False, keepalive=60)
    if mode >= 1:
        proto.receive_data(CONNACK_OK)
    if mode >= 2:
        proto.publish("/t", b"x", 1)
        proto.publish("/t", b"y", 2)
        proto.subscribe([("/t/#", 1)])
        proto.unsubscribe(["/t/#"])
    proto.data_to_send()
    return proto


def _describe(events) -> list[str]:
    return [repr(e) for e in events]


class MqttHarness:
    def __init__(self) -> None:
        self.counts = Counts()

    def run(self, data: bytes) -> None:
        """First byte: start state and chunk size; the rest: bytes from the broker."""
        self.counts.inputs += 1
        if not data:
            return
        mode, chunk = data[0] % 3, 1 + data[0] // 3
        body = data[1:]
        whole = _protocol(mode)
        try:
            expected = whole.receive_data(body)
        except Exception as error:
            raise InvariantBroken(f"receive_data raised {error!r} on {body[:80]!r}") from error
        pieces = _protocol(mode)
        got = []
        for i in range(0, len(body), chunk):
            got += pieces.receive_data(body[i:i + chunk])
            if len(pieces._in) > len(body):
                raise InvariantBroken("receive buffer larger than the input")
        if _describe(got) != _describe(expected):
            raise InvariantBroken(f"events depend on the split ({chunk}): {expected[:3]} vs {got[:3]}")
        errors = [e for e in expected if isinstance(e, ProtocolError)]
        if errors and (expected[-1] is not errors[0] or not whole.closed or whole.receive_data(CONNACK_OK)):
            raise InvariantBroken("a ProtocolError must be the last event and close the protocol")
        self.counts.events += len(expected)
        self.counts.protocol_errors += len(errors)
