"""Defect 8 (issue 10): a CoAP reply arriving just after the module's timeout.

aiocoap's response future was cancelled by the module's timeout; a reply read in the
next loop turn, before aiocoap's cancellation callback had run, made aiocoap call
``set_result`` on the cancelled future: ``InvalidStateError`` raised inside the UDP
receive callback (seen with 32 devices starting together). The loop stalls are placed
deterministically around the deadline, as a loaded machine places them at random."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time

from peripherals.ica import IcaModule, ModuleConfig
from pysim.events import EventLog
from pysim.te import AtClient

TIMEOUT = 1.0


class SlowCoapResponder(threading.Thread):
    """A UDP CoAP server in its own thread: ``/auth`` answered at once with a token,
    ``/topic/...`` (the TE's requests) ``delay`` s late, anything else (the module's OTA
    poll) 4.04 at once; all as piggybacked ACKs."""

    def __init__(self, loop: asyncio.AbstractEventLoop, on_request, delay: float) -> None:
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.loop, self.on_request, self.delay = loop, on_request, delay
        self.stop = threading.Event()
        self.late_reply_sent = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                data, peer = self.sock.recvfrom(2048)
            except socket.timeout:
                continue
            tkl = data[0] & 0x0F
            mid, token = data[2:4], data[4:4 + tkl]
            options = data[4 + tkl:].split(b"\xff", 1)[0]
            ack = bytes([0x60 | tkl])
            if b"auth" in options:
                self.sock.sendto(ack + b"\x45" + mid + token + b'\xff{"token":"t0k3n"}', peer)
            elif b"topic" in options:
                self.loop.call_soon_threadsafe(self.on_request, time.monotonic())
                time.sleep(self.delay)
                self.sock.sendto(ack + b"\x45" + mid + token + b"\xfflate", peer)
                self.late_reply_sent.set()
            else:
                self.sock.sendto(ack + b"\x84" + mid + token, peer)

    def close(self) -> None:
        self.stop.set()
        self.join()
        self.sock.close()


async def test_reply_racing_the_timeout_is_dropped_quietly(caplog):
    loop = asyncio.get_running_loop()
    problems: list[str] = []
    loop.set_exception_handler(lambda _l, context: problems.append(context.get("message", "")))

    def arm_stalls(arrival: float) -> None:
        # stall 1 spans the module's deadline, so its timeout and the timer below fire in
        # one loop turn; the timer queues stall 2 behind the task that the timeout wakes
        # (it cancels aiocoap's future), and the late reply lands during stall 2: it is
        # read before aiocoap's cancellation callbacks have all run
        loop.call_at(arrival + TIMEOUT - 0.1, time.sleep, 0.15)
        loop.call_at(arrival + TIMEOUT + 0.02, loop.call_soon, time.sleep, 0.25)

    responder = SlowCoapResponder(loop, arm_stalls, delay=TIMEOUT + 0.1)
    responder.start()
    config = ModuleConfig(echo=False, coap_url=f"coap://127.0.0.1:{responder.port}")
    module = IcaModule(config, events=EventLog())
    at = AtClient(module.feed)
    module.on_output = at.feed
    try:
        await at.expect_ok('AT+ICOAPARA="TIMEOUT",1')
        await at.expect_ok('AT+ICOAPAUTH="pk","dn","secret"')
        assert (await at.wait_urc("+ICOAPAUTH")).text == "+ICOAPAUTH:OK"
        reply = await at.expect_ok('AT+ICOAPSENDREQ=2,"/pk/dn/user/t","x"')
        token = reply.line("+ICOAPSENDREQ").fields[0]
        result = await at.wait_urc("+ICOAPSENDREQ", lambda line: line.fields == [token, "1"])
        assert result.fields == [token, "1"]          # the module timed out: status 1
        await asyncio.to_thread(responder.late_reply_sent.wait, 10)
        for _ in range(5):                            # the loop turns that read the late reply
            await asyncio.sleep(0.01)
    finally:
        await module.stop()
        responder.close()
        loop.set_exception_handler(None)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not problems and not errors, (problems, errors)
