"""What every command family shares: the module context, PARA and AUTH commands,
and the rendering of received payloads as text or binary URCs."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Coroutine

from pysim.devauth import DeviceCredentials
from pysim.events import EventLog

from ..at import (Arg, AtEngine, Command, CommandTable, Reply, Urc, as_str, bad_params,
                  expect_count, format_number, not_allowed, quote)
from ..config import ModuleConfig
from ..nvstore import NvStore


# the module log level (AT+ILOGLVL 1-5) at which each kind of module event is logged
LOG_LEVELS = {"error": 1, "fault": 2, "net.auth": 3, "net.mqtt": 3, "net.ota": 3, "net.coap": 4,
              "net.http": 4}


class ModuleContext:
    """State every family sees: config, NV store, the engine's URC queue, ids, tasks."""

    def __init__(self, config: ModuleConfig, nv: NvStore, events: EventLog) -> None:
        self.config = config
        self.nv = nv
        self.events = events
        self.engine: AtEngine | None = None
        self.loglevel = 0
        # the device the module speaks for: set by the module from its AUTH commands
        self.credentials: Callable[[], DeviceCredentials | None] = lambda: None
        # hands the engine's output to the TE: set by the module
        self.pump: Callable[[], None] = lambda: None
        self._ids = itertools.cycle(range(1, 65536))
        self._tasks: set[asyncio.Task[Any]] = set()

    def next_id(self) -> int:
        """Ids and tokens for every family come from one counter (DECISIONS §10)."""
        return next(self._ids)

    def urc(self, *lines: str | bytes, ok: bool = False, payload: bytes = b"") -> None:
        assert self.engine is not None
        self.engine.send_urc(Urc(list(lines), ok=ok, payload=payload))
        self.pump()

    def emit(self, kind: str, **detail: Any) -> None:
        """A module-side event for traces and tests (``net.*``, ``fault``, ``error``); it
        is also a line of the module's log at that kind's level (AT+ILOGLVL)."""
        self.events.emit(kind, None, module=self.config.name, **detail)
        level = LOG_LEVELS.get(kind, 5)
        if self.logs(level):
            self.log(level, f"{kind} " + " ".join(f"{k}={v}" for k, v in detail.items()))

    def logs(self, level: int) -> bool:
        """Whether AT+ILOGLVL asks for log lines of ``level`` (1 errors ... 5 every command)."""
        return 0 < level <= self.loglevel

    def log(self, level: int, text: str) -> None:
        """A module log line (callers check ``logs(level)`` before building the text);
        it goes to the trace, never to the UART."""
        self.events.emit("log", None, module=self.config.name, level=level, text=text)

    def spawn(self, coro: Coroutine[Any, Any, Any], what: str) -> asyncio.Task[Any]:
        """Run network work in the background; a failure is reported, never raised."""
        task = asyncio.get_running_loop().create_task(coro, name=f"{self.config.name}:{what}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            error = task.exception()
            self.emit("error", task=task.get_name(), error=f"{type(error).__name__}: {error}")

    async def cancel_tasks(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

    def is_text(self, payload: bytes) -> bool:
        """Whether a received payload is reported by the text URC or the binary one."""
        if self.config.rx_format != "auto":
            return self.config.rx_format == "text"
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return all(c.isprintable() or c in "\r\n\t" for c in text)


class Received:
    """A pair of receive URCs (text and binary) and their query forms, which answer
    the most recent message of each kind (errata #40).

    Text is written raw between quotes, exactly ``len`` octets (DECISIONS §12):
    ``+X:<head>,<len>,"<text>"`` + OK; binary is ``+XBIN:<head>,<len>`` + OK + bytes.
    """

    def __init__(self, ctx: ModuleContext, table: CommandTable, text_name: str, bin_name: str) -> None:
        self.ctx = ctx
        self.text_name = text_name
        self.bin_name = bin_name
        self.last_text: Urc | None = None
        self.last_bin: Urc | None = None
        table.command(text_name, test=ok_reply, query=lambda _c: self._query(self.last_text))
        table.command(bin_name, test=ok_reply, query=lambda _c: self._query(self.last_bin))

    def deliver(self, head: list[str], payload: bytes) -> None:
        fields = ",".join([*head, str(len(payload))])
        if self.ctx.is_text(payload):
            line = f"{self.text_name}:{fields},".encode("latin-1") + b'"' + payload + b'"'
            urc = self.last_text = Urc([line], ok=True)
        else:
            urc = self.last_bin = Urc([f"{self.bin_name}:{fields}"], ok=True, payload=payload)
        self.ctx.urc(*urc.lines, ok=urc.ok, payload=urc.payload)

    def deliver_status(self, head: list[str]) -> None:
        """A receive URC that carries only a status (HTTP status != 0, DECISIONS §15)."""
        urc = self.last_text = Urc([f"{self.text_name}:" + ",".join(head)], ok=True)
        self.ctx.urc(*urc.lines, ok=True)

    @staticmethod
    def _query(urc: Urc | None) -> Reply:
        if urc is None:
            return Reply()
        lines = [line.decode("latin-1") if isinstance(line, bytes) else line for line in urc.lines]
        return Reply(lines=lines, payload=urc.payload)


# ---- PARA commands -----------------------------------------------------

@dataclass
class Para:
    """One tag of a PARA command: how to read it, its default, how to write it."""

    tag: str
    read: Callable[[Arg, str, Callable[[str], None]], Any]
    default: Any
    write: Callable[[Any], str] = lambda v: format_number(v) if not isinstance(v, str) else quote(v)


class ParaCommand:
    """``AT+xxxPARA``: tag/value pairs, all checked before any is applied (DECISIONS §8)."""

    def __init__(self, table: CommandTable, name: str, paras: list[Para], aliases: tuple[str, ...] = (),
                 on_change: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.name = name
        self.paras = {p.tag: p for p in paras}
        self.values: dict[str, Any] = {p.tag: p.default for p in paras}
        self.on_change = on_change
        table.command(name, aliases, test=self.test, query=self.query, set=self.set)

    def __getitem__(self, tag: str) -> Any:
        return self.values[tag]

    def test(self, cmd: Command) -> Reply:
        return Reply([f'{self.name}:"ParaTag","ParaValue"'])

    def query(self, cmd: Command) -> Reply:
        return Reply([f"{self.name}:{quote(tag)},{p.write(self.values[tag])}" for tag, p in self.paras.items()])

    def set(self, cmd: Command) -> Reply:
        args = cmd.args
        if not args or len(args) % 2:
            raise bad_params("expected one or more \"TAG\",value pairs")
        new: dict[str, Any] = {}
        for tag_arg, value_arg in zip(args[::2], args[1::2]):
            tag = as_str(tag_arg, "ParaTag", cmd.warn, allow_empty=False).upper()
            para = self.paras.get(tag)
            if para is None:
                raise bad_params(f"unknown tag {tag!r}; tags: {', '.join(self.paras)}")
            new[tag] = para.read(value_arg, tag, cmd.warn)
        self.values.update(new)
        if self.on_change:
            self.on_change(new)
        return Reply()


# ---- AUTH commands ---------------------------------------------------------

Authenticate = Callable[[DeviceCredentials], Awaitable[tuple[bool, str]]]


class AuthCommand:
    """``AT+xxxAUTH``: set the device's credentials and check them with the cloud.

    Always ends with ``+xxxAUTH:OK`` or ``+xxxAUTH:FAIL`` (DECISIONS §17); good
    credentials go to the NV store; a bare execute re-authenticates with them;
    the query masks the secret; the NV store keeps the secret sealed (encrypted).
    """

    TAGS = ("productKey", "deviceName", "deviceSecret")

    def __init__(self, ctx: ModuleContext, table: CommandTable, name: str, nv_key: str,
                 authenticate: Authenticate, precheck: Callable[[], None] = lambda: None) -> None:
        self.ctx = ctx
        self.name = name
        self.nv_key = nv_key
        self.authenticate = authenticate
        self.precheck = precheck
        self.credentials: DeviceCredentials | None = None   # checked OK since boot
        self.running = False
        table.command(name, test=self.test, query=self.query, set=self.set, execute=self.execute)

    @property
    def stored(self) -> DeviceCredentials | None:
        data = self.ctx.nv.get(self.nv_key)
        if not data:
            return None
        secret = self.ctx.nv.unseal(data[2])
        return DeviceCredentials(data[0], data[1], secret) if secret is not None else None

    def reset(self) -> None:
        self.credentials = None
        self.running = False

    def test(self, cmd: Command) -> Reply:
        return Reply([f"{self.name}:" + ",".join(quote(t) for t in self.TAGS)])

    def query(self, cmd: Command) -> Reply:
        creds = self.credentials or self.stored
        if creds is None:
            return Reply()
        masked = "*" * 8 if creds.device_secret else ""
        return Reply([f"{self.name}:{quote(creds.product_key)},{quote(creds.device_name)},{quote(masked)}"])

    def set(self, cmd: Command) -> Reply:
        expect_count(cmd.args, 3)
        values = [as_str(arg, tag, cmd.warn, allow_empty=False) for arg, tag in zip(cmd.args, self.TAGS)]
        return self._start(DeviceCredentials(*values))

    def execute(self, cmd: Command) -> Reply:
        creds = self.stored
        if creds is None:
            raise not_allowed("no stored credentials: give them with AT" + self.name + "=...")
        return self._start(creds)

    def _start(self, creds: DeviceCredentials) -> Reply:
        if self.running:
            raise not_allowed("authentication already under way")
        self.precheck()
        self.running = True
        self.ctx.spawn(self._run(creds), f"{self.name} auth")
        return Reply()

    async def _run(self, creds: DeviceCredentials) -> None:
        try:
            ok, reason = await self.authenticate(creds)
        except Exception as error:  # the cloud misbehaving is a FAIL, never a hang
            ok, reason = False, f"{type(error).__name__}: {error}"
        finally:
            self.running = False
        if ok:
            self.credentials = creds
            self.ctx.nv.put(self.nv_key, [creds.product_key, creds.device_name,
                                          self.ctx.nv.seal(creds.device_secret)])
        self.ctx.emit("net.auth", command=self.name, ok=ok, reason=reason)
        self.ctx.urc(f"{self.name}:{'OK' if ok else 'FAIL'}")


def ok_reply(cmd: Command) -> Reply:
    """A form that only answers OK (the spec's test rows that show just ``OK``)."""
    return Reply()


def last_line(name: str, fields: list[str] | None) -> Reply:
    """The query of a "last request sent" command: its line, or bare OK when none."""
    return Reply([f"{name}:" + ",".join(fields)]) if fields else Reply()
