"""Every event the module reports, declared once: its kind and its fields.

The module hands events to its observer as ``observer(kind, module=<name>, **detail)``
(``pysim`` turns them into ``EventLog`` entries, the trace prints them). Each kind is
a frozen, slotted dataclass here, declared with ``@EVENTS.declare(kind)``
(``peripherals/event_kinds.py``); :func:`check` builds it from a kind and its detail,
so a kind or a field that is not declared here fails at once (``TypeError``) where
it is emitted. Fields left out of an event stay out of its detail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..event_kinds import EventKinds


EVENTS = EventKinds("peripherals/ica/events.py")


@dataclass(frozen=True, slots=True)
class ModuleEvent:
    """What every module event has: its kind (set by ``EVENTS.declare``) and the module's name."""
    KIND: ClassVar[str]
    module: str = ""                 # the module's name (ModuleConfig.name)


# ---- the AT engine (peripherals/ica/at/engine.py) -------------------------------

@EVENTS.declare("at.command")
class AtCommand(ModuleEvent):
    """A command line got its final result code (or its data-entry prompt)."""
    line: str = ""
    final: str = ""                  # "OK", "+CME ERROR:<n>", ">" ...
    reason: str = ""                 # why it failed, for a +CME ERROR


@EVENTS.declare("at.urc")
class AtUrc(ModuleEvent):
    lines: list[str | bytes] | None = None
    payload: bytes = b""


@EVENTS.declare("at.data")
class AtData(ModuleEvent):
    """A binary data entry arrived whole."""
    length: int = 0
    payload: bytes = b""


@EVENTS.declare("at.warning")
class AtWarning(ModuleEvent):
    """A conformance warning: accepted, but not as the spec writes it."""
    line: str = ""
    message: str = ""


@EVENTS.declare("at.error")
class AtError(ModuleEvent):
    """A handler raised: the line still got +CME ERROR:100."""
    line: str = ""
    error: str = ""


@EVENTS.declare("at.ignored")
class AtIgnored(ModuleEvent):
    line: str = ""
    reason: str = ""


@EVENTS.declare("at.dropped")
class AtDropped(ModuleEvent):
    """Bytes from the TE while rebooting."""
    data: bytes = b""
    reason: str = ""


@EVENTS.declare("at.urc_dropped")
class AtUrcDropped(ModuleEvent):
    lines: list[str | bytes] | None = None
    reason: str = ""


# ---- command families (peripherals/ica/commands/*.py) ------------------------------

@EVENTS.declare("net.auth")
class NetAuth(ModuleEvent):
    command: str = ""
    ok: bool = False
    reason: str = ""


@EVENTS.declare("net.mqtt")
class NetMqtt(ModuleEvent):
    what: str = ""
    reason: str | None = None


@EVENTS.declare("net.coap")
class NetCoap(ModuleEvent):
    what: str = ""
    token: int | None = None
    path: str | None = None
    code: str | None = None
    reason: str | None = None


@EVENTS.declare("net.http")
class NetHttp(ModuleEvent):
    what: str = ""
    path: str | None = None
    status: int | None = None
    reason: str | None = None


@EVENTS.declare("net.ota")
class NetOta(ModuleEvent):
    what: str = ""
    topic: str | None = None
    version: str | None = None
    size: int | None = None
    url: str | None = None
    reason: str | None = None


@EVENTS.declare("fault")
class Fault(ModuleEvent):
    """A fault the module injected on purpose (ModuleConfig.faults)."""
    what: str = ""
    block: int | None = None
    offset: int | None = None


@EVENTS.declare("fault.module.cme")
class FaultCme(ModuleEvent):
    """A command answered with an injected +CME ERROR (peripherals/ica/faults.py)."""
    command: str = ""
    error: int = 0


@EVENTS.declare("fault.module.delay")
class FaultDelay(ModuleEvent):
    """A command's response held back on purpose (peripherals/ica/faults.py)."""
    command: str = ""
    ms: float = 0.0


@EVENTS.declare("error")
class Error(ModuleEvent):
    """Background work failed (a bug or an unexpected network error)."""
    task: str = ""
    error: str = ""


@EVENTS.declare("log")
class Log(ModuleEvent):
    """A module log line (AT+ILOGLVL), for the trace; never on the UART."""
    level: int = 0
    text: str = ""


# ---- the module's life (peripherals/ica/module.py) ---------------------------------

@EVENTS.declare("module.reboot")
class ModuleReboot(ModuleEvent):
    graceful: bool = False
    erase: bool = False
    spontaneous: bool = False        # a power cycle injected as a fault, not AT+IREBOOT


@EVENTS.declare("module.ready")
class ModuleReady(ModuleEvent):
    spontaneous: bool = False


@EVENTS.declare("module.error")
class ModuleError(ModuleEvent):
    error: str = ""


check = EVENTS.check
"""The declared event of a kind with its detail; TypeError for an undeclared kind or field."""
