"""The generic ODE baseline: the same layer integrated by torchdiffeq (the paper's "ODE-based PNN").

The right-hand side is the IMC-aware neuron (spec ``MODEL.md`` section 1) as a generic solver sees it:
``dv/dt = g(t) - f(t) v`` with ``[g; f](t) = θ(t - t_j) [w; βw]^T``, one dense product per evaluation.
The solver is told nothing about the input spike times (no ``jump_t``): being told them is the exact
event-driven solver. Adaptive Dormand-Prince (``dopri5``), gradients by backpropagation through the
solver (``adjoint=False``) or by the adjoint method (``odeint_adjoint``).

- RC-Spike: ``v(1)`` from ``odeint`` on ``[0, 1]``, then the firing-phase formula.
- TTFS: torchdiffeq's event handling (``odeint_event``) takes one scalar event function and stops
  at the first event, so it would need one solve per neuron and sample (``10^5`` per batch here).
  Instead: dense output (the solver's interpolant at ``n_eval`` evenly spaced times on ``[0, T]``) and
  crossing detection, the crossing time linearly interpolated between the two samples around it
  (differentiable through them).

:func:`imcpnn.benchmarks.ode_baseline.tolerance_sweep` finds the loosest ``rtol`` (with ``atol = rtol``)
whose spike-time error against the exact solver is at most DSTD's at ``M = 10``;
:func:`imcpnn.benchmarks.ode_baseline.run_ode_baseline` then times it. This module is the solver only.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from .. import functional as fn
from ..physics.neuron import reversal_weight


class LayerODE(nn.Module):
    """``dv/dt = g(t) - f(t) v`` of a dense layer, for torchdiffeq; counts its evaluations (``nfe``).

    ``times``: ``[B, N_in]`` input spike times (no gradient: the Heaviside step has none);
    ``weight``: ``[N_out, N_in]``. ``[w; βw]`` is formed inside :meth:`forward` so that the adjoint
    method can differentiate it with respect to ``weight``.
    """

    def __init__(self, times: torch.Tensor, weight: torch.Tensor, e_rev: float, leak: float = 0.0) -> None:
        super().__init__()
        self.times = times.detach()
        self.weight = weight
        self.e_rev = e_rev
        self.leak = leak
        self.nfe = 0

    def forward(self, t: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        self.nfe += 1
        stacked = torch.cat([self.weight, reversal_weight(self.weight, self.e_rev, -self.e_rev)], dim=0)
        on = (self.times <= t).to(v.dtype)  # [B, N_in]: inputs that have spiked by time t
        g, f = torch.matmul(on, stacked.t()).split(self.weight.shape[0], dim=-1)
        return g - (f + self.leak) * v


def _solve(
    func: LayerODE,
    t_eval: torch.Tensor,
    rtol: float,
    atol: float,
    adjoint: bool,
    method: str,
    jump_times: torch.Tensor | None = None,
) -> torch.Tensor:
    """``v`` at ``t_eval`` from ``v(0) = 0``. ``jump_times`` (dopri5 ``jump_t``) tells the solver where the
    right-hand side jumps: used by the tests as an independent reference, never by the benchmark."""
    from torchdiffeq import odeint, odeint_adjoint

    batch, n_out = func.times.shape[0], func.weight.shape[0]
    v0 = torch.zeros(batch, n_out, dtype=func.weight.dtype, device=func.weight.device)
    options = None if jump_times is None else {"jump_t": jump_times}
    if adjoint:
        return odeint_adjoint(
            func, v0, t_eval, rtol=rtol, atol=atol, method=method, options=options, adjoint_params=(func.weight,)
        )
    return odeint(func, v0, t_eval, rtol=rtol, atol=atol, method=method, options=options)


def rc_spike_times(
    times: torch.Tensor,
    weight: torch.Tensor,
    e_rev: float,
    *,
    rtol: float = 1e-3,
    atol: float = 1e-3,
    adjoint: bool = False,
    method: str = "dopri5",
    stats: dict[str, Any] | None = None,
) -> torch.Tensor:
    """RC-Spike output times ``[B, N_out]`` from ``v(1)`` integrated by torchdiffeq (``E+ = -E- = e_rev``)."""
    func = LayerODE(times, weight, e_rev)
    t_eval = torch.tensor([0.0, 1.0], dtype=weight.dtype, device=weight.device)
    v_end = _solve(func, t_eval, rtol, atol, adjoint, method)[-1]
    if stats is not None:
        stats["nfe"] = func.nfe
    return fn.rc_spike_fire(v_end)


def first_crossing_dense(potentials: torch.Tensor, t_eval: torch.Tensor, threshold: float = 1.0) -> torch.Tensor:
    """First time the potential sampled as ``[T, B, N]`` reaches ``threshold`` (interpolated), else ``+inf``."""
    above = potentials >= threshold
    fired = above.any(dim=0)
    index = torch.clamp(above.to(torch.int8).argmax(dim=0), min=1)  # first sample at or above; v(0) = 0 < Vth
    after = torch.gather(potentials, 0, index.unsqueeze(0)).squeeze(0)
    before = torch.gather(potentials, 0, (index - 1).unsqueeze(0)).squeeze(0)
    t_before = t_eval[index - 1]
    step = t_eval[index] - t_before
    rise = torch.where(fired, after - before, torch.ones_like(after))
    crossing = t_before + step * torch.clamp((threshold - before) / rise, 0.0, 1.0)
    return torch.where(fired, crossing, torch.full_like(crossing, math.inf))


def ttfs_spike_times(
    times: torch.Tensor,
    weight: torch.Tensor,
    e_rev: float,
    window: float,
    *,
    rtol: float = 1e-3,
    atol: float = 1e-3,
    adjoint: bool = False,
    method: str = "dopri5",
    n_eval: int = 401,
    threshold: float = 1.0,
    stats: dict[str, Any] | None = None,
) -> torch.Tensor:
    """TTFS first spike times ``[B, N_out]`` on ``[0, window]`` from torchdiffeq's dense output (``n_eval`` samples)."""
    func = LayerODE(times, weight, e_rev)
    t_eval = torch.linspace(0.0, window, n_eval, dtype=weight.dtype, device=weight.device)
    potentials = _solve(func, t_eval, rtol, atol, adjoint, method)  # [n_eval, B, N_out]
    if stats is not None:
        stats["nfe"] = func.nfe
    return first_crossing_dense(potentials, t_eval, threshold)
