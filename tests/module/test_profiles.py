"""Compatibility profiles (peripherals/ica/profiles.py), each tested with a TE written
to behave as the MCU-side client it serves: Alibaba SDK 2.x (mdal_ica_at_client.c)
and 3.x (mqtt_ica.c). The spec's behaviour stays the default, and the same TEs
fail against it the way the issue describes."""

from __future__ import annotations

import asyncio

import pytest

from peripherals.ica import ModuleConfig


class SdkTe:
    """A TE as the SDK clients are: no ATE0, the first line after a command is its
    reply, results matched by name in order (not by id), only ``"`` escaped."""

    def __init__(self, module, connected_state: int) -> None:
        self.module = module
        self.connected_state = connected_state
        self.lines: asyncio.Queue[str] = asyncio.Queue()
        self._buf = b""
        self.publishes: list[int] = []      # ids of publishes awaiting a result, oldest first
        self.results: list[int] = []        # each publish's return code, in order
        module.on_output = self._feed

    def _feed(self, data: bytes) -> None:
        self._buf += data
        *lines, self._buf = self._buf.split(b"\r\n")
        for line in lines:
            if line:
                self.lines.put_nowait(line.decode("latin-1"))

    @staticmethod
    def quote(text: str) -> str:
        return '"' + text.replace('"', '\\"') + '"'

    async def line(self, timeout: float = 5.0) -> str:
        """The next line that is no publish result; results are matched by name, in order."""
        while True:
            line = await asyncio.wait_for(self.lines.get(), timeout)
            if line.startswith("+IMQTTPUB:") and "," in line:
                if not self.publishes:
                    raise AssertionError(f"{line!r}: a result with no publish waiting for one")
                self.publishes.pop(0)
                self.results.append(int(line.split(",")[1]))
                continue
            return line

    async def send(self, command: str) -> str:
        """Send; the first line that comes is the reply (an echo would be taken for it)."""
        self.module.feed(command.encode("latin-1") + b"\r")
        return await self.line()

    async def expect(self, command: str, reply: str) -> None:
        got = await self.send(command)
        assert got == reply, f"{command!r}: the SDK reads {got!r} as the reply"

    async def wait_for(self, prefix: str) -> str:
        while not (line := await self.line()).startswith(prefix):
            pass
        return line

    async def settle(self, quiet: float = 0.3) -> None:
        """Read what comes until the module is quiet: results of earlier publishes."""
        try:
            while True:
                line = await self.line(timeout=quiet)
                raise AssertionError(f"unexpected line {line!r}")
        except asyncio.TimeoutError:
            pass

    async def online(self, device) -> None:
        await self.expect(f"AT+IMQTTAUTH={self.quote(device.product_key)},{self.quote(device.device_name)},"
                          f"{self.quote(device.device_secret)}", "OK")
        await self.wait_for("+IMQTTAUTH:OK")
        await self.expect("AT+IMQTTCONN", "OK")
        await self.wait_for(f"+IMQTTSTATE:{self.connected_state}")

    async def publish(self, topic: str, qos: int, message: str) -> None:
        reply = await self.send(f"AT+IMQTTPUB={self.quote(topic)},{qos},{self.quote(message)}")
        assert reply.startswith("+IMQTTPUB:") and "," not in reply, reply
        assert await self.line() == "OK"
        if qos == 0:
            self.results.append(0)            # complete on the id line
        else:
            self.publishes.append(int(reply.split(":")[1]))


TRICKY = ['a\\\\b', 'x\\"', 'C:\\dir "q"']     # backslashes and quotes as the SDKs send them


async def online_sdk_te(module_factory, device, observer, connected_state: int, **options) -> tuple[SdkTe, str]:
    """An SDK-like TE on a module made with ``options``, online; the topic the observer reads."""
    topic = f"/{device.product_key}/{device.device_name}/user/telemetry"
    assert await observer.subscribe(topic, 1) == [1]
    m = await module_factory(**options)
    te = SdkTe(m.module, connected_state)
    await te.online(device)
    return te, topic


async def test_sdk2_client_works_unchanged_under_its_profile(module_factory, device, observer):
    te, topic = await online_sdk_te(module_factory, device, observer, 2, profile="sdk2")
    reply = await te.send(f'AT+IMQTTSUB="/{device.product_key}/{device.device_name}/user/command",1')
    assert reply.startswith("+IMQTTSUB:") and await te.line() == "OK"
    await te.wait_for("+IMQTTSUB:")                      # its result
    for message in TRICKY:
        await te.publish(topic, 0, message)
    await te.publish(topic, 1, "last")
    got = [(await observer.next_message()).payload for _ in range(4)]
    assert got == [t.encode() for t in TRICKY] + [b"last"]
    await te.settle()
    assert te.results == [0, 0, 0, 0] and not te.publishes


async def test_sdk2_client_shifts_results_under_the_spec(module_factory, device, observer):
    # echo aside (as if the SDK had sent ATE0), the spec's QoS 0 result confuses it
    te, topic = await online_sdk_te(module_factory, device, observer, 2, echo=False)
    await te.publish(topic, 0, "one")
    with pytest.raises(AssertionError, match="a result with no publish waiting"):
        await te.settle()


async def test_sdk3_client_works_unchanged_under_its_profile(module_factory, device, observer):
    te, topic = await online_sdk_te(module_factory, device, observer, 1, profile="sdk3")
    assert await te.send("AT+IMQTTSTATE?") == "+IMQTTSTATE:1"
    assert await te.line() == "OK"
    await te.publish(topic, 1, TRICKY[2])
    assert (await observer.next_message()).payload == TRICKY[2].encode()
    await te.settle()
    assert te.results == [0] and not te.publishes


async def test_the_spec_default_is_what_the_sdk_clients_trip_over(module_factory, device):
    m = await module_factory()
    assert m.module.config.profile == "spec"
    te = SdkTe(m.module, connected_state=1)
    got = await te.send('AT+IMQTTPARA="TIMEOUT",2')
    assert got == 'AT+IMQTTPARA="TIMEOUT",2\r'           # the echo, taken for the reply
    assert await te.line() == "OK"
    await te.expect("ATE0", "ATE0\r")
    assert await te.line() == "OK"
    # a backslash before an escaped quote ends the string early under the spec's rules
    await te.expect(f'AT+IMQTTPUB="/t",0,{te.quote(TRICKY[1])}', "+CME ERROR:50")
    # SDK 3.x waits for +IMQTTSTATE:1; the spec reports 2
    await te.expect(f"AT+IMQTTAUTH={te.quote(device.product_key)},{te.quote(device.device_name)},"
                    f"{te.quote(device.device_secret)}", "OK")
    await te.wait_for("+IMQTTAUTH:OK")
    await te.expect("AT+IMQTTCONN", "OK")
    assert await te.wait_for("+IMQTTSTATE:") == "+IMQTTSTATE:2"


def test_an_unknown_profile_is_one_clear_error():
    with pytest.raises(ValueError, match="unknown module profile 'sdk9': use one of spec, sdk2, sdk3"):
        ModuleConfig(profile="sdk9")
