"""The experiments' output helpers: summaries over seeds, CSV tables, plots, text tables."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from ..atomic import write_csv

#: A CSV row of an experiment (summary or per run): column name -> value.
Row = dict[str, Any]


def summarise(rows: Iterable[Row], keys: Sequence[str], values: Sequence[str]) -> list[Row]:
    """One row per distinct ``keys``: ``n_seeds`` and ``<value>_mean/_std/_min/_max`` over the rows whose
    value is a number (std: sample standard deviation, 0 for one row; ``None`` when no row has a number)."""
    groups: dict[tuple[Any, ...], list[Row]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in keys), []).append(row)
    summary = []
    for key, members in groups.items():
        out: Row = dict(zip(keys, key, strict=True))
        out["n_seeds"] = len(members)
        for value in values:
            numbers = [float(m[value]) for m in members if m[value] is not None and not math.isnan(float(m[value]))]
            if not numbers:  # e.g. the weight scales of a flow that has none: empty CSV cells
                out.update({f"{value}_{stat}": None for stat in ("mean", "std", "min", "max")})
                continue
            out[f"{value}_mean"] = statistics.fmean(numbers)
            out[f"{value}_std"] = statistics.stdev(numbers) if len(numbers) > 1 else 0.0
            out[f"{value}_min"] = min(numbers)
            out[f"{value}_max"] = max(numbers)
        summary.append(out)
    return summary


def write_table(path: Path, rows: list[Row]) -> Path:
    """Write rows as CSV atomically (floats rounded to 6 digits); returns the path."""
    rounded = [{k: round(v, 6) if isinstance(v, float) else v for k, v in row.items()} for row in rows]
    write_csv(path, rounded)
    return path


def write_summary(
    out: Path,
    names: tuple[str, str, str],
    runs: list[Row],
    keys: Sequence[str],
    values: Sequence[str],
    plot: Callable[[list[Row], Path], Path],
) -> list[Row]:
    """Summarise ``runs`` over seeds, write ``names = (summary CSV, per-run CSV, PNG)`` in ``out``;
    returns the summary rows."""
    csv_name, runs_csv_name, png_name = names
    summary = summarise(runs, keys, values)
    write_table(out / runs_csv_name, runs)
    write_table(out / csv_name, summary)
    plot(summary, out / png_name)
    return summary


def pyplot() -> Any:
    """``matplotlib.pyplot`` with the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure_grid(pyplot_module: Any, rows: int, columns: int, panel: tuple[float, float] = (5.4, 4.0)) -> Any:
    """``(figure, axes[rows][columns])`` sized per panel, at least 6.4 inches wide so titles fit."""
    rows, columns = max(rows, 1), max(columns, 1)
    size = (max(6.4, panel[0] * columns), panel[1] * rows)
    return pyplot_module.subplots(rows, columns, figsize=size, squeeze=False)


def log_axis_ticks(ax: Any, values: Iterable[float], base: float = 10) -> None:
    """A log-scaled x axis whose ticks are exactly ``values``, labelled as plain numbers."""
    ticks = sorted(set(values))
    ax.set_xscale("log", base=base)
    ax.set_xticks(ticks, labels=[f"{v:g}" for v in ticks])
    ax.minorticks_off()


def percent(value: float | None) -> str:
    """A fraction as a 6-wide percentage for the text tables (``-`` for none)."""
    return "   -  " if value is None else f"{100 * value:6.2f}"
