"""The step kinds of a scenario: one class a kind, registered in ``STEPS``.

A step class names its fields (``fields``, checked by the loader), the field a
bare value stands for (``main``: ``- wait_console: "^BOOT"``) and ``run(ctx)``,
which does the step against a running session and returns a short detail for the
report, or raises (``AssertionError``, ``TimeoutError``, ...) with what went wrong.
Another module adds a kind with ``@register_step``; a fault with ``register_fault``.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable, ClassVar

from pysim.uart import TA_TO_TE, TE_TO_TA

from .schema import Field, ScenarioError, unwrap

DEFAULT_TIMEOUT = 10.0


@dataclass
class StepContext:
    """What a step runs against: the session, the device's names for ``${pk}``/``${dn}``,
    and facts the steps found (shown in the report)."""

    session: Any                       # pysim.session.Session, started
    skip_faults: bool = False
    facts: dict[str, Any] | None = None

    def fact(self, key: str, value: Any) -> None:
        if self.facts is not None:
            self.facts[key] = value

    def substitute(self, text: str) -> str:
        pk, dn = self.session.device
        return text.replace("${pk}", pk).replace("${dn}", dn)


class Step:
    kind: ClassVar[str]
    fields: ClassVar[dict[str, Field]] = {}
    main: ClassVar[str | None] = None
    summary: ClassVar[str] = ""

    def __init__(self, args: dict[str, Any], *, index: int = 0, line: int = 0, path: str = "") -> None:
        self.args, self.index, self.line, self.path = args, index, line, path

    @classmethod
    def schema(cls, body: dict[str, Any]) -> dict[str, Field]:
        """The fields this step's body is checked against (a kind may depend on the body)."""
        return cls.fields

    def describe(self) -> str:
        main = self.args.get(self.main) if self.main else None
        return f"{self.kind} {main!r}" if main is not None else self.kind

    async def run(self, ctx: StepContext) -> str:
        raise NotImplementedError


STEPS: dict[str, type[Step]] = {}


def register_step(cls: type[Step]) -> type[Step]:
    """Add a step kind to the table (a class decorator)."""
    if cls.kind in STEPS:
        raise ValueError(f"step kind {cls.kind!r} is registered already")
    STEPS[cls.kind] = cls
    return cls


def timeout_field() -> Field:
    return Field("number", default=DEFAULT_TIMEOUT, minimum=0, help=f"seconds to wait (default {DEFAULT_TIMEOUT:g})")


@register_step
class WaitConsole(Step):
    kind = "wait_console"
    main = "regex"
    summary = "wait for a console line matching `regex`; later waits search after the line found"
    fields = {"regex": Field("regex", required=True, help="searched in each console line"), "timeout": timeout_field()}

    async def run(self, ctx: StepContext) -> str:
        match = await ctx.session.expect_console(ctx.substitute(self.args["regex"]), self.args["timeout"])
        return f"console: {match.string!r}"


DIRECTIONS = {"either": None, "to_module": TE_TO_TA, "from_module": TA_TO_TE, TE_TO_TA: TE_TO_TA, TA_TO_TE: TA_TO_TE}


@register_step
class WaitUart(Step):
    kind = "wait_uart"
    main = "regex"
    summary = "wait for an AT line on the UART between firmware and module matching `regex`"
    fields = {"regex": Field("regex", required=True, help="searched in each AT line, without its CR/LF"),
              "direction": Field("str", default="either", choices=tuple(DIRECTIONS),
                                 help="to_module (TE->TA), from_module (TA->TE) or either"),
              "timeout": timeout_field()}

    async def run(self, ctx: StepContext) -> str:
        match = await ctx.session.expect_uart(ctx.substitute(self.args["regex"]), self.args["timeout"],
                                              DIRECTIONS[self.args["direction"]])
        return f"uart: {match.string!r}"


@register_step
class WriteConsole(Step):
    kind = "write_console"
    main = "text"
    summary = "write `text` and then `end` to the firmware's console input"
    fields = {"text": Field("str", required=True, help="what to write (YAML escapes such as \\r work in double quotes)"),
              "end": Field("str", default="\n", help="written after the text (default a LF)")}

    async def run(self, ctx: StepContext) -> str:
        data = ctx.substitute(self.args["text"]) + self.args["end"]
        ctx.session.write_console(data)
        return f"wrote {data!r}"


@register_step
class ExpectAbsent(Step):
    kind = "expect_absent"
    main = "regex"
    summary = "fail when a line matching `regex` comes within the next `window` seconds"
    fields = {"regex": Field("regex", required=True), "window": Field("number", default=2.0, minimum=0,
                                                                      help="seconds to watch (default 2)"),
              "source": Field("str", default="console", choices=("console", "uart"), help="console or uart")}

    async def run(self, ctx: StepContext) -> str:
        buffer = ctx.session.console if self.args["source"] == "console" else ctx.session.uart
        await buffer.expect_not(ctx.substitute(self.args["regex"]), self.args["window"])
        return f"no match for {self.args['window']:g} s"


def _cloud(ctx: StepContext) -> Any:
    side = ctx.session.cloud_side
    if side is None:
        raise AssertionError("this run has no cloud to talk to")
    return side


@register_step
class ExpectMessage(Step):
    kind = "expect_message"
    main = "topic"
    summary = "wait for an MQTT message at the cloud on `topic` (wildcards allowed) whose payload matches `payload`"
    fields = {"topic": Field("str", required=True, help="${pk} and ${dn} stand for the device's names"),
              "payload": Field("regex", help="searched in the payload (default: any payload)"),
              "timeout": timeout_field()}

    async def run(self, ctx: StepContext) -> str:
        payload = self.args["payload"]
        message = await _cloud(ctx).expect_message(ctx.substitute(self.args["topic"]),
                                                   ctx.substitute(payload) if payload else None, self.args["timeout"])
        return f"{message.topic} {message.text[:80]!r}"


@register_step
class Publish(Step):
    kind = "publish"
    main = "topic"
    summary = "publish `payload` on `topic` from the cloud (to the device when it subscribed)"
    fields = {"topic": Field("str", required=True), "payload": Field("str", default=""),
              "qos": Field("int", default=1, choices=(0, 1, 2))}

    async def run(self, ctx: StepContext) -> str:
        topic, payload = ctx.substitute(self.args["topic"]), ctx.substitute(self.args["payload"])
        await _cloud(ctx).publish(topic, payload.encode(), self.args["qos"])
        return f"{topic} {payload!r}"


@register_step
class ExpectRequest(Step):
    kind = "expect_request"
    main = "protocol"
    summary = "wait for a CoAP or HTTP request of the device at the cloud (past or future) whose path matches `path`"
    fields = {"protocol": Field("str", required=True, choices=("coap", "http")),
              "path": Field("regex", help="searched in the request's path (default: any)"),
              "timeout": timeout_field()}

    async def run(self, ctx: StepContext) -> str:
        path = self.args["path"]
        event = await _cloud(ctx).expect_request(self.args["protocol"], ctx.substitute(path) if path else None,
                                                 self.args["timeout"])
        return str(event)


@register_step
class PushOta(Step):
    kind = "push_ota"
    main = "version"
    summary = "announce an OTA image to the device: `file`, or `size` seeded random bytes"
    fields = {"version": Field("str", required=True), "size": Field("int", minimum=1, help="bytes of a random image"),
              "file": Field("str", help="the image file (relative to the scenario file)"),
              "seed": Field("int", default=7, help="seed of the random image (default 7)")}

    def __init__(self, args: dict[str, Any], **where: Any) -> None:
        super().__init__(args, **where)
        if (args["size"] is None) == (args["file"] is None):
            raise ValueError("give exactly one of `size` and `file`")

    def image(self) -> bytes:
        if self.args["file"]:
            path = Path(self.path).parent / self.args["file"]
            try:
                return path.read_bytes()
            except OSError as error:
                raise AssertionError(f"cannot read the OTA image {path}: {error.strerror}") from None
        return random.Random(self.args["seed"]).randbytes(self.args["size"])

    async def run(self, ctx: StepContext) -> str:
        image = self.image()
        await _cloud(ctx).push_ota(ctx.session.device, image, self.args["version"])
        md5 = hashlib.md5(image).hexdigest()
        ctx.fact("ota image", f"{len(image)} bytes, version {self.args['version']}, md5 {md5}")
        return f"{len(image)} bytes, md5 {md5}"


@register_step
class Delay(Step):
    kind = "delay"
    main = "seconds"
    summary = "let `seconds` pass (prefer a wait: a delay is for when nothing can be waited on)"
    fields = {"seconds": Field("number", required=True, minimum=0)}

    async def run(self, ctx: StepContext) -> str:
        await asyncio.sleep(self.args["seconds"])
        return f"{self.args['seconds']:g} s"


@register_step
class WaitExit(Step):
    kind = "wait_exit"
    main = "code"
    summary = "wait for the firmware to exit (semihosting) and check its exit code"
    fields = {"code": Field("int", default=0, help="the expected exit code (default 0)"), "timeout": timeout_field()}

    async def run(self, ctx: StepContext) -> str:
        code = await ctx.session.wait_exit(self.args["timeout"])
        if code is None:
            raise TimeoutError(f"the firmware still runs after {self.args['timeout']:g} s; "
                               f"last console lines: {ctx.session.console.tail(3)}")
        ctx.fact("firmware exit code", code)
        if code != self.args["code"]:
            raise AssertionError(f"the firmware exited with {code}, expected {self.args['code']}; "
                                 f"last console lines: {ctx.session.console.tail(3)}")
        return f"exit code {code}"


# ---- faults: the inject_fault step and its table --------------------------------------

@dataclass(frozen=True)
class FaultKind:
    """A fault a scenario can inject: its own fields and what injecting it does."""

    fields: dict[str, Field]
    apply: Callable[[StepContext, dict[str, Any]], Awaitable[str] | str]
    summary: str = ""


FAULTS: dict[str, FaultKind] = {}


def register_fault(name: str, kind: FaultKind) -> None:
    """Make ``- inject_fault: {fault: NAME, ...}`` available."""
    if name in FAULTS:
        raise ValueError(f"fault {name!r} is registered already")
    FAULTS[name] = kind


def _module_faults(ctx: StepContext) -> Any:
    module = ctx.session.module
    if module is None:
        raise AssertionError("no module to inject a fault into")
    return module.config.faults


def _corrupt_ota_block(ctx: StepContext, args: dict[str, Any]) -> str:
    _module_faults(ctx).corrupt_ota_blocks.add(args["block"])
    return f"OTA block {args['block']} will be corrupted on the UART once"


def _corrupt_ota_image(ctx: StepContext, args: dict[str, Any]) -> str:
    _module_faults(ctx).corrupt_ota_image = True
    return "downloaded images will fail their MD5 check"


register_fault("corrupt_ota_block", FaultKind({"block": Field("int", required=True, minimum=0)}, _corrupt_ota_block,
                                              "corrupt OTA block `block` on the UART the first time it is sent"))
register_fault("corrupt_ota_image", FaultKind({}, _corrupt_ota_image, "corrupt downloaded images (MD5 fails)"))


@register_step
class InjectFault(Step):
    kind = "inject_fault"
    main = "fault"
    summary = "inject a fault by name (see the fault table); skipped by `pysim run --no-faults`"
    fields = {"fault": Field("str", required=True)}

    @classmethod
    def schema(cls, body: dict[str, Any]) -> dict[str, Field]:
        name = unwrap(body.get("fault"))
        kind = FAULTS.get(name) if isinstance(name, str) else None
        if kind is None:
            raise ScenarioError(f"unknown fault {name!r}; known: {', '.join(FAULTS)}")
        return {**cls.fields, **kind.fields}

    def describe(self) -> str:
        return f"inject_fault {self.args['fault']}"

    async def run(self, ctx: StepContext) -> str:
        if ctx.skip_faults:
            return "skipped (--no-faults)"
        result = FAULTS[self.args["fault"]].apply(ctx, self.args)
        if asyncio.iscoroutine(result):
            result = await result
        return str(result)
