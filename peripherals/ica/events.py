"""Every event the module reports, declared once: its kind and its fields.

The module hands events to its observer as ``observer(kind, module=<name>, **detail)``
(``pysim`` turns them into ``EventLog`` entries, the trace prints them). Each kind is
a frozen, slotted dataclass here; :func:`check` builds it from a kind and its detail,
so a kind or a field that is not declared here fails at once (``TypeError``) where
it is emitted. Fields left out of an event stay out of its detail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True)
class ModuleEvent:
    KIND: ClassVar[str]
    module: str = ""                 # the module's name (ModuleConfig.name)


# ---- the AT engine (peripherals/ica/at/engine.py) -------------------------------

@dataclass(frozen=True, slots=True)
class AtCommand(ModuleEvent):
    """A command line got its final result code (or its data-entry prompt)."""
    KIND = "at.command"
    line: str = ""
    final: str = ""                  # "OK", "+CME ERROR:<n>", ">" ...
    reason: str = ""                 # why it failed, for a +CME ERROR


@dataclass(frozen=True, slots=True)
class AtUrc(ModuleEvent):
    KIND = "at.urc"
    lines: list[str | bytes] | None = None
    payload: bytes = b""


@dataclass(frozen=True, slots=True)
class AtData(ModuleEvent):
    """A binary data entry arrived whole."""
    KIND = "at.data"
    length: int = 0
    payload: bytes = b""


@dataclass(frozen=True, slots=True)
class AtWarning(ModuleEvent):
    """A conformance warning: accepted, but not as the spec writes it."""
    KIND = "at.warning"
    line: str = ""
    message: str = ""


@dataclass(frozen=True, slots=True)
class AtError(ModuleEvent):
    """A handler raised: the line still got +CME ERROR:100."""
    KIND = "at.error"
    line: str = ""
    error: str = ""


@dataclass(frozen=True, slots=True)
class AtIgnored(ModuleEvent):
    KIND = "at.ignored"
    line: str = ""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class AtDropped(ModuleEvent):
    """Bytes from the TE while rebooting."""
    KIND = "at.dropped"
    data: bytes = b""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class AtUrcDropped(ModuleEvent):
    KIND = "at.urc_dropped"
    lines: list[str | bytes] | None = None
    reason: str = ""


# ---- command families (peripherals/ica/commands/*.py) ------------------------------

@dataclass(frozen=True, slots=True)
class NetAuth(ModuleEvent):
    KIND = "net.auth"
    command: str = ""
    ok: bool = False
    reason: str = ""


@dataclass(frozen=True, slots=True)
class NetMqtt(ModuleEvent):
    KIND = "net.mqtt"
    what: str = ""
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class NetCoap(ModuleEvent):
    KIND = "net.coap"
    what: str = ""
    token: int | None = None
    path: str | None = None
    code: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class NetHttp(ModuleEvent):
    KIND = "net.http"
    what: str = ""
    path: str | None = None
    status: int | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class NetOta(ModuleEvent):
    KIND = "net.ota"
    what: str = ""
    topic: str | None = None
    version: str | None = None
    size: int | None = None
    url: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Fault(ModuleEvent):
    """A fault the module injected on purpose (ModuleConfig.faults)."""
    KIND = "fault"
    what: str = ""
    block: int | None = None
    offset: int | None = None


@dataclass(frozen=True, slots=True)
class FaultCme(ModuleEvent):
    """A command answered with an injected +CME ERROR (peripherals/ica/faults.py)."""
    KIND = "fault.module.cme"
    command: str = ""
    error: int = 0


@dataclass(frozen=True, slots=True)
class FaultDelay(ModuleEvent):
    """A command's response held back on purpose (peripherals/ica/faults.py)."""
    KIND = "fault.module.delay"
    command: str = ""
    ms: float = 0.0


@dataclass(frozen=True, slots=True)
class Error(ModuleEvent):
    """Background work failed (a bug or an unexpected network error)."""
    KIND = "error"
    task: str = ""
    error: str = ""


@dataclass(frozen=True, slots=True)
class Log(ModuleEvent):
    """A module log line (AT+ILOGLVL), for the trace; never on the UART."""
    KIND = "log"
    level: int = 0
    text: str = ""


# ---- the module's life (peripherals/ica/module.py) ---------------------------------

@dataclass(frozen=True, slots=True)
class ModuleReboot(ModuleEvent):
    KIND = "module.reboot"
    graceful: bool = False
    erase: bool = False
    spontaneous: bool = False        # a power cycle injected as a fault, not AT+IREBOOT


@dataclass(frozen=True, slots=True)
class ModuleReady(ModuleEvent):
    KIND = "module.ready"
    spontaneous: bool = False


@dataclass(frozen=True, slots=True)
class ModuleError(ModuleEvent):
    KIND = "module.error"
    error: str = ""


EVENTS: dict[str, type[ModuleEvent]] = {
    cls.KIND: cls for cls in (AtCommand, AtUrc, AtData, AtWarning, AtError, AtIgnored, AtDropped, AtUrcDropped,
                              NetAuth, NetMqtt, NetCoap, NetHttp, NetOta, Fault, FaultCme, FaultDelay, Error, Log,
                              ModuleReboot, ModuleReady, ModuleError)}


def check(kind: str, detail: dict[str, Any]) -> ModuleEvent:
    """The declared event of ``kind`` with ``detail``; TypeError for an undeclared kind or field."""
    cls = EVENTS.get(kind)
    if cls is None:
        raise TypeError(f"event kind {kind!r} is not declared in peripherals/ica/events.py")
    try:
        return cls(**detail)
    except TypeError as error:
        raise TypeError(f"{kind}: {error}; declare its fields in peripherals/ica/events.py") from None
