"""Exact event-driven solution (spec ``MODEL.md`` sections 2 and 3).

Sort each sample's input times; between consecutive spikes ``f`` and ``g`` are constant. The sorted,
gathered weights cost ``O(B N_in N_out)`` memory (several tensors of that size are alive during the
backward pass, about ``8 B N_in N_out`` elements in all): that, and the sort, is what DSTD removes.
No Python loop over samples or neurons: only the TTFS scan loops over the ``N_in`` intervals.
"""

from __future__ import annotations

import torch


def sorted_intervals(
    spike_times: torch.Tensor,
    weight: torch.Tensor,
    reversal_weight: torch.Tensor,
    leak: float,
    window: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Intervals of constant ``f, g`` between the sorted input spikes of each sample.

    ``spike_times``: ``[B, N_in]`` in ``[0, window]`` or ``+inf``; ``weight``, ``reversal_weight``:
    ``[N_out, N_in]``. Returns ``f, g`` of shape ``[B, N_in + 1, N_out]`` and ``start``, ``width``
    of shape ``[B, N_in + 1, 1]``: interval 0 is ``[0, t_(1)]`` (no input on), interval ``k`` starts
    at the ``k``-th earliest spike and ends at the next one (the last at ``window``). Inputs that do
    not spike (or spike after ``window``) sit at ``window`` with zero-width intervals.
    """
    n_out = weight.shape[0]
    times = torch.clamp(spike_times, max=window)
    sorted_times, order = torch.sort(times, dim=1)
    zero = torch.zeros_like(sorted_times[:, :1])
    start = torch.cat([zero, sorted_times], dim=1)
    end = torch.cat([sorted_times, torch.full_like(zero, window)], dim=1)
    stacked = torch.cat([weight, reversal_weight], dim=0).t()  # [N_in, 2 N_out]: one gather, one cumsum
    cumulative = torch.cumsum(stacked[order], dim=1)  # [B, N_in, 2 N_out]
    cumulative = torch.cat([torch.zeros_like(cumulative[:, :1]), cumulative], dim=1)
    g, f = cumulative.split(n_out, dim=-1)
    return f + leak, g, start.unsqueeze(-1), (end - start).unsqueeze(-1)
