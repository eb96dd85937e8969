"""The process pool of the runner: workers that end with their parent and take their ngspice runs with them.

Linux: each worker sets ``PR_SET_PDEATHSIG`` (SIGTERM) and checks that its parent is still the process
that started it; SIGTERM unwinds the running job (its ngspice killed, its folder removed); Ctrl-C is left
to the parent, which then stops the pool (:func:`stop_pool`).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_all_start_methods, get_context
from multiprocessing.context import BaseContext
from typing import Any

from .processes import set_parent_death_signal


class _ParentGone(SystemExit):
    """Raised in a pool worker by SIGTERM (sent when the parent dies, or by the parent on an interruption):
    it unwinds the running simulation (ngspice killed, its folder removed) and ends the worker."""


_in_job = False


def _on_sigterm(signum: int, _frame: object) -> None:
    if not _in_job:
        os._exit(128 + signum)
    raise _ParentGone(128 + signum)


def worker_init(parent_pid: int) -> None:
    """Pool initializer: the worker ends with its parent (``PR_SET_PDEATHSIG`` = SIGTERM, and a check that
    the parent is still the one that started it); SIGTERM unwinds the running job; Ctrl-C is left to the
    parent (which then terminates the workers)."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    set_parent_death_signal(signal.SIGTERM)
    if os.getppid() != parent_pid:  # the parent died before the death signal was set
        os._exit(1)


def run_in_worker(task: Callable[..., Any], *args: Any, **options: Any) -> Any:
    """Run ``task(*args, **options)`` in a pool worker so that SIGTERM unwinds it and ends the worker."""
    global _in_job
    _in_job = True
    try:
        return task(*args, **options)
    except _ParentGone as gone:  # the simulation's finally blocks have run: ngspice killed, folder removed
        os._exit(gone.code if isinstance(gone.code, int) else 1)
    finally:
        _in_job = False


def pool_context() -> BaseContext:
    """``fork`` where the platform has it: workers only run ngspice and numpy (never torch), and
    fork needs no ``if __name__ == "__main__"`` guard in the caller's script; ``spawn`` elsewhere."""
    return get_context("fork" if "fork" in get_all_start_methods() else "spawn")


def stop_pool(pool: ProcessPoolExecutor) -> None:
    """End a pool at once (the caller was interrupted or failed): cancel what has not started, SIGTERM the
    workers (each kills its ngspice and removes its folder), SIGKILL those still alive after 5 s."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + 5.0
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join(1.0)
