"""The neuron's parameters and the solver's settings as typed values (spec ``MODEL.md`` sections 1-4).

:class:`NeuronParams` is what the circuit fixes (reversal potentials, leak, discharger, threshold,
window); :class:`SolverSettings` is how one call solves it (method, DSTD steps, grid offset). Both
are frozen and checked once, when made: everything below them (the unchecked kernels of
:mod:`imcpnn.kernels`) trusts them. The rule "E- defaults to -E+" lives in :func:`reversal_pair`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Literal

from . import validation as check

Method = Literal["exact", "dstd"]


def reversal_pair(e_rev_pos: float, e_rev_neg: float | None = None) -> tuple[float, float]:
    """``(E+, E-)`` with ``E- = -E+`` when ``e_rev_neg`` is None (spec section 1): the one place of that rule."""
    return float(e_rev_pos), float(-e_rev_pos if e_rev_neg is None else e_rev_neg)


@dataclass(frozen=True)
class NeuronParams:
    """Parameters of an IMC-aware neuron, normalised (potential: firing threshold of RC-Spike = 1; time:
    one circuit phase = 1). Spec ``MODEL.md`` sections 1-3.

    Attributes:
        e_rev_pos: positive reversal potential E+ (> 0; ``inf``: the ideal limit).
        e_rev_neg: negative reversal potential E- (< 0; ``-inf``: the ideal limit).
        leak: leak rate α >= 0 (1/time).
        beta_dis: discharger non-ideality of the RC-Spike firing phase, in ``[0, 1)`` (0: ideal ramp).
        threshold: firing threshold Vth of a TTFS neuron (RC-Spike fires at 1 by construction).
        window: time window ``T`` of a TTFS neuron; the RC-Spike accumulation window is always 1 and
            ignores this field (see :mod:`imcpnn.families`).
    """

    e_rev_pos: float = math.inf
    e_rev_neg: float = -math.inf
    leak: float = 0.0
    beta_dis: float = 0.0
    threshold: float = 1.0
    window: float = 4.0

    def __post_init__(self) -> None:
        e_pos, e_neg = check.check_reversal_potentials(self.e_rev_pos, self.e_rev_neg)
        object.__setattr__(self, "e_rev_pos", e_pos)
        object.__setattr__(self, "e_rev_neg", e_neg)
        object.__setattr__(self, "leak", check.check_leak(self.leak))
        object.__setattr__(self, "beta_dis", check.check_beta_dis(self.beta_dis))
        object.__setattr__(self, "threshold", check.check_threshold(self.threshold))
        object.__setattr__(self, "window", check.check_window(self.window))

    @classmethod
    def symmetric(cls, e_rev: float, **others: float) -> NeuronParams:
        """``E+ = |e_rev|``, ``E- = -|e_rev|`` (``inf``: ideal); ``others`` are the remaining fields."""
        e_pos, e_neg = reversal_pair(abs(e_rev))
        return cls(e_rev_pos=e_pos, e_rev_neg=e_neg, **others)

    def with_reversal(self, e_rev_pos: float, e_rev_neg: float | None = None) -> NeuronParams:
        """A copy with other reversal potentials; ``e_rev_neg=None`` means ``-e_rev_pos``."""
        e_pos, e_neg = reversal_pair(e_rev_pos, e_rev_neg)
        return dataclasses.replace(self, e_rev_pos=e_pos, e_rev_neg=e_neg)

    @property
    def is_symmetric(self) -> bool:
        return self.e_rev_neg == -self.e_rev_pos


@dataclass(frozen=True)
class SolverSettings:
    """How one call solves the neuron (spec section 4): ``method`` ``"exact"`` (event-driven) or ``"dstd"``
    with ``steps`` grid intervals ``M`` and grid ``offset`` in ``[0, window / steps)``."""

    method: Method = "exact"
    steps: int = 10
    offset: float = 0.0

    def __post_init__(self) -> None:
        check.check_method(self.method)
        check.check_steps(self.steps)
        if not (isinstance(self.offset, (int, float)) and not isinstance(self.offset, bool) and self.offset >= 0):
            raise ValueError(f"offset must lie in [0, window / steps) (the DSTD grid offset); got {self.offset!r}")
        object.__setattr__(self, "offset", float(self.offset))

    def check_window(self, window: float) -> None:
        """The offset must lie in ``[0, window / steps)`` for the window it is used with."""
        check.check_offset(self.offset, window, self.steps)
