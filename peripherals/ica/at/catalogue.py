"""The ICA AT command set as data: every command and every URC, written once.

Pure frozen data, no behaviour. Everything that needs the shape of a command or a
URC reads it from here:

- the module: :class:`~peripherals.ica.at.table.CommandTable` mounts handlers
  against these names (aliases and forms come from here; a form the catalogue
  does not list cannot be mounted, one it lists but nobody mounted answers
  ``+CME ERROR:4``) and :func:`~peripherals.ica.at.params.read_args` checks
  parameters against ``params``;
- the TE client (``pysim/te_parser.py``): which lines carry a payload, which are
  URCs, which OK belongs to a URC, which commands answer an id line;
- the trace (``pysim/trace.py``): which TE line starts a data entry of a known length;
- the firmware: ``scripts/gen_at_catalogue.py`` writes ``URCS`` as the C header
  ``firmware/lib/ica_at/ica_at_catalogue.h``.

Adding a command or a URC is one entry here plus its handler (docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Form(enum.Enum):
    """The four forms of an AT command (spec §4): ``=?``, ``?``, ``=<args>``, bare."""

    TEST = "=?"
    QUERY = "?"
    SET = "="
    EXECUTE = ""


T, Q, S, E = Form.TEST, Form.QUERY, Form.SET, Form.EXECUTE


class Kind(enum.Enum):
    """How a parameter is written: a bare number or a quoted string (DECISIONS §6-7)."""

    INT = "int"
    FLOAT = "float"
    STR = "str"


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter of a set form (or one tag of a PARA command)."""

    name: str
    kind: Kind
    lo: float | None = None              # inclusive range of a number
    hi: float | None = None
    choices: tuple[int | str, ...] = ()  # the only values allowed, when given
    optional: bool = False               # may be left out (only trailing ones)
    allow_empty: bool = True             # a string may be ""
    default: int | float | str | None = None  # a PARA tag's power-on value

    @property
    def quoted(self) -> bool:
        return self.kind is Kind.STR


def Int(name: str, lo: int | None = None, hi: int | None = None, *, choices: tuple[int, ...] = (),
        optional: bool = False, default: int | None = None) -> Param:
    return Param(name, Kind.INT, lo, hi, choices, optional, default=default)


def Float(name: str, lo: float, hi: float, *, default: float | None = None) -> Param:
    return Param(name, Kind.FLOAT, lo, hi, default=default)


def Str(name: str, *, allow_empty: bool = True, optional: bool = False, choices: tuple[str, ...] = (),
        default: str | None = None) -> Param:
    return Param(name, Kind.STR, choices=choices, optional=optional, allow_empty=allow_empty, default=default)


@dataclass(frozen=True, slots=True)
class CommandDef:
    """One command of the set.

    ``forms``: the forms the module answers. ``params``: the set form's parameters
    (``tags`` instead for a PARA command's tag/value pairs). ``id_line``: the set
    form answers ``+NAME:<id>`` before OK. ``data_entry``: index of the ``msg_len``
    parameter of a two-step binary send. ``result``: the name of the URC that
    reports the outcome later (``+NAME:<id>,<status>`` or a status line).
    ``payload_after_ok``: index of the length field in this command's own response
    line whose bytes follow the OK (``+IOTABLOCK``, the queries of binary sends).
    ``response_line``: the set form answers a ``+NAME:`` line that is no id line
    and no URC (``+IOTABLOCK:<len>,<crc>``).
    """

    name: str
    family: str
    section: str
    forms: frozenset[Form]
    mandatory: bool = False
    aliases: tuple[str, ...] = ()
    params: tuple[Param, ...] = ()
    tags: tuple[Param, ...] = ()
    id_line: bool = False
    data_entry: int | None = None
    result: str | None = None
    payload_after_ok: int | None = None
    response_line: bool = False


class Shape(enum.IntEnum):
    """How a TE tells a URC from a response line of the same name."""

    ALWAYS = 0   # a line with this name is always a URC
    RESULT = 1   # ``+CMD:<id>,<status>`` is a URC, ``+CMD:<id>`` the command's id line


@dataclass(frozen=True, slots=True)
class UrcDef:
    """One unsolicited result code.

    ``trailing_ok``: followed by its own OK (receive URCs, DECISIONS §11).
    ``len_field``: index of its ``msg_len`` field, None without a payload.
    ``binary``: the payload is ``msg_len`` raw bytes after the OK; otherwise it is
    ``msg_len`` octets between quotes at the end of the line (DECISIONS §12).
    ``status_field``: the payload is there only when this field is 0.
    """

    name: str
    shape: Shape = Shape.ALWAYS
    trailing_ok: bool = False
    len_field: int | None = None
    binary: bool = False
    status_field: int | None = None


def _forms(*forms: Form) -> frozenset[Form]:
    return frozenset(forms)


MAX_PAYLOAD = 64 * 1024   # the longest data-entry payload (DECISIONS §16)

_TOPIC = Str("topic")
_QOS = Int("qos", 0, 2)
_MSG_LEN = Int("msg_len", 0, MAX_PAYLOAD)
_METHOD = Int("method", choices=(1, 2, 3, 4))
_PATH = Str("path", allow_empty=False)
_AUTH = (Str("productKey", allow_empty=False), Str("deviceName", allow_empty=False),
         Str("deviceSecret", allow_empty=False))

COMMANDS: tuple[CommandDef, ...] = (
    # ---- V.250 basics and 3GPP identification (DECISIONS §3; spec §9.5) ----
    CommandDef("", "basic", "V.250", _forms(E)),
    CommandDef("E", "basic", "V.250", _forms(E, S), params=(Int("E", choices=(0, 1), optional=True),)),
    CommandDef("I", "basic", "V.250", _forms(E, S), params=(Int("I", choices=(0,), optional=True),)),
    CommandDef("+CMEE", "basic", "27.007", _forms(T, Q, S), params=(Int("n", choices=(0, 1, 2)),)),
    CommandDef("+CGMI", "basic", "9.5", _forms(T, Q, E)),
    CommandDef("+CGMM", "basic", "9.5", _forms(T, Q, E)),
    CommandDef("+CGMR", "basic", "9.5", _forms(T, Q, E)),
    CommandDef("+CGSN", "basic", "27.007", _forms(T, Q, E)),
    # ---- MQTT (spec §5) ----
    CommandDef("+IMQTTMODE", "mqtt", "5.2", _forms(T, Q, S), params=(Int("mode", choices=(0, 1)),)),
    CommandDef("+IMQTTAUTH", "mqtt", "5.3", _forms(T, Q, S, E), True, params=_AUTH, result="+IMQTTAUTH"),
    CommandDef("+IMQTTPARA", "mqtt", "5.4", _forms(T, Q, S), True, tags=(
        Float("TIMEOUT", 0.5, 2, default=2.0),
        Int("CLEAN", choices=(0, 1), default=1),
        Int("KEEPALIVE", 60, 180, default=60),
        Str("VERSION", choices=("3.1", "3.1.1"), default="3.1.1"))),
    CommandDef("+IMQTTCONN", "mqtt", "5.5", _forms(T, E), True, result="+IMQTTSTATE"),
    CommandDef("+IMQTTPUB", "mqtt", "5.6", _forms(T, Q, S), True, params=(_TOPIC, _QOS, Str("message")),
            id_line=True, result="+IMQTTPUB"),
    CommandDef("+IMQTTPUBIN", "mqtt", "5.7", _forms(T, Q, S), params=(_TOPIC, _QOS, _MSG_LEN),
            id_line=True, data_entry=2, result="+IMQTTPUBIN", payload_after_ok=2),
    CommandDef("+IMQTTSUB", "mqtt", "5.8", _forms(T, Q, S), True, params=(_TOPIC, _QOS),
            id_line=True, result="+IMQTTSUB"),
    CommandDef("+IMQTTUNSUB", "mqtt", "5.9", _forms(T, Q, S), True, params=(_TOPIC,),
            id_line=True, result="+IMQTTUNSUB"),
    CommandDef("+IMQTTRCVPUB", "mqtt", "5.10", _forms(T, Q), True),
    CommandDef("+IMQTTRCVPUBIN", "mqtt", "5.11", _forms(T, Q)),
    CommandDef("+IMQTTSTATE", "mqtt", "5.12", _forms(T, Q), True),
    CommandDef("+IMQTTDISCONN", "mqtt", "5.13", _forms(T, E), True, result="+IMQTTSTATE"),
    CommandDef("+IMQTTDBGPARA", "mqtt", "5.14", _forms(T, Q, S), tags=(Int("PINGRSP", choices=(0, 1), default=0),)),
    CommandDef("+IMQTTPINGRSP", "mqtt", "5.15", _forms(T)),
    # ---- CoAP (spec §6) ----
    CommandDef("+ICOAPARA", "coap", "6.2", _forms(T, Q, S), aliases=("+ICOAPPARA",),
            tags=(Int("TIMEOUT", 1, 60, default=2),)),
    CommandDef("+ICOAPAUTH", "coap", "6.3", _forms(T, Q, S, E), True, params=_AUTH, result="+ICOAPAUTH"),
    CommandDef("+ICOAPSENDREQ", "coap", "6.4", _forms(T, Q, S), True, params=(_METHOD, _PATH, Str("message")),
            id_line=True, result="+ICOAPSENDREQ"),
    CommandDef("+ICOAPSENDBIN", "coap", "6.5", _forms(T, Q, S), params=(_METHOD, _PATH, _MSG_LEN),
            id_line=True, data_entry=2, result="+ICOAPSENDBIN", payload_after_ok=2),
    CommandDef("+ICOAPSENDREQN", "coap", "6.6", _forms(T, Q, S), True, params=(_METHOD, _PATH, Str("message")),
            id_line=True),
    CommandDef("+ICOAPSENDNBIN", "coap", "6.7", _forms(T, Q, S), params=(_METHOD, _PATH, _MSG_LEN),
            id_line=True, data_entry=2, payload_after_ok=2),
    CommandDef("+ICOAPRCVRSP", "coap", "6.8", _forms(T, Q), True),
    CommandDef("+ICOAPRCVBIN", "coap", "6.9", _forms(T, Q)),
    # ---- HTTP (spec §7) ----
    CommandDef("+IHTTPARA", "http", "7.2", _forms(T, Q, S), aliases=("+IHTTPPARA",), tags=(
        Int("KEEPALIVE", choices=(0, 1), default=0),
        Int("TIMEOUT", 1, 60, default=5))),
    CommandDef("+IHTTPAUTH", "http", "7.3", _forms(T, Q, S, E), True, params=_AUTH, result="+IHTTPAUTH"),
    CommandDef("+IHTTPSEND", "http", "7.4", _forms(T, Q, S), True, params=(_METHOD, _PATH, Str("message")),
            result="+IHTTPSEND"),
    CommandDef("+IHTTPSENDREQ", "http", "7.5", _forms(T, Q, S), params=(_METHOD, _PATH, Str("message")),
            id_line=True, result="+IHTTPRCVRSP"),
    CommandDef("+IHTTPSENDBIN", "http", "7.6", _forms(T, Q, S), params=(_METHOD, _PATH, _MSG_LEN),
            id_line=True, data_entry=2, result="+IHTTPRCVRSP", payload_after_ok=2),
    CommandDef("+IHTTPRCVRSP", "http", "7.7", _forms(T, Q)),
    CommandDef("+IHTTPRCVBIN", "http", "7.8", _forms(T, Q)),
    CommandDef("+IHTTPDISCONN", "http", "7.9", _forms(T, E), True),
    # ---- OTA (spec §8) ----
    CommandDef("+IOTAPARA", "ota", "8.2", _forms(T, Q, S), tags=(
        Int("DURATION", 60, 2_592_000, default=86400),
        Int("BLOCKSIZE", 16, 4096, default=512))),
    CommandDef("+IOTAVER", "ota", "8.3", _forms(T, Q, S), True, params=(Str("version", allow_empty=False),)),
    CommandDef("+IOTANEWVER", "ota", "8.4", _forms(T, Q), True),
    CommandDef("+IOTAPGS", "ota", "8.5", _forms(T, S), params=(Int("progress", -4, 100), Str("desc", optional=True))),
    CommandDef("+IOTABLOCK", "ota", "8.6", _forms(T, S), True, params=(Int("type", choices=(0, 1)),),
            payload_after_ok=0, response_line=True),
    CommandDef("+IOTABORT", "ota", "8.7", _forms(T, E)),
    # ---- other (spec §9) ----
    CommandDef("+ILOGLVL", "basic", "9.2", _forms(T, Q, S), params=(Int("level", 0, 5),)),
    CommandDef("+IREBOOT", "basic", "9.3", _forms(T, S), params=(Int("mode", choices=(0, 1)),)),
    CommandDef("+IDEFAULT", "basic", "9.4", _forms(T, E)),
)

# In this order in the firmware's table (the C header is generated from it).
URCS: tuple[UrcDef, ...] = (
    # receive URCs: their own OK follows (DECISIONS §11)
    UrcDef("+IMQTTRCVPUB", trailing_ok=True, len_field=2),
    UrcDef("+IMQTTRCVPUBIN", trailing_ok=True, len_field=2, binary=True),
    UrcDef("+ICOAPRCVRSP", trailing_ok=True, len_field=2),
    UrcDef("+ICOAPRCVBIN", trailing_ok=True, len_field=2, binary=True),
    UrcDef("+IHTTPRCVRSP", trailing_ok=True, len_field=3, status_field=1),
    UrcDef("+IHTTPRCVBIN", trailing_ok=True, len_field=3, binary=True, status_field=1),
    UrcDef("+IOTANEWVER", trailing_ok=True),
    UrcDef("+IMQTTPINGRSP", trailing_ok=True),
    # status URCs
    UrcDef("+IHTTPSEND", len_field=1, status_field=0),
    UrcDef("+IMQTTAUTH"),
    UrcDef("+ICOAPAUTH"),
    UrcDef("+IHTTPAUTH"),
    UrcDef("+IMQTTSTATE"),
    # result URCs of commands that answer an id line
    UrcDef("+IMQTTPUB", Shape.RESULT),
    UrcDef("+IMQTTPUBIN", Shape.RESULT),
    UrcDef("+IMQTTSUB", Shape.RESULT),
    UrcDef("+IMQTTUNSUB", Shape.RESULT),
    UrcDef("+ICOAPSENDREQ", Shape.RESULT),
    UrcDef("+ICOAPSENDBIN", Shape.RESULT),
    # non-confirmable sends report no status (spec index: no result URC); the rows keep
    # a TE reading their id line the same way as the confirmable pair's
    UrcDef("+ICOAPSENDREQN", Shape.RESULT),
    UrcDef("+ICOAPSENDNBIN", Shape.RESULT),
)

BY_NAME: dict[str, CommandDef] = {c.name: c for c in COMMANDS}
URC_BY_NAME: dict[str, UrcDef] = {u.name: u for u in URCS}
# alias spelling -> canonical name (DECISIONS §5); responses use the canonical name
ALIASES: dict[str, str] = {alias: c.name for c in COMMANDS for alias in c.aliases}


def command(name: str) -> CommandDef | None:
    """The command named ``name`` (any case, alias or canonical), or None."""
    key = name.upper()
    return BY_NAME.get(ALIASES.get(key, key))
