"""The benchmark's workload: one fully connected layer, its data and one forward + backward pass.

Everything that differs between neuron families is one row of :data:`BENCH_FAMILIES`: DSTD's steps,
the weights drawn, the public functional called, the torchdiffeq solve of the ODE baseline and how
that baseline is sized. The rest of :mod:`imcpnn.benchmarks` looks a family up there.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .. import functional as fn
from ..families import FAMILIES, NeuronFamily, ttfs_weight_bound
from ..params import NeuronParams, SolverSettings
from . import ode as ode_solver
from .records import OdeSolveOptions
from .settings import BenchSettings, OdeBaselineSettings

METHODS = ("exact", "dstd", "ode")

#: ``(n_in, n_out, settings, generator, dtype) -> weight [N_out, N_in]`` on the CPU.
WeightDraw = Callable[[int, int, BenchSettings, torch.Generator, torch.dtype], torch.Tensor]
#: ``(times, weight, params, solver) -> output spike times``, through :mod:`imcpnn.functional`.
SpikeTimes = Callable[[torch.Tensor, torch.Tensor, NeuronParams, SolverSettings], torch.Tensor]
#: ``(times, weight, params, options, stats) -> output spike times`` of the torchdiffeq baseline.
OdeSpikeTimes = Callable[
    [torch.Tensor, torch.Tensor, NeuronParams, OdeSolveOptions, dict[str, int] | None], torch.Tensor
]


@dataclass(frozen=True)
class OdeSize:
    """A family's own sizes of the ODE baseline (``None``: the general one)."""

    n_out: int | None
    samples: int | None
    sweep_samples: int | None


@dataclass(frozen=True)
class BenchFamily:
    """How the benchmark runs one neuron family (a row of :data:`BENCH_FAMILIES`).

    Attributes:
        family: the registry's family (name, time window).
        steps: DSTD's grid intervals ``M`` from the settings.
        draw_weight: the layer's weights (see :func:`make_weight`).
        spike_times: the layer's output spike times through the public functional API.
        ode_spike_times: the same layer integrated by torchdiffeq (:mod:`imcpnn.benchmarks.ode`).
        ode_dense_output: whether that solve samples the potential on ``[0, T]`` (``n_eval`` points).
        ode_enabled: whether the ODE baseline runs this family.
        ode_size: the family's own sizes of the ODE baseline.
        summary_prefix: prefix of the family's keys in the summary (``rcspike_time_ratio``).
        bound_summary_prefix: prefix of its bound's keys there (RC-Spike's is the paper's unprefixed
            ``dstd_over_bound``).
    """

    family: NeuronFamily
    steps: Callable[[BenchSettings], int]
    draw_weight: WeightDraw
    spike_times: SpikeTimes
    ode_spike_times: OdeSpikeTimes
    ode_dense_output: bool
    ode_enabled: Callable[[OdeBaselineSettings], bool]
    ode_size: Callable[[OdeBaselineSettings], OdeSize]
    summary_prefix: str
    bound_summary_prefix: str

    @property
    def name(self) -> str:
        return self.family.name

    def ode_options(self, rtol: float, *, adjoint: bool = False, n_eval: int = 401) -> OdeSolveOptions:
        """The torchdiffeq solve at ``rtol = atol``; ``n_eval`` only for a dense-output family."""
        return OdeSolveOptions(rtol=rtol, atol=rtol, adjoint=adjoint, n_eval=n_eval if self.ode_dense_output else None)


def _normal_weight(n_in: int, n_out: int, settings: BenchSettings, generator: torch.Generator, dtype: torch.dtype):
    """``N(0, (2/sqrt(N_in))²)``: ``Σ w (1 - t)`` is about 1 in magnitude."""
    return 2.0 / math.sqrt(n_in) * torch.randn(n_out, n_in, generator=generator, dtype=dtype)


def _ttfs_weight(n_in: int, n_out: int, settings: BenchSettings, generator: torch.Generator, dtype: torch.dtype):
    """``U(-b/2, 3b/2)``, ``b`` the TTFS initialisation's bound (one layer, ``t_ref``)."""
    bound = ttfs_weight_bound(n_in, 1, settings.e_rev, t_ref=settings.ttfs_t_ref)
    return bound * (2.0 * torch.rand(n_out, n_in, generator=generator, dtype=dtype) - 0.5)


def _rc_spike_times(times, weight, params: NeuronParams, solver: SolverSettings) -> torch.Tensor:
    return fn.rc_spike_times(
        times, weight, e_rev_pos=params.e_rev_pos, e_rev_neg=params.e_rev_neg, leak=params.leak,
        beta_dis=params.beta_dis, method=solver.method, steps=solver.steps, offset=solver.offset,
    )  # fmt: skip


def _ttfs_spike_times(times, weight, params: NeuronParams, solver: SolverSettings) -> torch.Tensor:
    return fn.ttfs_spike_times(
        times, weight, e_rev_pos=params.e_rev_pos, e_rev_neg=params.e_rev_neg, window=params.window,
        leak=params.leak, threshold=params.threshold, method=solver.method, steps=solver.steps, offset=solver.offset,
    )  # fmt: skip


def _ode_rc_spike_times(times, weight, params: NeuronParams, options: OdeSolveOptions, stats) -> torch.Tensor:
    return ode_solver.rc_spike_times(
        times, weight, params.e_rev_pos, rtol=options.rtol, atol=options.atol, adjoint=options.adjoint, stats=stats
    )


def _ode_ttfs_spike_times(times, weight, params: NeuronParams, options: OdeSolveOptions, stats) -> torch.Tensor:
    return ode_solver.ttfs_spike_times(
        times, weight, params.e_rev_pos, params.window, rtol=options.rtol, atol=options.atol,
        adjoint=options.adjoint, n_eval=options.n_eval or 401, threshold=params.threshold, stats=stats,
    )  # fmt: skip


#: Every benchmarked family by name (the order of the tables and of the runs).
BENCH_FAMILIES: dict[str, BenchFamily] = {
    bench.name: bench
    for bench in (
        BenchFamily(
            family=FAMILIES["rcspike"],
            steps=lambda settings: settings.rc_steps,
            draw_weight=_normal_weight,
            spike_times=_rc_spike_times,
            ode_spike_times=_ode_rc_spike_times,
            ode_dense_output=False,
            ode_enabled=lambda options: True,
            ode_size=lambda o: OdeSize(o.rcspike_n_out, o.rcspike_samples, o.rcspike_sweep_samples),
            summary_prefix="rcspike_",
            bound_summary_prefix="",
        ),
        BenchFamily(
            family=FAMILIES["ttfs"],
            steps=lambda settings: settings.ttfs_steps,
            draw_weight=_ttfs_weight,
            spike_times=_ttfs_spike_times,
            ode_spike_times=_ode_ttfs_spike_times,
            ode_dense_output=True,
            ode_enabled=lambda options: options.ttfs,
            ode_size=lambda o: OdeSize(o.ttfs_n_out, o.ttfs_samples, o.ttfs_sweep_samples),
            summary_prefix="ttfs_",
            bound_summary_prefix="ttfs_",
        ),
    )
}
MODELS = tuple(BENCH_FAMILIES)


def bench_family(model: str) -> BenchFamily:
    """The row of ``model``; a :class:`ValueError` lists the benchmarked families."""
    try:
        return BENCH_FAMILIES[model]
    except KeyError:
        raise ValueError(f"unknown neuron family {model!r}; benchmarked: {', '.join(BENCH_FAMILIES)}") from None


def steps_for(model: str, settings: BenchSettings) -> int:
    """DSTD grid intervals ``M`` of a family."""
    return bench_family(model).steps(settings)


def make_weight(model: str, n_in: int, n_out: int, settings: BenchSettings, seed: int) -> torch.Tensor:
    """Weights ``[N_out, N_in]``: RC-Spike ``N(0, (2/sqrt(N_in))²)``; TTFS ``U(-b/2, 3b/2)``.

    ``b`` is :func:`imcpnn.families.ttfs_weight_bound` (spec section 6, one layer, ``t_ref``): the mean
    weight ``b/2`` is the paper's ``U(0, b)``'s, so the mean drive fires a neuron near ``t_ref``, inside
    the window (every neuron fires here). A quarter of the weights are negative so that both ``E+`` and
    ``E-`` act: with non-negative weights ``f = g/E+`` and DSTD is exact (``v`` depends on ``∫g`` only).
    """
    generator = torch.Generator().manual_seed(seed + 1)
    weight = bench_family(model).draw_weight(n_in, n_out, settings, generator, getattr(torch, settings.dtype))
    return weight.to(settings.device)


def make_inputs(samples: int, n_in: int, settings: BenchSettings, seed: int) -> torch.Tensor:
    """Input spike times ``[samples, N_in]`` uniform in ``[0, 1]``."""
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(samples, n_in, generator=generator, dtype=getattr(torch, settings.dtype)).to(settings.device)


def layer_outputs(
    model: str,
    method: str,
    times: torch.Tensor,
    weight: torch.Tensor,
    settings: BenchSettings,
    *,
    ode: OdeSolveOptions | None = None,
    stats: dict[str, int] | None = None,
) -> torch.Tensor:
    """Output spike times ``[B, N_out]`` of the layer (``+inf`` for a silent TTFS neuron).

    ``method="ode"``: the torchdiffeq baseline with the solve ``ode`` (its evaluations into ``stats``).
    """
    bench = bench_family(model)
    if method == "ode":
        options = ode if ode is not None else OdeSolveOptions(rtol=1e-3, atol=1e-3)
        return bench.ode_spike_times(times, weight, settings.params, options, stats)
    solver = SolverSettings(method=method, steps=bench.steps(settings))  # type: ignore[arg-type]
    return bench.spike_times(times, weight, settings.params, solver)


def forward_backward(
    model: str,
    method: str,
    times: torch.Tensor,
    weight: torch.Tensor,
    settings: BenchSettings,
    *,
    ode: OdeSolveOptions | None = None,
    stats: dict[str, int] | None = None,
) -> torch.Tensor:
    """One mini-batch: outputs, loss = sum of the (finite) output times, gradients. Returns the outputs."""
    times = times.detach().requires_grad_(method != "ode")  # a generic ODE solver has no time gradient
    weight = weight.detach().requires_grad_()
    out = layer_outputs(model, method, times, weight, settings, ode=ode, stats=stats)
    loss = torch.where(torch.isfinite(out), out, torch.zeros_like(out)).sum()
    loss.backward()
    return out.detach()


def bound_products(times: torch.Tensor, weight: torch.Tensor, steps: int) -> None:
    """The bound: ``2M`` products ``[B, N_in] x [N_in, N_out]`` (``M`` on ``w``, ``M`` on a second
    weight like ``βw``), forward and backward (input and weight gradients), loss = sum of outputs.
    Each product has its own input leaf, so no gradient is scattered into a shared buffer."""
    inputs = [times.detach().clone().requires_grad_() for _ in range(2 * steps)]
    weights = [weight.detach().clone().requires_grad_() for _ in range(2)]
    total = torch.zeros((), dtype=times.dtype, device=times.device)
    for m in range(2 * steps):
        total = total + torch.matmul(inputs[m], weights[m // steps].t()).sum()
    total.backward()


def fused_bound_product(times: torch.Tensor, weight: torch.Tensor, steps: int) -> None:
    """The same work as one product ``[M B, N_in] x [N_in, 2 N_out]`` (what DSTD does), forward and backward."""
    inputs = times.detach().unsqueeze(0).expand(steps, -1, -1).reshape(-1, times.shape[1]).clone().requires_grad_()
    stacked = torch.cat([weight.detach(), weight.detach()], dim=0).requires_grad_()
    torch.matmul(inputs, stacked.t()).sum().backward()
