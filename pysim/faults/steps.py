"""Every fault kind as a scenario fault: ``- inject_fault: {fault: net.latency, ms: 200}``.

The scenario's ``inject_fault`` step looks faults up in its table
(:func:`pysim.scenario.register_fault`); this module adds one entry per kind of
:data:`pysim.faults.spec.KINDS`, with the kind's parameters as the step's fields. The
step builds the spec text and applies it to the session (``Session.inject_fault``),
so a scenario and ``--fault`` go through the same parser.
"""

from __future__ import annotations

from typing import Any

from pysim.scenario.schema import Field
from pysim.scenario.steps import FAULTS, FaultKind, StepContext, register_fault

from .spec import KINDS, Param


def _field(name: str, param: Param) -> Field:
    choices = getattr(param.parse, "choices", ())
    if choices:
        kind = "str"
    elif isinstance(param.default, bool):
        kind = "bool"
    elif isinstance(param.default, int):
        kind = "int"
    elif isinstance(param.default, float):
        kind = "number"
    else:
        kind = "str"
    return Field(kind, default=param.default, choices=tuple(choices),
                 minimum=0 if kind in ("int", "number") else None, help=param.help)


def _apply(kind: str):
    def apply(ctx: StepContext, args: dict[str, Any]) -> str:
        params = ",".join(f"{name}={args[name]}" for name in KINDS[kind].params if args.get(name) is not None)
        spec = f"{kind}:{params}" if params else kind
        ctx.session.inject_fault(spec)
        return f"fault on: {spec}"
    return apply


for _kind, _spec in KINDS.items():
    if _kind not in FAULTS:
        register_fault(_kind, FaultKind({name: _field(name, p) for name, p in _spec.params.items()},
                                        _apply(_kind), _spec.help))
