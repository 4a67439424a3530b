"""``Mosquitto``: Debian's mosquitto broker as the fleet's cloud, with device auth and a
per-device topic ACL generated from a device registry.

The password file holds one ``<user>:$6$<salt>$<hash>`` line a user: ``<salt>`` is 12
random bytes and ``<hash>`` SHA-512 over ``password + salt``, both base64 (the format
``mosquitto_passwd`` wrote before 2.0 and mosquitto 2 still reads). A device's user is
``<dn>&<pk>`` and its password its sign (``DeviceCredentials.sign()``, the same the
module sends); the service user ``service`` may use every topic. The ACL file gives
each device read/write on its own topics only (``/<pk>/<dn>/#``, ``/sys/<pk>/<dn>/#``,
``/ota/device/+/<pk>/<dn>``): anything else is refused (a SUBACK 0x80, a publish dropped).
Both files are 0600 in a 0700 directory that ``stop()`` removes.

The client identifier is bound to the device by ``use_username_as_clientid true``
(``bind_client_id``, the default): mosquitto replaces every client's identifier with
its user name, so a device that signs in with its own credentials but another device's
client identifier gets a session of its own (``<dn>&<pk>``), never the other device's
(and never disconnects it). The price: a device has one session whatever client
identifier it sends, so the clean connection ``AT+IMQTTAUTH`` makes to check the
credentials (``check=1``) shares it with the device's connection (docs/fleet.md).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import pwd
import secrets
import shutil
import socket
import tempfile
from collections.abc import Iterable
from pathlib import Path

from pysim.devauth import DeviceCredentials

from pysim.orphans import signal_when_parent_dies

MOSQUITTO = "/usr/sbin/mosquitto"
SERVICE_USER = "service"


class MosquittoUnavailable(RuntimeError):
    pass


def password_line(user: str, password: str, salt: bytes | None = None) -> str:
    """One line of a mosquitto password file (``$6$``: SHA-512 of password + salt)."""
    salt = salt if salt is not None else secrets.token_bytes(12)
    digest = hashlib.sha512(password.encode() + salt).digest()
    return f"{user}:$6${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def device_user(creds: DeviceCredentials) -> str:
    return f"{creds.device_name}&{creds.product_key}"


def acl_text(devices: Iterable[DeviceCredentials]) -> str:
    lines = [f"user {SERVICE_USER}", "topic readwrite #", ""]
    for creds in devices:
        pk, dn = creds.product_key, creds.device_name
        lines += [f"user {device_user(creds)}", f"topic readwrite /{pk}/{dn}/#", f"topic readwrite /sys/{pk}/{dn}/#",
                  f"topic readwrite /ota/device/+/{pk}/{dn}", ""]
    return "\n".join(lines)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to a new file only its owner may read (0600 from its creation)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


class Mosquitto:
    """A mosquitto process on ``host:port`` (0: a free port) that knows ``devices``.

    ``addresses`` is ``{"mqtt": "mqtt://H:P"}`` once started; ``service_password`` the
    service user's password."""

    def __init__(self, devices: Iterable[DeviceCredentials], host: str = "127.0.0.1", port: int = 0,
                 service_password: str | None = None, executable: str = MOSQUITTO,
                 bind_client_id: bool = True) -> None:
        self.devices = list(devices)
        self.bind_client_id = bind_client_id
        self.host = host
        self.port = port
        self.service_password = service_password or secrets.token_urlsafe(16)
        self.executable = executable
        self.proc: asyncio.subprocess.Process | None = None
        self.dir: Path | None = None

    @staticmethod
    def why_unavailable(executable: str = MOSQUITTO) -> str | None:
        if not (Path(executable).is_file() or shutil.which(executable)):
            return f"{executable} not found: install Debian's mosquitto package"
        return None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def addresses(self) -> dict[str, str]:
        return {"mqtt": self.url}

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def write_files(self, directory: Path) -> Path:
        """Write the password, ACL and configuration files; the configuration's path."""
        users = [password_line(SERVICE_USER, self.service_password)]
        users += [password_line(device_user(c), c.sign()) for c in self.devices]
        write_private(directory / "passwd", "\n".join(users) + "\n")
        write_private(directory / "acl", acl_text(self.devices))
        config = "\n".join([
            # started as root, mosquitto would become user `mosquitto` and not read our 0600 files
            f"user {pwd.getpwuid(os.getuid()).pw_name}", "per_listener_settings false", "allow_anonymous false",
            f"password_file {directory / 'passwd'}", f"acl_file {directory / 'acl'}",
            f"listener {self.port} {self.host}", "max_connections -1", "persistence false",
            # a client's identifier is its user name: no session of another device (issue 10, defect 1)
            f"use_username_as_clientid {'true' if self.bind_client_id else 'false'}",
            # room for all a slow client has to catch up on: an observer that falls behind
            # shows as latency, not as messages lost (0, "no limit", made mosquitto 2.0.11
            # fail QoS 1 publishes: tests/fleet/test_fleet.py caught it)
            "max_queued_messages 1000000", "max_inflight_messages 100", "set_tcp_nodelay true",
            "log_dest stderr", "log_type error", "log_type warning", ""])
        write_private(directory / "mosquitto.conf", config)
        return directory / "mosquitto.conf"

    async def start(self, timeout: float = 10.0) -> None:
        reason = self.why_unavailable(self.executable)
        if reason:
            raise MosquittoUnavailable(reason)
        if self.port == 0:
            self.port = free_port(self.host)
        self.dir = Path(tempfile.mkdtemp(prefix="pysim-mosquitto-"))   # 0700
        config = self.write_files(self.dir)
        with open(self.dir / "log", "wb") as log:   # read back only when it fails to start
            self.proc = await asyncio.create_subprocess_exec(
                self.executable, "-c", str(config), stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL, stderr=log, start_new_session=True,
                preexec_fn=signal_when_parent_dies)   # no orphan broker (orphans.py)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self.proc.returncode is not None:
                code, log = self.proc.returncode, (self.dir / "log").read_text(errors="replace").strip()
                await self.stop()
                raise MosquittoUnavailable(f"mosquitto exited with {code}: {log.splitlines()[-1] if log else ''}")
            try:
                _, writer = await asyncio.open_connection(self.host, self.port)
                writer.close()
                await writer.wait_closed()
                return
            except OSError:
                if loop.time() > deadline:
                    await self.stop()
                    raise MosquittoUnavailable(f"mosquitto did not listen on {self.url} within {timeout:g} s")
                await asyncio.sleep(0.02)

    async def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 5)
            except asyncio.TimeoutError:
                proc.kill()
                await proc.wait()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    async def __aenter__(self) -> "Mosquitto":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
