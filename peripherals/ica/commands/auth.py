"""``AT+xxxAUTH`` commands (spec §5.3, §6.3, §7.3; DECISIONS §17)."""

from __future__ import annotations

from typing import Awaitable, Callable

from ..at import Command, CommandTable, NotAllowed, Reply, quote, read_args
from ..at.catalogue import command as catalogue_command
from ..devauth import DeviceCredentials
from ..interfaces import ModuleContext

Authenticate = Callable[[DeviceCredentials], Awaitable[tuple[bool, str]]]


class AuthCommand:
    """``AT+xxxAUTH``: set the device's credentials and check them with the cloud.

    Always ends with ``+xxxAUTH:OK`` or ``+xxxAUTH:FAIL`` (DECISIONS §17); good
    credentials go to the NV store; a bare execute re-authenticates with them;
    the query masks the secret; the NV store keeps the secret sealed (encrypted).
    """

    def __init__(self, ctx: ModuleContext, table: CommandTable, name: str, nv_key: str,
                 authenticate: Authenticate, precheck: Callable[[], None] = lambda: None) -> None:
        definition = catalogue_command(name)
        assert definition is not None
        self.ctx = ctx
        self.name = definition.name
        self.params = definition.params
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
        return Reply([f"{self.name}:" + ",".join(quote(p.name) for p in self.params)])

    def query(self, cmd: Command) -> Reply:
        creds = self.credentials or self.stored
        if creds is None:
            return Reply()
        masked = "*" * 8 if creds.device_secret else ""
        return Reply([f"{self.name}:{quote(creds.product_key)},{quote(creds.device_name)},{quote(masked)}"])

    def set(self, cmd: Command) -> Reply:
        return self._start(DeviceCredentials(*read_args(self.params, cmd.args, cmd.warn)))

    def execute(self, cmd: Command) -> Reply:
        creds = self.stored
        if creds is None:
            raise NotAllowed("no stored credentials: give them with AT" + self.name + "=...")
        return self._start(creds)

    def _start(self, creds: DeviceCredentials) -> Reply:
        if self.running:
            raise NotAllowed("authentication already under way")
        self.precheck()
        self.running = True
        # made now: the family's parameters in effect are those of this command's time
        self.ctx.spawn(self._run(creds, self.authenticate(creds)), f"{self.name} auth")
        return Reply()

    async def _run(self, creds: DeviceCredentials, operation: Awaitable[tuple[bool, str]]) -> None:
        try:
            ok, reason = await operation
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
