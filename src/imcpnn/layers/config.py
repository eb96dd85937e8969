"""Typed neuron settings shared by the layers: the circuit's non-idealities and the solver."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

from ..physics import validation as check

Family = Literal["rcspike", "ttfs"]
Solver = Literal["dstd", "exact"]


@dataclass(frozen=True)
class NeuronConfig:
    """Settings of one family of IMC-aware neurons (spec ``MODEL.md`` sections 1-5).

    Attributes:
        family: ``"rcspike"`` (two-phase, window 1) or ``"ttfs"`` (one spike in ``[0, window]``).
        e_rev_pos: positive reversal potential E+ (normalised), ``inf`` for the ideal neuron.
        e_rev_neg: negative reversal potential E- (< 0); ``None`` means ``-e_rev_pos``.
        beta_dis: discharger non-ideality of the RC-Spike firing phase, in ``[0, 1)``.
        leak: leak rate α >= 0 (1/normalised time).
        threshold: TTFS firing threshold Vth.
        window: TTFS time window ``T`` (normalised); RC-Spike always uses 1.
        solver: ``"dstd"`` or ``"exact"``.
        steps: DSTD intervals ``M`` in training mode.
        eval_steps: DSTD intervals in evaluation mode (``None``: ``steps``).
        random_offset: draw a new grid offset ``o ~ U(0, Δ)`` every training forward pass.
        spike_noise: standard deviation σ of the Gaussian noise added to output spike times, in
            training and in evaluation (finite precision of analog potentials).
    """

    family: Family = "rcspike"
    e_rev_pos: float = math.inf
    e_rev_neg: float | None = None
    beta_dis: float = 0.0
    leak: float = 0.0
    threshold: float = 1.0
    window: float = 4.0
    solver: Solver = "dstd"
    steps: int = 4
    eval_steps: int | None = None
    random_offset: bool = True
    spike_noise: float = 0.0

    def __post_init__(self) -> None:
        if self.family not in ("rcspike", "ttfs"):
            raise ValueError(f"family must be 'rcspike' or 'ttfs'; got {self.family!r}")
        if self.e_rev_neg is None:
            object.__setattr__(self, "e_rev_neg", -self.e_rev_pos)
        check.check_reversal_potentials(self.e_rev_pos, self.e_rev_neg)
        check.check_beta_dis(self.beta_dis)
        check.check_nonnegative("leak", self.leak, "the leak rate α, 1/time")
        check.check_nonnegative("spike_noise", self.spike_noise, "σ of the spike-time noise")
        check.check_method(self.solver)
        check.check_steps(self.steps)
        if self.eval_steps is not None:
            check.check_steps(self.eval_steps)
        check.check_window(self.window)

    @property
    def time_window(self) -> float:
        """The layer's time window: 1 for RC-Spike, ``window`` for TTFS."""
        return 1.0 if self.family == "rcspike" else self.window

    def with_updates(self, **changes: object) -> NeuronConfig:
        """A copy with some settings changed (e.g. another ``E±`` for the top-down mapping)."""
        if "e_rev_pos" in changes and "e_rev_neg" not in changes:
            changes["e_rev_neg"] = -changes["e_rev_pos"]  # type: ignore[operator]
        return replace(self, **changes)  # type: ignore[arg-type]
