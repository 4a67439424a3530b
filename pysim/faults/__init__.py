"""Fault injection on every link: network (a proxy between module and cloud), the
module itself, and the UART between MCU and module. One spec format
(:mod:`pysim.faults.spec`, docs/faults.md), one controller that applies specs to a
running system (:mod:`pysim.faults.controller`)."""

from .controller import FaultController, FaultError, FaultHandle
from .spec import KINDS, FaultSpec, FaultSpecError, describe_kinds, parse_fault
from . import steps as _scenario_faults   # noqa: F401  every kind becomes a scenario fault (inject_fault)

__all__ = ["KINDS", "FaultController", "FaultError", "FaultHandle", "FaultSpec", "FaultSpecError",
           "describe_kinds", "parse_fault"]
