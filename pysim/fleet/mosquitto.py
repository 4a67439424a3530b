"""An external broker for fleets: Debian's mosquitto, started with a password file and a
per-device topic ACL generated from the cloud's device registry."""

from __future__ import annotations

import asyncio
import getpass
import shutil
import tempfile
from pathlib import Path

from peripherals.ica.devauth import DeviceCredentials, mqtt_connect_fields

from pysim.cloud.ports import free_port


class MosquittoUnavailable(RuntimeError):
    pass


def acl_lines(creds: DeviceCredentials) -> list[str]:
    """The topics a device may use (DeviceCredentials.owns_topic, written as mosquitto ACL lines)."""
    pk, dn = creds.product_key, creds.device_name
    _, username, _ = mqtt_connect_fields(creds)
    return [f"user {username}", f"topic readwrite /{pk}/{dn}/#", f"topic readwrite /sys/{pk}/{dn}/#",
            f"topic readwrite /ota/device/+/{pk}/{dn}", ""]


class Mosquitto:
    """``async with Mosquitto(devices) as url``: mosquitto on a free port of 127.0.0.1 that lets
    in only these devices (password = their signature, as the module sends it), each to its own
    topics; no anonymous access. Stopped (and its files removed) on exit."""

    def __init__(self, devices: list[DeviceCredentials], host: str = "127.0.0.1") -> None:
        self.devices, self.host = devices, host
        self.port = 0
        self.process: asyncio.subprocess.Process | None = None
        self._dir: Path | None = None

    async def __aenter__(self) -> str:
        binary, passwd = shutil.which("mosquitto") or "/usr/sbin/mosquitto", shutil.which("mosquitto_passwd")
        if not Path(binary).exists() or passwd is None:
            raise MosquittoUnavailable("mosquitto is not installed (Debian: apt-get install mosquitto)")
        self._dir = Path(tempfile.mkdtemp(prefix="pysim-mosquitto-"))
        passwords, acl, conf = (self._dir / n for n in ("passwd", "acl", "mosquitto.conf"))
        passwords.write_text("".join(f"{u}:{p}\n" for u, p in
                                     (mqtt_connect_fields(c)[1:] for c in self.devices)))
        passwords.chmod(0o600)
        hashing = await asyncio.create_subprocess_exec(passwd, "-U", str(passwords),
                                                       stdout=asyncio.subprocess.DEVNULL,
                                                       stderr=asyncio.subprocess.PIPE)
        _, err = await hashing.communicate()
        if hashing.returncode != 0:
            raise MosquittoUnavailable(f"mosquitto_passwd failed: {err.decode().strip()}")
        acl.write_text("\n".join(line for c in self.devices for line in acl_lines(c)))
        self.port = free_port(self.host)
        # run as root, mosquitto would drop to user "mosquitto", who cannot read these files
        conf.write_text(f"user {getpass.getuser()}\nlistener {self.port} {self.host}\nallow_anonymous false\n"
                        f"password_file {passwords}\nacl_file {acl}\npersistence false\n"
                        "max_queued_messages 10000\nmax_inflight_messages 100\nlog_type error\n")
        self.process = await asyncio.create_subprocess_exec(binary, "-c", str(conf), "-v",
                                                            stdout=asyncio.subprocess.DEVNULL,
                                                            stderr=asyncio.subprocess.PIPE)
        for _ in range(200):        # up when its port accepts
            try:
                _, writer = await asyncio.open_connection(self.host, self.port)
                writer.close()
                break
            except OSError:
                if self.process.returncode is not None:
                    raise MosquittoUnavailable((await self.process.stderr.read()).decode()[-500:])
                await asyncio.sleep(0.05)
        return f"mqtt://{self.host}:{self.port}"

    async def __aexit__(self, *exc) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except asyncio.TimeoutError:
                self.process.kill()
                await self.process.wait()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
