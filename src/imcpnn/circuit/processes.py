"""Child processes that end with the process that started them (ngspice runs, the runner's pool workers).

Linux ``prctl(PR_SET_PDEATHSIG)`` where it can be set safely, and a process group of its own for every
ngspice run, killed as a whole when the run ends early (timeout, exception, interruption).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.restype = ctypes.c_int
    return prctl


#: ``prctl(2)``, resolved at import (not in a freshly forked child); None off Linux.
_PRCTL = _load_prctl()


def set_parent_death_signal(sig: int) -> bool:
    """Ask the kernel to send ``sig`` to this process when its parent (the thread that forked it) ends
    (Linux ``PR_SET_PDEATHSIG``); returns False where that is not available."""
    if _PRCTL is None:
        return False
    return _PRCTL(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0


def _single_threaded() -> bool:
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


def _child_dies_with_parent() -> None:  # runs in the forked child, before exec
    _PRCTL(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)  # type: ignore[misc]


def spawn_options() -> dict[str, object]:
    """``Popen`` options of an ngspice run: its own process group (killed as a whole when the run ends
    early: timeout, exception, interruption) and, on Linux, a SIGKILL when its parent dies. The latter runs
    Python between fork and exec, which is safe only in a single-threaded process (the runner's pool
    workers); a multi-threaded caller relies on the process group."""
    options: dict[str, object] = {"start_new_session": True}
    if _PRCTL is not None and _single_threaded():
        options["preexec_fn"] = _child_dies_with_parent
    return options


def kill_group(process: subprocess.Popen[str]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            process.kill()
        except ProcessLookupError:
            pass
