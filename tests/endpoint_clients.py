"""Independent clients of the cloud's endpoints, shared by the test areas (cloud,
security, module).

Fixtures (loaded for every test by ``tests/conftest.py``): ``dev_a`` and ``dev_b``,
two devices registered in ``cloud``; ``paho``, a factory of paho-mqtt clients;
``observer``, a paho client logged in as the cloud's service user; ``coap``, an
aiocoap client context; ``http``, an aiohttp session. Each is closed at
teardown, before the cloud stops. ``no_leftover_tasks`` checks, at its teardown,
that no asyncio task is left running.

Helpers, imported as ``from endpoint_clients import ...``: :func:`need` and
:func:`run` for the command-line clients (mosquitto_pub/sub, libcoap's
coap-client-notls), :func:`auth_body` for a device's ``/auth`` request and
:func:`coap_request` for one aiocoap request. They speak the protocols as written,
not through the module's or the cloud's code. And, for the module's side,
:func:`held_http_server`: an HTTP endpoint that holds every answer until released.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiocoap
import aiohttp
import paho.mqtt.client as mqtt
import pytest
from aiocoap.optiontypes import StringOption

from pysim.devauth import DeviceCredentials, mqtt_connect_fields
from pysim.peers import TIMEOUT, PahoClient, service_client

TOKEN_OPTION = 2088          # the CoAP option carrying the token (DECISIONS)
REFUSED = (134, 135)         # paho 2's names for MQTT 3 CONNACK 4 and 5


# ---- fixtures ---------------------------------------------------------------------------

@pytest.fixture
def dev_a(cloud) -> DeviceCredentials:
    """A registered device (in the security tests: the victim)."""
    return cloud.registry.add("a1PKalpha", "dev-a", "secret-a-0123456789")


@pytest.fixture
def dev_b(cloud) -> DeviceCredentials:
    """Another registered device (in the security tests: the attacker, with valid credentials of its own)."""
    return cloud.registry.add("a1PKbeta", "dev-b", "secret-b-0123456789")


@pytest.fixture
async def paho(cloud):
    """Factory of PahoClients (a device's fields, or explicit ones); every one made is
    closed at teardown."""
    made: list[PahoClient] = []

    def make(creds: DeviceCredentials | None = None, *, username: str | None = None,
             password: str | None = None, client_id: str | None = None, clean_session: bool = True,
             protocol: int = mqtt.MQTTv311) -> PahoClient:
        if creds is not None:
            client_id, username, password = mqtt_connect_fields(creds)
        client = PahoClient(client_id or f"test-{len(made)}", username, password, protocol,
                            clean_session=clean_session)
        made.append(client)
        return client

    try:
        yield make
    finally:
        for client in made:
            await client.close()


@pytest.fixture
async def observer(cloud):
    """A paho client connected as the cloud's service user (any topic)."""
    client = await service_client(cloud, client_id="test-observer")
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def coap():
    """An aiocoap client context."""
    context = await aiocoap.Context.create_client_context()
    try:
        yield context
    finally:
        await context.shutdown()


@pytest.fixture
async def http():
    """An aiohttp client session."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def no_leftover_tasks():
    """Checks, at teardown, that no asyncio task but the current one is left running.

    Request it before ``cloud`` (``def cloud(no_leftover_tasks, cloud)``) so that the
    check runs after the cloud has stopped."""
    yield
    current = asyncio.current_task()
    leftovers = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    assert not leftovers, f"tasks left running after Cloud.stop(): {leftovers}"


# ---- helpers ----------------------------------------------------------------------------

def need(binary: str) -> str:
    """The path of a command-line client; the test is skipped, saying how to install it, without it."""
    path = shutil.which(binary)
    if path is None:
        pytest.skip(f"{binary} is not installed (Debian: apt-get install mosquitto-clients libcoap3-bin)")
    return path


async def run(*argv: str) -> tuple[int, str, str]:
    """Run a command-line client to its end (killed after TIMEOUT): exit code, stdout, stderr."""
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def auth_body(creds: DeviceCredentials, sign: str | None = None, **extra: str) -> dict:
    """A device's ``/auth`` request body (CoAP and HTTP): its own sign unless ``sign`` is given."""
    return {"productKey": creds.product_key, "deviceName": creds.device_name, "clientId": creds.client_id,
            **extra, "sign": creds.sign() if sign is None else sign, "signmethod": "hmacsha1"}


async def coap_request(context: aiocoap.Context, cloud, code: aiocoap.Code, path: str, payload: bytes = b"",
                       token: str | None = None) -> aiocoap.Message:
    """One confirmable request to the cloud's ``path``, the token (if any) in its option;
    the response within TIMEOUT."""
    message = aiocoap.Message(code=code, uri=cloud.addresses["coap"] + path, payload=payload,
                              transport_tuning=aiocoap.Reliable)
    if token is not None:
        message.opt.add_option(StringOption(TOKEN_OPTION, token))
    return await asyncio.wait_for(context.request(message).response, TIMEOUT)


@asynccontextmanager
async def held_http_server() -> AsyncIterator[tuple[str, asyncio.Event]]:
    """An HTTP server on 127.0.0.1 that answers every request (``{"code":0}``) only once
    the event is set: ``async with held_http_server() as (url, release)``. Leaving
    sets it and closes the server."""
    from aiohttp import web
    release = asyncio.Event()

    async def held(request: web.Request) -> web.Response:
        await release.wait()
        return web.json_response({"code": 0})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", held)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", release
    finally:
        release.set()
        await runner.cleanup()
