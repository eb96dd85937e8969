"""Integration over a sequence of intervals of constant coefficients, shared by both solvers.

The exact solver's intervals lie between sorted input spikes; DSTD's are the grid's. Either way the
inputs are ``f, g`` of shape ``[B, K, ...]`` (``K`` intervals on dim 1) and interval widths that
broadcast against them.
"""

from __future__ import annotations

import torch

from .end_potential import end_potential
from .neuron import interval_step, threshold_crossing

__all__ = ["end_potential", "first_crossing", "potential_at", "potential_scan"]


def potential_scan(f: torch.Tensor, g: torch.Tensor, width: torch.Tensor | float) -> torch.Tensor:
    """Potentials at every interval boundary, ``[B, K + 1, ...]``, from ``v = 0``, by the one-interval step."""
    width = torch.as_tensor(width, dtype=f.dtype, device=f.device).expand_as(f)
    potential = torch.zeros_like(f[:, 0])
    potentials = [potential]
    for k in range(f.shape[1]):
        potential = interval_step(potential, f[:, k], g[:, k], width[:, k])
        potentials.append(potential)
    return torch.stack(potentials, dim=1)


def _firing_interval(
    f: torch.Tensor, g: torch.Tensor, width: torch.Tensor, threshold: float, check_every: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Index of the interval in which each neuron first reaches ``threshold``, and whether it does.

    A value-only scan (run it under ``torch.no_grad()``) with the one-interval step. Within an
    interval of constant coefficients ``v`` relaxes monotonically towards ``g/f``, so a neuron below
    threshold at the interval's start crosses inside it exactly when ``v`` at its end is at or above
    threshold: no crossing time is computed here. Every ``check_every`` intervals the scan stops
    early when every neuron has fired (on CPU only: on a GPU the check would be a host-device sync).
    Returns ``index`` (int64, 0 where the neuron never fires) and ``fired`` (bool), both ``[B, ...]``.
    """
    potential = torch.zeros_like(f[:, 0])
    index = torch.zeros_like(potential, dtype=torch.long)
    fired = torch.zeros_like(potential, dtype=torch.bool)
    for k, (f_k, g_k, width_k) in enumerate(zip(f.unbind(1), g.unbind(1), width.unbind(1), strict=True)):
        potential = interval_step(potential, f_k, g_k, width_k)
        # a crossing needs an asymptote g/f above the threshold: one at the threshold is approached, never
        # reached (rounding can put v on it), and one below it drives v away
        crosses = (potential >= threshold) & (g_k - f_k * threshold > 0) & ~fired
        index.masked_fill_(crosses, k)
        fired |= crosses
        if (k + 1) % check_every == 0 and fired.device.type == "cpu" and bool(fired.all()):  # no GPU sync
            break
    return index, fired


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
    to them. A value-only scan finds the interval ``k*`` where each neuron fires
    (:func:`_firing_interval`); the potential at its start is then :func:`end_potential` of the
    intervals before it (the later ones masked out), so autograd records no Python loop and keeps
    ``O(B K N_out)`` memory. Differentiable through ``t_start + t*`` of the interval where each
    neuron fires.
    """
    start = start.expand_as(f)
    width = width.expand_as(f)
    with torch.no_grad():
        index, fired = _firing_interval(f, g, width, threshold, check_every)
    steps = torch.arange(f.shape[1], device=f.device).view((1, -1) + (1,) * (f.dim() - 2))
    before = steps < index.unsqueeze(1)  # [B, K, ...]: the intervals before the one where the neuron fires
    zero = torch.zeros((), dtype=f.dtype, device=f.device)
    potential = end_potential(torch.where(before, f, zero), torch.where(before, g, zero), width)
    at = index.unsqueeze(1)
    f_k, g_k, start_k = (torch.gather(x, 1, at).squeeze(1) for x in (f, g, start))
    delay, _ = threshold_crossing(potential, f_k, g_k, threshold)
    return torch.where(fired, start_k + delay, torch.full_like(delay, float("inf")))


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
