"""DSTD's end-potential error against the exact solution, and membrane traces (paper Fig. 2c-d, 3a-b)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import torch

from .. import functional as fn


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
    (about -1), so the panels show saturation at small ``|E±|``. One panel per ``|E±|``; solid lines exact, dashed DSTD with each ``M`` (offset 0). Writes a PNG.
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
    for ax, e_rev in zip(axes, e_revs, strict=True):
        kw = {"e_rev_pos": e_rev, "e_rev_neg": -e_rev}
        exact = fn.rc_spike_potential_trace(times, weight, query, **kw)[0]
        for i in range(n_neurons):
            ax.plot(query, exact[i], color=colors[i], lw=1.6, label="exact" if i == 0 else None)
            for m, style in zip(steps, ("--", ":", "-."), strict=False):
                dstd = fn.rc_spike_potential_trace(times, weight, query, method="dstd", steps=m, **kw)[0]
                ax.plot(query, dstd[i], color=colors[i], ls=style, lw=1.1, label=f"DSTD M={m}" if i == 0 else None)
        ax.axhline(e_rev, color="grey", lw=0.6)
        ax.axhline(-e_rev, color="grey", lw=0.6)
        ax.set_title(f"|E±| = {e_rev:g}")
        ax.set_xlabel("time t (normalised, 1 = one phase)")
        ax.set_ylabel("membrane potential v (normalised)")
    axes[0].legend(fontsize=8, loc="best")
    fig.suptitle(f"IMC-aware neurons driven by {n_in} random input spikes: exact vs DSTD")
    fig.tight_layout()
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_png.with_name(out_png.stem + ".tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    tmp.replace(out_png)
    return out_png
