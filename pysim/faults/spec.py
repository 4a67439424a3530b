"""The one fault spec format: ``LINK.KIND[:param=value,...]``, parsed here only.

    net.latency:ms=200,jitter=50,service=mqtt
    module.cme:cmd=+IMQTTPUB,error=30,times=2
    uart.drop:rate=0.01,dir=te2ta

Every kind, its parameters, their types, defaults and meaning are in ``KINDS``
(docs/faults.md is the readable table of it). A spec names its link first
(``net``, ``module``, ``uart``), so the same word (``delay``) can mean a different
thing on each link. ``seed`` is accepted by every kind; by default a fault's random
generator is seeded from the run's seed and the spec's position, so a run with the
same specs and seed makes the same decisions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

LINKS = ("net", "module", "uart")
SERVICES = ("all", "mqtt", "mqtts", "coap", "http")
DIRECTIONS = ("both", "te2ta", "ta2te")   # te2ta: MCU -> module; ta2te: module -> MCU
NET_DIRECTIONS = ("both", "up", "down")   # up: module -> cloud


def _number(low: float, high: float = float("inf"), *, open_low: bool = False) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = float(text)
        if value < low or value > high or (open_low and value == low):
            bound = f"between {low:g} and {high:g}" if high != float("inf") else f"{'>' if open_low else '>='} {low:g}"
            raise ValueError(f"must be {bound}")
        return value
    return parse


_rate, _nonneg, _positive = _number(0.0, 1.0), _number(0.0), _number(0.0, open_low=True)


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError("must be >= 0")
    return value


def _choice(options: tuple[str, ...]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return text
    parse.choices = options    # type: ignore[attr-defined]
    return parse


def _command(text: str) -> str:
    """An AT command name as the engine knows it: ``+IMQTTPUB``, ``E``, ``*`` for any,
    ``AT`` (the empty name) for plain AT."""
    name = text.strip().upper()
    if not name:
        raise ValueError("must name a command")
    return name[2:] if name.startswith("AT") else name


@dataclass(frozen=True)
class Param:
    parse: Callable[[str], Any]
    default: Any
    help: str


@dataclass(frozen=True)
class Kind:
    help: str
    params: dict[str, Param]


# parameters several kinds share
_SERVICE_TRAFFIC = Param(_choice(SERVICES), "all", "which service's traffic")
_SERVICE = Param(_choice(SERVICES), "all", "which service")
_NET_DIR = Param(_choice(NET_DIRECTIONS), "both", "up, down or both")
_UART_DIR = Param(_choice(DIRECTIONS), "both", "te2ta, ta2te or both")
_AFTER = Param(_nonneg, 0.0, "s from now")
_EVERY = Param(_nonneg, 0.0, "repeat period, s (0: once)")
_BYTE_RATE = Param(_rate, 0.01, "probability per byte")

# What a run can inject. `after` (s) is counted from when the fault is applied.
KINDS: dict[str, Kind] = {
    # ---- network, between the module and the cloud (the fault proxy) ----------
    "net.latency": Kind("delay every packet/chunk by ms (+- jitter ms, uniform)", {
        "ms": Param(_nonneg, 100.0, "one-way delay, ms"),
        "jitter": Param(_nonneg, 0.0, "added uniform spread, +- ms (TCP keeps order)"),
        "service": _SERVICE_TRAFFIC,
        "dir": Param(_choice(NET_DIRECTIONS), "both", "up (module->cloud), down or both")}),
    "net.loss": Kind("lose packets: UDP datagrams are dropped; a TCP chunk is delayed by a "
                     "retransmission timeout, as the kernel would resend it", {
        "rate": Param(_rate, 0.1, "probability per packet/chunk"),
        "rto": Param(_positive, 200.0, "TCP retransmission timeout, ms (doubles when lost again)"),
        "service": _SERVICE_TRAFFIC,
        "dir": _NET_DIR}),
    "net.bandwidth": Kind("limit throughput in each direction", {
        "kbps": Param(_positive, 64.0, "kilobits per second"),
        "service": _SERVICE_TRAFFIC,
        "dir": _NET_DIR}),
    "net.down": Kind("the server goes down (connections reset, new ones refused, datagrams "
                     "dropped) and comes back", {
        "after": Param(_nonneg, 0.0, "s from now until it goes down"),
        "for": Param(_nonneg, 5.0, "s it stays down (0: until cleared)"),
        "service": _SERVICE}),
    "net.reset": Kind("reset the open TCP connections (RST), once or every N s", {
        "after": _AFTER,
        "every": _EVERY,
        "service": _SERVICE}),
    # ---- the module (peripherals/ica/faults.py) ---------------------------------
    "module.cme": Kind("answer a command with +CME ERROR instead of running it", {
        "cmd": Param(_command, "*", "command name, e.g. +IMQTTPUB (* = any)"),
        "error": Param(_count, 100, "the +CME ERROR number"),
        "times": Param(_count, 1, "how many times (0: no limit, use rate)"),
        "rate": Param(_rate, 1.0, "probability per matching command")}),
    "module.delay": Kind("hold a command's response (and what follows it) for ms", {
        "cmd": Param(_command, "*", "command name (* = any)"),
        "ms": Param(_nonneg, 500.0, "delay, ms"),
        "times": Param(_count, 0, "how many times (0: every time)")}),
    "module.timing": Kind("answer each command after a response time drawn from the module "
                          "timing table (docs/faults.md)", {
        "scale": Param(_positive, 1.0, "multiplies every time in the table")}),
    "module.reboot": Kind("spontaneous reboot: sessions lost, reads nothing while it restarts, "
                          "power-on settings, +IMQTTSTATE:0 after restart if MQTT was up", {
        "after": _AFTER,
        "off": Param(_nonneg, 0.5, "s the module is down"),
        "every": _EVERY}),
    # ---- the UART between MCU and module (pysim/uart.py ByteFaults) -------------
    "uart.drop": Kind("drop bytes", {
        "rate": _BYTE_RATE,
        "dir": Param(_choice(DIRECTIONS), "both", "te2ta (MCU->module), ta2te or both")}),
    "uart.corrupt": Kind("flip one bit of bytes", {
        "rate": _BYTE_RATE,
        "dir": _UART_DIR}),
    "uart.dup": Kind("send bytes twice", {
        "rate": _BYTE_RATE,
        "dir": _UART_DIR}),
    "uart.delay": Kind("hold chunks back", {
        "rate": Param(_rate, 0.1, "probability per chunk"),
        "ms": Param(_nonneg, 50.0, "delay, ms"),
        "dir": _UART_DIR}),
    "uart.break": Kind("a break condition: the line held low, read as NUL bytes", {
        "after": _AFTER,
        "bytes": Param(_count, 1, "NUL bytes the receiver sees"),
        "dir": Param(_choice(DIRECTIONS), "ta2te", "te2ta, ta2te or both")}),
    "uart.stall": Kind("the link carries nothing for a while (bytes wait, none lost)", {
        "after": _AFTER,
        "for": Param(_nonneg, 2.0, "s stalled"),
        "dir": _UART_DIR}),
}
COMMON = {"seed": Param(int, None, "seed of this fault's random generator (default: from the run's seed)")}


@dataclass(frozen=True)
class FaultSpec:
    kind: str                      # e.g. "net.latency"
    params: dict[str, Any] = field(default_factory=dict)   # every parameter, defaults filled in
    text: str = ""                 # as written

    @property
    def link(self) -> str:
        return self.kind.split(".", 1)[0]

    def __getitem__(self, name: str) -> Any:
        return self.params[name]

    def __str__(self) -> str:
        return self.text or self.kind


class FaultSpecError(ValueError):
    """A spec that does not parse; the message is one line naming what is wrong."""


def parse_fault(text: str) -> FaultSpec:
    """``LINK.KIND[:param=value,...]`` -> FaultSpec, or FaultSpecError."""
    text = text.strip()
    head, _, rest = text.partition(":")
    kind = head.strip().lower()
    if kind not in KINDS:
        hint = ", ".join(k for k in KINDS if k.startswith(kind.split(".")[0] + ".")) or ", ".join(KINDS)
        raise FaultSpecError(f"unknown fault kind {head!r} in {text!r}; known: {hint}")
    spec = KINDS[kind]
    allowed = {**spec.params, **COMMON}
    params = {name: p.default for name, p in allowed.items()}
    for item in filter(None, (i.strip() for i in rest.split(","))):
        name, eq, value = item.partition("=")
        name = name.strip().lower()
        if not eq:
            raise FaultSpecError(f"{kind}: expected param=value, got {item!r}")
        if name not in allowed:
            raise FaultSpecError(f"{kind}: unknown parameter {name!r}; known: {', '.join(allowed)}")
        try:
            params[name] = allowed[name].parse(value.strip())
        except ValueError as error:
            detail = str(error) if "must" in str(error) else f"not a valid value ({error})"
            raise FaultSpecError(f"{kind}: {name}={value.strip()!r}: {detail}") from None
    return FaultSpec(kind, params, text)


def describe_kinds() -> str:
    """Every kind and its parameters, for --help and docs."""
    lines = []
    for name, kind in KINDS.items():
        params = ", ".join(f"{p}={v.default}" for p, v in kind.params.items())
        lines.append(f"  {name}:{params}\n      {kind.help}")
    return "\n".join(lines)


def fault_seed(spec: FaultSpec, run_seed: int, index: int) -> int:
    """The seed of one fault's generator: its own, or derived from the run's and its position."""
    return spec.params["seed"] if spec.params.get("seed") is not None else run_seed * 1000 + index
