"""OTA commands (spec §8; DECISIONS §20-22): IOTAPARA, IOTAVER, IOTANEWVER,
IOTAPGS, IOTABLOCK, IOTABORT."""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from typing import Awaitable, Callable

import aiohttp

from ..at import Command, CommandTable, NotAllowed, Reply, command_args, from_at, quote, to_at
from ..interfaces import ModuleContext
from .para import ParaCommand
from .replies import ok_reply


def crc16_ccitt_false(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no final XOR."""
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


@dataclass
class Upgrade:
    """A downloaded image being read by the TE block by block."""

    version: str
    image: bytes
    md5: str
    offset: int = 0                   # where the next block starts
    last: tuple[int, int] | None = None  # (start, end) of the block read last


# A transport that publishes a device message: (topic, payload) -> sent?
Publish = Callable[[str, bytes], Awaitable[bool]]


class OtaCommands:
    def __init__(self, ctx: ModuleContext, table: CommandTable, publish: Publish) -> None:
        self.ctx = ctx
        self.publish = publish
        self.para = ParaCommand(table, "+IOTAPARA")
        self.version: str | None = None
        self.version_reported = False
        self.announced: tuple[str, int, str] | None = None
        self.upgrade: Upgrade | None = None
        self._fetching: asyncio.Task | None = None
        self._corrupted: set[int] = set()
        self._message_id = 0
        table.command("+IOTAVER", test=lambda _c: Reply(['+IOTAVER:"version"']),
                      query=self.query_version, set=self.set_version)
        table.command("+IOTANEWVER", test=ok_reply, query=self.query_newver)
        table.command("+IOTAPGS", test=lambda _c: Reply(['+IOTAPGS:"progress","desc"']), set=self.progress)
        table.command("+IOTABLOCK", test=ok_reply, set=self.block)
        table.command("+IOTABORT", test=ok_reply, execute=self.abort)

    def _device(self) -> tuple[str, str] | None:
        creds = self.ctx.credentials()
        return creds.key if creds else None

    def _next_message_id(self) -> str:
        self._message_id += 1
        return str(self._message_id)

    # ---- IOTAVER ----------------------------------------------------------
    def query_version(self, cmd: Command) -> Reply:
        return Reply([f"+IOTAVER:{quote(self.version)}"]) if self.version is not None else Reply()

    def set_version(self, cmd: Command) -> Reply:
        [self.version] = command_args(cmd)
        self.version_reported = False
        self.report_version()
        return Reply()

    def report_version(self) -> None:
        """Publish the version to ``/ota/device/inform/<pk>/<dn>`` now, or once a link is up."""
        device = self._device()
        if self.version is None or device is None:
            return
        topic = f"/ota/device/inform/{device[0]}/{device[1]}"
        body = json.dumps({"id": self._next_message_id(), "params": {"version": from_at(self.version)}})
        self.ctx.spawn(self._report(topic, body.encode()), "ota inform")

    async def _report(self, topic: str, body: bytes) -> None:
        if await self.publish(topic, body):
            self.version_reported = True
            self.ctx.emit("net.ota", what="version reported", version=self.version)

    # ---- IOTAPGS ----------------------------------------------------------
    def progress(self, cmd: Command) -> Reply:
        step, desc = [*command_args(cmd), ""][:2]
        device = self._device()
        if device is None:
            raise NotAllowed("no authenticated device to report progress for")
        topic = f"/ota/device/progress/{device[0]}/{device[1]}"
        body = json.dumps({"id": self._next_message_id(),
                           "params": {"step": str(step), "desc": from_at(desc)}}).encode()
        self.ctx.spawn(self.publish(topic, body), "ota progress")
        return Reply()

    # ---- announcements ----------------------------------------------------
    def on_announcement(self, payload: bytes) -> None:
        """An upgrade message from the cloud (MQTT push or CoAP poll): fetch, then +IOTANEWVER."""
        try:
            data = json.loads(payload)["data"]
            version, size, md5, url = str(data["version"]), int(data["size"]), str(data["md5"]).lower(), data["url"]
        except (ValueError, KeyError, TypeError) as error:
            self.ctx.emit("net.ota", what="bad announcement", reason=str(error))
            return
        if self.announced == (version, size, md5) and (self.upgrade or self._fetching):
            return  # the same image again (a poll): nothing new
        if self._fetching is not None:
            self._fetching.cancel()
        self._fetching = self.ctx.spawn(self._fetch(version, size, md5, url), "ota fetch")

    async def _fetch(self, version: str, size: int, md5: str, url: str) -> None:
        try:
            async with aiohttp.ClientSession() as session:
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=60)) as response:
                    response.raise_for_status()
                    image = await response.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            self.ctx.emit("net.ota", what="fetch failed", url=url, reason=f"{type(error).__name__}: {error}")
            return
        finally:
            self._fetching = None
        if len(image) != size or hashlib.md5(image).hexdigest() != md5:
            self.ctx.emit("net.ota", what="image rejected", reason=f"size {len(image)} md5 "
                          f"{hashlib.md5(image).hexdigest()} != announced {size} {md5}")
            return
        if self.ctx.config.faults.corrupt_ota_image and image:
            middle = len(image) // 2
            image = image[:middle] + bytes([image[middle] ^ 0x01]) + image[middle + 1:]
            self.ctx.emit("fault", what="ota image corrupted after the module's check", offset=middle)
        self.announced = (version, size, md5)
        self.upgrade = Upgrade(to_at(version), image, md5)
        self._corrupted = set()
        self.ctx.emit("net.ota", what="image ready", version=version, size=size)
        self.ctx.urc(self._newver_line(), ok=True)

    def _newver_line(self) -> str:
        assert self.announced is not None
        version, size, md5 = self.announced
        return f"+IOTANEWVER:{quote(to_at(version))},{size},{quote(md5)}"

    def query_newver(self, cmd: Command) -> Reply:
        return Reply([self._newver_line()]) if self.announced else Reply()

    # ---- IOTABLOCK, IOTABORT ----------------------------------------------
    def block(self, cmd: Command) -> Reply:
        [kind] = command_args(cmd)
        upgrade = self.upgrade
        if upgrade is None:
            raise NotAllowed("no upgrade in progress: wait for +IOTANEWVER")
        if kind == 1:
            if upgrade.last is None:
                raise NotAllowed("no block read yet to send again")
            start, end = upgrade.last
        else:
            start = upgrade.offset
            end = min(start + int(self.para["BLOCKSIZE"]), len(upgrade.image))
            upgrade.offset, upgrade.last = end, (start, end)
        block = upgrade.image[start:end]
        wire = self._inject_faults(start, block)
        return Reply([f"+IOTABLOCK:{len(block)},0x{crc16_ccitt_false(block):04X}"], payload=wire)

    def _inject_faults(self, start: int, block: bytes) -> bytes:
        index = start // int(self.para["BLOCKSIZE"])
        if block and index in self.ctx.config.faults.corrupt_ota_blocks and index not in self._corrupted:
            self._corrupted.add(index)
            self.ctx.emit("fault", what="ota block corrupted", block=index)
            return bytes([block[0] ^ 0xFF]) + block[1:]
        return block

    def abort(self, cmd: Command) -> Reply:
        if self.upgrade is None and self._fetching is None:
            raise NotAllowed("no upgrade in progress")
        if self._fetching is not None:
            self._fetching.cancel()
            self._fetching = None
        self.upgrade = None
        self.announced = None   # a later announcement of the same image starts afresh (DECISIONS §22)
        return Reply()

    async def poll(self, fetch_announcement: Callable[[], Awaitable[bytes | None]]) -> None:
        """Ask the cloud for an upgrade every DURATION s (the CoAP way, DECISIONS §20)."""
        while True:
            try:
                payload = await fetch_announcement()
            except Exception as error:
                self.ctx.emit("net.ota", what="poll failed", reason=f"{type(error).__name__}: {error}")
                payload = None
            if payload:
                self.on_announcement(payload)
            await asyncio.sleep(int(self.para["DURATION"]))

    def reset(self) -> None:
        self.upgrade = None
        self.announced = None
        self._fetching = None
        self.version_reported = False

