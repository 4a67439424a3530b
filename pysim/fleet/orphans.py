"""No orphans: a process the fleet starts (a shard, mosquitto) is sent SIGTERM when its
parent dies, even by SIGKILL (Linux ``PR_SET_PDEATHSIG``; elsewhere nothing). SIGTERM
stops a shard cleanly (its emulators with it) and mosquitto at once."""

from __future__ import annotations

import ctypes
import signal

PR_SET_PDEATHSIG = 1
try:
    _LIBC = ctypes.CDLL(None, use_errno=True)   # looked up in the parent: a preexec_fn stays small
    _PRCTL = _LIBC.prctl
except (OSError, AttributeError):
    _PRCTL = None


def signal_when_parent_dies(signum: int = signal.SIGTERM) -> None:
    """Have ``signum`` sent to this process when its parent (thread) ends."""
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, int(signum), 0, 0, 0)
