"""Progress of a comparison's simulations: a bar with an ETA over every ngspice run it may still start.

A comparison does not know in advance how many simulations it runs: each flow's scale search stops
when it converges. It does know the most it can run (:meth:`ScaleSearchOptions.evaluation_bound`
scale points, each simulating every calibration sample, then the test samples), so the bar's total
starts at that bound and shrinks when a search ends early (:meth:`SimulationProgress.settle`). The
ETA is therefore an upper bound until the last search has ended, and exact (at the measured rate)
after. Results reused from an earlier run of the same folder count as done without taking time.

With a terminal the bar is tqdm's (on stderr); without one (a log file, CI) a line goes to ``log``
at every tenth of the planned total, so a long run in the background still says how far it is.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from .jobs import SampleResult

try:  # tqdm is a dependency; a bare environment still runs, with log lines only
    from tqdm.auto import tqdm
except ImportError:  # pragma: no cover
    tqdm = None


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class SimulationProgress:
    """Counts the simulations of a comparison against the most it may still run.

    ``plan(n)`` adds ``n`` simulations the run may start (a search's bound, a flow's test samples);
    ``reused(n)`` counts results taken from the folder's cache; ``finished(result)`` one simulation
    run now; ``settle(n)`` removes ``n`` planned simulations that will not run (a search that ended
    before its bound). ``bar``: None picks tqdm when stderr is a terminal, else log lines.
    """

    def __init__(self, log: Callable[[str], None] = print, *, bar: bool | None = None) -> None:
        self.log = log
        self.planned = 0
        self.done = 0
        self.simulated = 0
        self.failed = 0
        self._simulated_time = 0.0
        self._started = time.perf_counter()
        self._last_logged_tenth = 0
        use_bar = (sys.stderr.isatty() if bar is None else bar) and tqdm is not None
        self._bar = tqdm(total=0, unit="sim", desc="simulations", dynamic_ncols=True) if use_bar else None

    def plan(self, n: int) -> None:
        self.planned += int(n)
        self._refresh()

    def settle(self, n: int) -> None:
        self.planned = max(self.done, self.planned - int(n))
        self._refresh()

    def reused(self, n: int) -> None:
        self.done += int(n)
        self._refresh(advanced=int(n))

    def finished(self, result: SampleResult) -> None:
        self.done += 1
        self.simulated += 1
        self.failed += 0 if result.ok else 1
        self._refresh(advanced=1)

    @property
    def rate(self) -> float | None:
        """Simulations per second since the first one run here (None before any)."""
        elapsed = time.perf_counter() - self._started
        return self.simulated / elapsed if self.simulated and elapsed > 0 else None

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the measured rate if every planned simulation runs (an upper bound)."""
        rate = self.rate
        return (self.planned - self.done) / rate if rate else None

    def status(self) -> str:
        """``done/planned simulations, elapsed, ETA`` as one line."""
        eta = self.eta_s
        return (
            f"{self.done}/{self.planned} simulations ({self.simulated} run here"
            + (f", {self.failed} failed" if self.failed else "")
            + f"), {_duration(time.perf_counter() - self._started)} elapsed"
            + (f", at most {_duration(eta)} left" if eta is not None else "")
        )

    def _refresh(self, advanced: int = 0) -> None:
        self.planned = max(self.planned, self.done)  # an uncapped search runs more than was planned
        if self._bar is not None:
            self._bar.total = self.planned
            if advanced:
                self._bar.update(advanced)
            else:
                self._bar.refresh()
            if self.failed:
                self._bar.set_postfix(failed=self.failed, refresh=False)
            return
        if advanced and self.planned:
            tenth = min(10, self.done * 10 // self.planned)
            if tenth > self._last_logged_tenth:
                self._last_logged_tenth = tenth
                self.log(self.status())

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


__all__ = ["SimulationProgress"]
