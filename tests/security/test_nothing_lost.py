"""Nothing lost (issue 10): with CLEAN=0 and QoS 1 and 2, exact message accounting across
10 broker restarts and 10 module reboots, in both directions, checked by an independent
paho-mqtt client with a persistent session of its own.

Down (cloud -> module): the paho client publishes while the module is online, offline
after a reboot, and around broker restarts; the module's TE must see every message (QoS 2
exactly once). Up (module -> cloud): every message the TE was told was delivered
(``+IMQTTPUB:<id>,0``) must reach the paho client (QoS 2 exactly once); a publish the
module reports as failed is sent again by the TE, as a TE would."""

from __future__ import annotations

import collections

from pysim.events import kind_is
from pysim.peers import PahoClient

CYCLES = 20          # alternately a broker restart and a module reboot: 10 of each
PER_STEP = 5         # messages per direction per step


class Te:
    """The scripted TE: brings MQTT up with CLEAN=0 and counts what it receives."""

    def __init__(self, at, device, down_topic: str) -> None:
        self.at, self.device, self.down_topic = at, device, down_topic
        self.received: collections.Counter[bytes] = collections.Counter()

    async def online(self, *, authenticate: bool, subscribe: bool = False) -> None:
        at = self.at
        if authenticate:
            await at.expect_ok("ATE0")
            await at.expect_ok("AT+IMQTTAUTH")          # the stored credentials (sealed in NV)
            assert (await at.wait_urc("+IMQTTAUTH")).text == "+IMQTTAUTH:OK"
        await at.expect_ok('AT+IMQTTPARA="CLEAN",0')
        await at.expect_ok("AT+IMQTTCONN")
        assert (await at.wait_urc("+IMQTTSTATE")).text == "+IMQTTSTATE:2"
        if subscribe:
            await at.expect_ok(f'AT+IMQTTSUB="{self.down_topic}",2')
            assert (await at.wait_urc("+IMQTTSUB")).fields[1] == "2"

    async def wait_received(self, payloads: set[bytes]) -> None:
        while not payloads <= set(self.received):
            urc = await self.at.wait_urc("+IMQTTRCVPUB", timeout=10)
            self.received[urc.payload] += 1

    async def publish(self, topic: str, payload: bytes, qos: int) -> None:
        """Publish until the module reports it delivered (status 0)."""
        while True:
            response = await self.at.expect_ok(f'AT+IMQTTPUB="{topic}",{qos},"{payload.decode()}"')
            packet_id = response.line("+IMQTTPUB").fields[0]
            result = await self.at.wait_urc("+IMQTTPUB", lambda line: line.fields[0] == packet_id, timeout=20)
            if result.fields[1] == "0":
                return


async def test_exact_accounting_across_restarts_and_reboots(cloud, device, module_factory):
    down = f"/{device.product_key}/{device.device_name}/user/down"
    up = f"/{device.product_key}/{device.device_name}/user/up"
    peer = PahoClient("accountant", "service", cloud.service_password, clean_session=False)
    try:
        assert await peer.connect(cloud.addresses["mqtt"]) == 0
        assert await peer.subscribe(up, 2) == [2]
        m = await module_factory(echo=False)
        await m.at.expect_ok(f'AT+IMQTTAUTH="{device.product_key}","{device.device_name}","{device.device_secret}"')
        assert (await m.at.wait_urc("+IMQTTAUTH")).text == "+IMQTTAUTH:OK"
        te = Te(m.at, device, down)
        await te.online(authenticate=False, subscribe=True)
        sent_down: list[tuple[bytes, int]] = []
        sent_up: list[tuple[bytes, int]] = []
        restarts = reboots = 0

        async def publish_down(step: str, qos: int) -> None:
            for n in range(PER_STEP):
                payload = b"down-%s-%d-q%d" % (step.encode(), n, qos)
                await peer.publish(down, payload, qos)
                sent_down.append((payload, qos))

        for cycle in range(CYCLES):
            qos = 1 + cycle % 2
            await publish_down(f"{cycle}on", qos)              # while the module is online
            for n in range(PER_STEP):
                payload = b"up-%d-%d-q%d" % (cycle, n, qos)
                await te.publish(up, payload, qos)
                sent_up.append((payload, qos))
            await te.wait_received({p for p, _ in sent_down})
            if cycle % 2 == 0:                                 # a broker restart
                peer_connects = kind_is("mqtt.connect", client_id="accountant")
                connects = len(cloud.events.find(peer_connects))
                await cloud.restart()
                restarts += 1
                assert (await m.at.wait_urc("+IMQTTSTATE", timeout=20)).text == "+IMQTTSTATE:0"
                # the paho client reconnects by itself (its persistent session is back)
                await cloud.events.wait_for(lambda e: peer_connects(e)
                                            and len(cloud.events.find(peer_connects)) > connects, 20)
                await publish_down(f"{cycle}restart", qos)     # queued for the module's session
                await te.online(authenticate=False)
            else:                                              # a module reboot
                ready = len(cloud.events.find(kind_is("module.ready")))
                await m.at.expect_ok("AT+IREBOOT=0")
                await cloud.events.wait_for(lambda e: e.kind == "module.ready"
                                            and len(cloud.events.find(kind_is("module.ready"))) > ready, 20)
                reboots += 1
                await publish_down(f"{cycle}reboot", qos)      # queued while the module is down
                await te.online(authenticate=True)
        await te.wait_received({p for p, _ in sent_down})

        got_up: collections.Counter[bytes] = collections.Counter()
        while not {p for p, _ in sent_up} <= set(got_up):
            try:
                got_up[(await peer.next_message(timeout=10)).payload] += 1
            except TimeoutError:
                break                                          # counted as lost below
    finally:
        await peer.close()

    assert (restarts, reboots) == (10, 10)
    lost_down = [p for p, _ in sent_down if p not in te.received]
    dup_down_qos2 = [p for p, q in sent_down if q == 2 and te.received[p] != 1]
    lost_up = [p for p, _ in sent_up if p not in got_up]
    dup_up_qos2 = [p for p, q in sent_up if q == 2 and got_up[p] != 1]
    print(f"down: {len(sent_down)} sent, {sum(te.received.values())} received, {len(lost_down)} lost, "
          f"{len(dup_down_qos2)} QoS 2 duplicates; up: {len(sent_up)} sent, {sum(got_up.values())} received, "
          f"{len(lost_up)} lost, {len(dup_up_qos2)} QoS 2 duplicates")
    assert not lost_down and not dup_down_qos2 and not lost_up and not dup_up_qos2
    assert set(te.received) == {p for p, _ in sent_down} and set(got_up) == {p for p, _ in sent_up}
