"""Integration over a sequence of intervals of constant coefficients, shared by both solvers.

The exact solver's intervals lie between sorted input spikes; DSTD's are the grid's. Either way the
inputs are ``f, g`` of shape ``[B, K, ...]`` (``K`` intervals on dim 1) and interval widths that
broadcast against them.
"""

from __future__ import annotations

import torch

from .neuron import interval_step, phi, threshold_crossing


def _reverse_cumsum_exclusive(x: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """``out_k = Σ_{l > k} x_l`` along ``dim``, summed from the end (no cancellation)."""
    total_from_end = torch.flip(torch.cumsum(torch.flip(x, (dim,)), dim), (dim,))
    shifted = total_from_end.narrow(dim, 1, x.shape[dim] - 1)
    zero = torch.zeros_like(x.narrow(dim, 0, 1))
    return torch.cat([shifted, zero], dim)


def end_potential(f: torch.Tensor, g: torch.Tensor, width: torch.Tensor | float) -> torch.Tensor:
    """Potential after the last of ``K`` intervals, starting from ``v = 0``.

    The one-interval step (spec section 1) unrolled in closed form:
    ``v_end = Σ_k g_k Δ_k φ(f_k Δ_k) exp(-Σ_{l>k} f_l Δ_l)``. The exponents are sums of
    non-negative terms taken from the end, so they cannot overflow (no ``exp(+Σ f Δ)``), and no
    Python loop is needed. Returns shape ``[B, ...]``.
    """
    decay_exponent = f * width
    charge = g * width * phi(decay_exponent)
    return (charge * torch.exp(-_reverse_cumsum_exclusive(decay_exponent))).sum(dim=1)


def potential_scan(f: torch.Tensor, g: torch.Tensor, width: torch.Tensor | float) -> torch.Tensor:
    """Potentials at every interval boundary, ``[B, K + 1, ...]``, from ``v = 0``, by the one-interval step."""
    width = torch.as_tensor(width, dtype=f.dtype, device=f.device).expand_as(f)
    potential = torch.zeros_like(f[:, 0])
    potentials = [potential]
    for k in range(f.shape[1]):
        potential = interval_step(potential, f[:, k], g[:, k], width[:, k])
        potentials.append(potential)
    return torch.stack(potentials, dim=1)


def first_crossing(
    f: torch.Tensor,
    g: torch.Tensor,
    start: torch.Tensor,
    width: torch.Tensor,
    threshold: float,
    check_every: int = 16,
) -> torch.Tensor:
    """First threshold crossing over ``K`` intervals (spec section 3), ``+inf`` where none.

    ``f, g``: ``[B, K, ...]``; ``start``, ``width``: interval start times and widths broadcastable
    to them. Scans the intervals with the one-interval step; every ``check_every`` intervals it stops
    early when every neuron has fired. Differentiable through ``t_start + t*`` of the interval
    where each neuron fires.
    """
    start = start.expand_as(f)
    width = width.expand_as(f)
    potential = torch.zeros_like(f[:, 0])
    spike_time = torch.full_like(potential, float("inf"))
    fired = torch.zeros_like(potential, dtype=torch.bool)
    for k in range(f.shape[1]):
        f_k, g_k, width_k = f[:, k], g[:, k], width[:, k]
        delay, reachable = threshold_crossing(potential, f_k, g_k, threshold)
        crosses = reachable & (delay <= width_k) & ~fired
        spike_time = torch.where(crosses, start[:, k] + delay, spike_time)
        fired = fired | crosses
        if (k + 1) % check_every == 0 and bool(fired.all()):
            break
        potential = interval_step(potential, f_k, g_k, width_k)
    return spike_time


def potential_at(
    f: torch.Tensor, g: torch.Tensor, start: torch.Tensor, width: torch.Tensor, query_times: torch.Tensor
) -> torch.Tensor:
    """Potential at arbitrary times ``[T]``, ``[B, N_out, T]``, for dense intervals.

    ``f, g``: ``[B, K, N_out]``; ``start``: ``[B or 1, K, 1]`` sorted along ``K``. Scans to the start
    of the interval that holds each query time, then takes the one-interval step for the rest of it.
    """
    boundary_potentials = potential_scan(f, g, width)[:, :-1]  # potential at each interval start
    batch, _, n_out = f.shape
    starts = start[..., 0].expand(batch, -1).contiguous()
    queries = query_times.to(dtype=f.dtype, device=f.device).expand(batch, -1).contiguous()
    index = torch.clamp(torch.searchsorted(starts, queries, right=True) - 1, min=0)  # [B, T]
    gather_index = index.unsqueeze(-1).expand(-1, -1, n_out)
    elapsed = (queries - torch.gather(starts, 1, index)).unsqueeze(-1)
    potential = interval_step(
        torch.gather(boundary_potentials, 1, gather_index),
        torch.gather(f, 1, gather_index),
        torch.gather(g, 1, gather_index),
        elapsed,
    )
    return potential.transpose(1, 2)
