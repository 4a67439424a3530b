"""No orphans: a process pysim starts (an emulator, a fleet's shard, mosquitto) gets a
signal when the thread that started it ends, even by SIGKILL (Linux ``PR_SET_PDEATHSIG``;
elsewhere nothing). Emulators get SIGKILL (a killed ``pysim run`` or pytest leaves no
QEMU or Renode running); a shard SIGTERM, which stops it cleanly (its emulators with it);
mosquitto SIGTERM.

The signal follows the *thread* that forked the child: start processes from a thread
that lives as long as they do (an event loop's thread does)."""

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
    """Have ``signum`` sent to this process when its parent (thread) ends: for a child,
    as ``preexec_fn`` or first thing in its main."""
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, int(signum), 0, 0, 0)


def killed_with_parent() -> None:
    """``preexec_fn`` of a child with nothing to save: SIGKILL when its parent (thread) ends."""
    signal_when_parent_dies(signal.SIGKILL)

