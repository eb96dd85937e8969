"""DSTD's end-potential error against the exact solution, and membrane traces (paper Fig. 2c-d, 3a-b)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import torch

from .. import functional as fn
from ..atomic import save_figure, write_json


def random_layer(
    batch: int, n_in: int, n_out: int, *, seed: int = 0, dtype: torch.dtype = torch.float64
) -> tuple[torch.Tensor, torch.Tensor]:
    """Input spike times uniform in ``[0, 1]`` and weights ``N(0, (2/sqrt(N_in))²)``.

    The weight scale makes ``Σ w (1 - t)`` about 1 in magnitude, so that ``|E±|`` of 1 to 10 matters.
    """
    generator = torch.Generator().manual_seed(seed)
    times = torch.rand(batch, n_in, generator=generator, dtype=dtype)
    weight = 2.0 / math.sqrt(n_in) * torch.randn(n_out, n_in, generator=generator, dtype=dtype)
    return times, weight


def end_potential_errors(
    e_revs: Sequence[float],
    steps: Sequence[int],
    *,
    batch: int = 100,
    n_in: int = 1000,
    n_out: int = 100,
    seed: int = 0,
) -> dict[float, dict[int, float]]:
    """Mean absolute error of DSTD's end potential ``v(1)`` against exact, ``{|E±|: {M: error}}``."""
    times, weight = random_layer(batch, n_in, n_out, seed=seed)
    errors: dict[float, dict[int, float]] = {}
    for e_rev in e_revs:
        kw = {"e_rev_pos": e_rev, "e_rev_neg": -e_rev}
        exact = fn.rc_spike_potential(times, weight, **kw)
        errors[e_rev] = {
            m: float((fn.rc_spike_potential(times, weight, method="dstd", steps=m, **kw) - exact).abs().mean())
            for m in steps
        }
    return errors


def format_error_table(errors: dict[float, dict[int, float]]) -> str:
    """A text table: one row per ``M``, one column per ``|E±|``, with the ratio to the previous row."""
    e_revs = list(errors)
    steps = list(errors[e_revs[0]])
    header = "M".rjust(4) + "".join(f"   |E|={e:<6g} err (ratio)" for e in e_revs)
    lines = [header]
    for i, m in enumerate(steps):
        cells = []
        for e in e_revs:
            ratio = errors[e][steps[i - 1]] / errors[e][m] if i else float("nan")
            cells.append(f"{errors[e][m]:>12.3e} ({ratio:4.2f})" if i else f"{errors[e][m]:>12.3e}       ")
        lines.append(f"{m:>4}" + "".join(f"   {c:<22}" for c in cells))
    return "\n".join(lines)


def plot_membrane_traces(
    out_png: Path,
    *,
    e_revs: Sequence[float] = (1.0, 2.0, 10.0),
    steps: Sequence[int] = (3, 10),
    n_in: int = 1000,
    n_neurons: int = 3,
    seed: int = 0,
) -> Path:
    """Membrane potential of a few neurons driven by ``n_in`` random spikes, exact against DSTD.

    The neurons' mean drives range from strongly positive (ideal ``v(1)`` about 2) to negative
    (about -1), so the panels show saturation at small ``|E±|``. One panel per ``|E±|``; solid lines
    exact, dashed DSTD with each ``M`` (offset 0). Writes a PNG.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    generator = torch.Generator().manual_seed(seed)
    times = torch.rand(1, n_in, generator=generator, dtype=torch.float64)
    # Neuron i: weights (m_i + U(-1, 1)) * 2 / N_in, so that the ideal v(1) is about m_i.
    mean_drive = torch.linspace(2.0, -1.0, n_neurons, dtype=torch.float64).unsqueeze(1)
    noise = 2.0 * torch.rand(n_neurons, n_in, generator=generator, dtype=torch.float64) - 1.0
    weight = (mean_drive + noise) * 2.0 / n_in
    query = torch.linspace(0.0, 1.0, 401, dtype=times.dtype)
    fig, axes = plt.subplots(1, len(e_revs), figsize=(4.2 * len(e_revs), 3.6), sharey=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    from matplotlib.lines import Line2D

    styles = dict(zip(steps, ("--", ":", "-."), strict=False))
    for ax, e_rev in zip(axes, e_revs, strict=True):
        kw = {"e_rev_pos": e_rev, "e_rev_neg": -e_rev}
        exact = fn.rc_spike_potential_trace(times, weight, query, **kw)[0]
        for i in range(n_neurons):
            ax.plot(query, exact[i], color=colors[i], lw=1.6)
            for m, style in styles.items():
                dstd = fn.rc_spike_potential_trace(times, weight, query, method="dstd", steps=m, **kw)[0]
                ax.plot(query, dstd[i], color=colors[i], ls=style, lw=1.1)
        ax.axhline(e_rev, color="grey", lw=0.6)
        ax.axhline(-e_rev, color="grey", lw=0.6)
        ax.set_title(f"|E±| = {e_rev:g} (grey lines: E+ and E-)")
        ax.set_xlabel("time t (normalised, 1 = one phase)")
        ax.set_ylabel("membrane potential v (normalised)")
    solver_handles = [Line2D([], [], color="black", lw=1.6, label="exact (event-driven)")] + [
        Line2D([], [], color="black", ls=style, lw=1.1, label=f"DSTD, M = {m}") for m, style in styles.items()
    ]
    neuron_handles = [
        Line2D([], [], color=colors[i], lw=3, label=f"neuron {i + 1}: ideal v(1) ≈ {float(mean_drive[i]):.1f}")
        for i in range(n_neurons)
    ]
    solver_legend = axes[0].legend(
        handles=solver_handles, fontsize=7, loc="upper left", title="line style", title_fontsize=7
    )
    axes[0].add_artist(solver_legend)
    axes[-1].legend(handles=neuron_handles, fontsize=7, loc="upper left", title="colour", title_fontsize=7)
    fig.suptitle(f"IMC-aware neurons driven by {n_in} random input spikes: exact vs DSTD")
    fig.tight_layout()
    return save_figure(fig, out_png)


ERROR_FIGURE_E_REVS = (1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 50.0, 100.0, 300.0, 1000.0)
ERROR_FIGURE_STEPS = (2, 4, 8, 16, 32, 64, 128, 256)


def plot_error_figures(
    out_dir: Path,
    *,
    e_revs: Sequence[float] = ERROR_FIGURE_E_REVS,
    steps: Sequence[int] = ERROR_FIGURE_STEPS,
    curves_vs_steps: Sequence[float] = (1.0, 3.0, 10.0, 100.0, 1000.0),
    curves_vs_e_rev: Sequence[int] = (4, 16, 64, 256),
    batch: int = 100,
    n_in: int = 1000,
    n_out: int = 50,
    seed: int = 0,
) -> dict[str, object]:
    """The paper's Fig. 3a-b: DSTD's mean end-potential error against ``M`` and against ``|E±|``, log-log.

    Errors from :func:`end_potential_errors` (float64, offset 0, ``E- = -E+``) on ``batch`` samples of
    ``n_in`` inputs uniform in ``[0, 1]`` and ``n_out`` neurons, for every ``|E±|`` in ``e_revs`` and ``M``
    in ``steps``. Writes ``error_vs_steps.png`` (one curve per ``|E±|`` in ``curves_vs_steps``, guide
    ``∝ M^-2``), ``error_vs_erev.png`` (one curve per ``M`` in ``curves_vs_e_rev``, guide ``∝ |E|^-1``) and
    ``end_potential_errors.json``. Returns the errors and the paths.
    """
    e_revs = sorted({*e_revs, *curves_vs_steps})
    steps = sorted({*steps, *curves_vs_e_rev})
    errors = end_potential_errors(e_revs, steps, batch=batch, n_in=n_in, n_out=n_out, seed=seed)
    out_dir = Path(out_dir)
    setup = f"{batch} samples x {n_out} neurons, {n_in} inputs uniform in [0, 1], float64, offset 0"

    anchor_e, m_ref = curves_vs_steps[len(curves_vs_steps) // 2], steps[-1]
    png_steps = _error_figure(
        steps,
        {f"|E±| = {e:g}": [errors[e][m] for m in steps] for e in curves_vs_steps},
        ("∝ M⁻²", [errors[anchor_e][m_ref] * (m_ref / m) ** 2 for m in steps]),
        "DSTD steps M",
        "End-potential error against M (cf. paper Fig. 3a)",
        setup,
        out_dir / "error_vs_steps.png",
    )
    anchor_m, e_ref = curves_vs_e_rev[-1], e_revs[-1]
    png_e_rev = _error_figure(
        e_revs,
        {f"M = {m}": [errors[e][m] for e in e_revs] for m in curves_vs_e_rev},
        ("∝ |E|⁻¹", [errors[e_ref][anchor_m] * e_ref / e for e in e_revs]),
        "|E±| (E+ = -E-)",
        "End-potential error against |E±| (cf. paper Fig. 3b)",
        setup,
        out_dir / "error_vs_erev.png",
    )
    table = {f"{e:g}": {str(m): err for m, err in row.items()} for e, row in errors.items()}
    data = {"setup": setup, "errors": table, "png": [str(png_steps), str(png_e_rev)]}
    write_json(out_dir / "end_potential_errors.json", data)
    return {"errors": errors, "error_vs_steps": png_steps, "error_vs_erev": png_e_rev}


def _error_figure(
    x: Sequence[float],
    curves: dict[str, list[float]],
    guide: tuple[str, list[float]],
    x_label: str,
    title: str,
    setup: str,
    out_png: Path,
) -> Path:
    """One log-log panel of DSTD's end-potential error: dashed curves, a solid guide line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.6, 4.4))
    for label, values in curves.items():
        ax.loglog(x, values, "o--", ms=4, label=label)
    ax.loglog(x, guide[1], "k-", lw=1.0, label=guide[0])
    ax.set_xlabel(x_label)
    ax.set_ylabel("mean |v_DSTD(1) - v_exact(1)|")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.text(0.01, 0.01, setup, fontsize=6.5)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return save_figure(fig, out_png)
