"""The module's CoAP client: an aiocoap context whose requests can be abandoned.

A request the module gives up on (its AT-level ``TIMEOUT`` ran out) must be gone
for good, as on a real module: nothing of it may stay on the wire or in the way of
the next request. aiocoap 0.4.17 does not do that on its own (upstream issue
chrysn/aiocoap#363): cancelling a request's ``response`` future only forgets its
token, while the message layer keeps retransmitting the confirmable message (up to
MAX_RETRANSMIT times, about 45 s) and, one exchange at a time per server
(NSTART = 1), holds every later request to that server back behind it.

:class:`CoapClient` is an ``aiocoap.Context`` whose single (non-blockwise) requests
are :class:`Exchange` objects. Cancelling an exchange's ``response`` (what
``asyncio.wait_for`` does on a timeout, directly or through aiocoap's blockwise
runner) abandons it on both layers:

- the token layer: the exchange ends its interest in its pipe, so aiocoap forgets
  the token; a reply arriving later is not matched (a piggybacked ACK is dropped,
  a separate response is answered with RST);
- the message layer: the exchange is taken out of the retransmission state (or out
  of the queue of messages waiting for their turn), and the next queued message to
  that server is sent at once.

A reply that lands between the cancellation and its callbacks (issue 10 defect 8:
aiocoap's own request then called ``set_result`` on the cancelled future,
``InvalidStateError``) is dropped: an exchange only completes a future still pending.
"""

from __future__ import annotations

import asyncio

import aiocoap
from aiocoap.messagemanager import MessageManager
from aiocoap.pipe import Pipe


class Exchange:
    """One request and its one response (aiocoap's ``Request`` without observation)."""

    observation = None       # what aiocoap's blockwise runner looks at; no Observe here

    def __init__(self, context: aiocoap.Context, message: aiocoap.Message) -> None:
        self.response: asyncio.Future[aiocoap.Message] = context.loop.create_future()
        self._pipe = Pipe(message, context.log)
        self._stop_interest = self._pipe.on_event(self._on_event)
        self._manager: MessageManager | None = None
        self._sending = context.loop.create_task(self._send(context), name=f"CoAP exchange {message}")
        self.response.add_done_callback(self._on_done)

    async def _send(self, context: aiocoap.Context) -> None:
        try:
            interface = await context.find_remote_and_interface(self._pipe.request)
        except Exception as error:
            self._pipe.add_exception(error)
            return
        manager = getattr(interface, "token_interface", None)
        self._manager = manager if isinstance(manager, MessageManager) else None
        interface.request(self._pipe)     # puts it on the wire, or in the queue for the server

    def _on_event(self, event: Pipe.Event) -> bool:
        if not self.response.done():     # else abandoned: a late reply is dropped here
            if event.message is not None:
                event.message.request = self._pipe.request
                self.response.set_result(event.message)
            elif event.exception is not None:
                self.response.set_exception(event.exception)
        return False                     # one response is all: the pipe ends, the token is forgotten

    def _on_done(self, response: asyncio.Future) -> None:
        if response.cancelled():
            self.abandon()
        else:
            response.exception()         # read: no "never retrieved" warning if nobody awaits it

    def abandon(self) -> None:
        """Forget the request on every layer (idempotent)."""
        self._sending.cancel()
        self._stop_interest()
        if self._manager is not None:
            abandon_exchange(self._manager, self._pipe.request)


def abandon_exchange(manager: MessageManager, message: aiocoap.Message) -> None:
    """Stop retransmitting ``message`` (a CON sent by ``manager``) or drop it from the
    queue of messages waiting for their turn; the next queued one is sent at once.

    aiocoap has no public call for this (its message layer returns no canceller for a
    sent message): this uses its message manager's own bookkeeping, checked against
    the pinned aiocoap 0.4.17 by the CoAP tests of tests/faults/test_net_faults.py."""
    exchanges = manager._active_exchanges
    if exchanges is None or message.mid is None:       # shut down, or never sent
        return
    if (message.remote, message.mid) in exchanges:
        manager._remove_exchange(message)    # cancels the retransmission timer, continues the queue
        return
    waiting = manager._backlogs.get(message.remote)
    if waiting:
        waiting[:] = [entry for entry in waiting if entry[0] is not message]


class CoapClient(aiocoap.Context):
    """A client context (``await CoapClient.create_client_context()``) whose requests
    are abandoned completely when their ``response`` is cancelled."""

    def request(self, request_message: aiocoap.Message, handle_blockwise: bool = True):
        if handle_blockwise or request_message.opt.observe is not None:
            return super().request(request_message, handle_blockwise)
        return Exchange(self, request_message)
