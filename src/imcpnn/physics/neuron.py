"""The IMC-aware neuron on one interval of constant coefficients (spec ``MODEL.md`` sections 1-3).

Over an interval where ``dv/dt = -f v + g`` with constant ``f >= 0`` and ``g``, everything here is
closed-form and finite for ``f -> 0``. Times are normalised (the circuit's phase length is 1).
"""

from __future__ import annotations

import math

import torch

# Below this |x| the series of φ and ψ are used: their error is O(x^3) (< 1e-12 here), and the
# closed forms lose digits there (float32 cancellation in 1 - exp(-x)).
_SERIES_LIMIT = 1e-3
_DERIVATIVE_SERIES_LIMIT = 0.05


def phi(x: torch.Tensor) -> torch.Tensor:
    """``φ(x) = (1 - exp(-x)) / x`` with ``φ(0) = 1`` (spec section 1), smooth and safe for autograd."""
    small = x.abs() < _SERIES_LIMIT
    x_safe = torch.where(small, 1.0, x)
    series = 1.0 - x * (0.5 - x / 6.0)
    return torch.where(small, series, torch.expm1(-x_safe) / -x_safe)


def phi_derivative(x: torch.Tensor, phi_x: torch.Tensor | None = None, *, overwrite: bool = False) -> torch.Tensor:
    """``φ'(x) = (exp(-x) - φ(x)) / x`` with ``φ'(0) = -1/2``, for ``x >= 0`` (derivative of :func:`phi`).

    Evaluated as ``(1 - φ(x)) / x - φ(x)`` (the same, as ``exp(-x) = 1 - x φ(x)``: no ``exp`` needed), and as
    the fourth-order series ``-1/2 + x/3 - x²/8 + x³/30 - x⁴/144`` below ``x = 0.05``, where the closed form
    cancels. Relative error about ``eps / x`` near 0.05 and ``eps x`` for large ``x`` (where ``φ' = -1/x²``).
    Pass ``phi_x = φ(x)`` when it is at hand; ``overwrite``: ``x``'s buffer holds the result (``x`` is spent),
    as the hand-written backward of :mod:`imcpnn.physics.end_potential` uses it.
    """
    phi_x = phi(x) if phi_x is None else phi_x
    x = x if overwrite else x.clone()
    small = x < _DERIVATIVE_SERIES_LIMIT
    series = x.mul(-1.0 / 144.0).add_(1.0 / 30.0).mul_(x).add_(-1.0 / 8.0).mul_(x).add_(1.0 / 3.0).mul_(x)
    inverse = x.clamp_(min=_DERIVATIVE_SERIES_LIMIT).reciprocal_()  # 1 / max(x, 0.05)
    closed = inverse.addcmul_(phi_x, inverse, value=-1.0).sub_(phi_x)  # (1 - φ) / x - φ
    return torch.where(small, series.add_(-0.5), closed, out=closed)


def log1p_ratio(y: torch.Tensor) -> torch.Tensor:
    """``log(1 + y) / y`` with value 1 at ``y = 0``, for ``y > -1``; used by the TTFS crossing time and the
    RC-Spike firing time."""
    small = y.abs() < _SERIES_LIMIT
    y_safe = torch.where(small, torch.ones_like(y), y)
    series = 1.0 - y / 2.0 + y * y / 3.0
    return torch.where(small, series, torch.log1p(y_safe) / y_safe)


def interval_step(
    potential: torch.Tensor, f: torch.Tensor, g: torch.Tensor, width: torch.Tensor | float
) -> torch.Tensor:
    """One interval of the IMC-aware neuron (spec section 1, "One interval").

    ``v(t + Δ) = v(t) exp(-f Δ) + g Δ φ(f Δ)``, exact for constant ``f >= 0`` (1/time) and ``g``
    (potential/time) over the width ``Δ`` (normalised time). Never forms ``exp(+f Δ)``.
    """
    x = f * width
    return potential * torch.exp(-x) + g * width * phi(x)


def reversal_weight(weight: torch.Tensor, e_rev_pos: float, e_rev_neg: float) -> torch.Tensor:
    """``β w`` with ``β = 1/E+`` for ``w >= 0`` and ``1/E-`` for ``w < 0`` (spec section 1).

    The result is ``>= 0`` everywhere: how much each synapse adds to the conductance term ``f``.
    Infinite ``E±`` give 0 (the ideal limit). One weight-sized buffer besides the result: ``β`` as a
    ``torch.where`` of two constants, times ``w`` (its derivative is ``β``; ``1/E+`` at ``w = 0``).
    """
    return reversal_slope(weight, e_rev_pos, e_rev_neg).mul_(weight)


def reversal_slope(weight: torch.Tensor, e_rev_pos: float, e_rev_neg: float) -> torch.Tensor:
    """``β``: ``1/E+`` where ``w >= 0``, ``1/E-`` where ``w < 0`` (spec section 1); no gradient."""
    positive = torch.tensor(1.0 / e_rev_pos, dtype=weight.dtype, device=weight.device)
    negative = torch.tensor(1.0 / e_rev_neg, dtype=weight.dtype, device=weight.device)
    return torch.where(weight.detach() >= 0, positive, negative)


def log_ratio(x: float) -> float:
    """``ψ(x) = -ln(1 - x) / x`` with ``ψ(0) = 1``, for ``x`` in ``[0, 1)``, in double precision (``math.log1p``,
    exact down to ``1e-300``). At ``x = β_dis`` it is the discharger's normalised rate ``a`` (spec section 2);
    at ``x = 1/E+`` the TTFS initialisation's correction (section 6)."""
    return 1.0 if x == 0.0 else -math.log1p(-x) / x


def rc_spike_fire(potential: torch.Tensor, *, beta_dis: float = 0.0) -> torch.Tensor:
    """Firing-phase spike time of an RC-Spike neuron (spec section 2), in ``[0, 1]``.

    Ideal ramp (``beta_dis = 0``): ``t = clip(1 - v_end, 0, 1)``. With the discharger's
    non-ideality: ``t = clip(1 - ln(1 - β_dis v_end) / ln(1 - β_dis), 0, 1)``; a potential at or
    above ``1/β_dis`` fires at once. The ratio of logarithms is evaluated as ``v ψ(β v) / ψ(β)``
    (``ψ(x) = -ln(1 - x) / x``, series near 0): no cancellation in ``1 - β v`` and no underflow of
    ``ln(1 - β)`` for small ``β``, so the time tends to the ideal ``1 - v`` as ``β -> 0`` in float32 too.
    ``beta_dis`` is trusted (checked by the caller's boundary).
    """
    if beta_dis == 0.0:
        return torch.clamp(1.0 - potential, 0.0, 1.0)
    scaled = beta_dis * potential
    fires_at_once = scaled >= 1.0
    scaled_safe = torch.where(fires_at_once, torch.zeros_like(scaled), scaled)
    ratio = potential * log1p_ratio(-scaled_safe) / log_ratio(beta_dis)
    time = torch.clamp(1.0 - ratio, 0.0, 1.0)
    return torch.where(fires_at_once, torch.zeros_like(time), time)


def firing_potential(potential: torch.Tensor, time: torch.Tensor | float, *, beta_dis: float = 0.0) -> torch.Tensor:
    """Normalised potential ``time`` into the firing phase (spec section 2), from ``v_end = potential``.

    The discharger's ramp ``dv/dt = a (1 - β_dis v)``, ``a = ψ(β) = -ln(1 - β_dis) / β_dis``, solved:
    ``v(t) = 1/β - (1/β - v_end) (1 - β)^t``; ideal (``β_dis = 0``): ``v(t) = v_end + t``. It reaches 1
    at :func:`rc_spike_fire`'s time. Evaluated as ``v_end + t φ(a β t) (a - β a v_end)`` (the same
    function, with ``φ(x) = (1 - e^-x)/x``), which never forms ``1/β``. Broadcasts ``potential`` against
    ``time``.
    """
    if beta_dis == 0.0:
        return potential + time
    time = torch.as_tensor(time, dtype=potential.dtype, device=potential.device)
    rate = log_ratio(beta_dis)
    return potential + time * phi(rate * beta_dis * time) * (rate - rate * beta_dis * potential)


def threshold_crossing(
    potential: torch.Tensor, f: torch.Tensor, g: torch.Tensor, threshold: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Time after the interval start at which ``v`` reaches ``threshold`` (spec section 3).

    For ``f > 0``: ``t* = ln((g - f v0) / (g - f Vth)) / f``; for ``f = 0``: ``t* = (Vth - v0) / g``.
    Both are ``t* = r ψ(f r)`` with ``r = (Vth - v0) / (g - f Vth)``, which is what is computed.
    Returns ``(t*, reachable)``: ``reachable`` is False where the asymptote ``g/f`` (or the slope
    ``g``) never reaches the threshold; there ``t*`` is a finite placeholder with zero gradient.
    The caller checks ``t*`` against the interval's width.
    """
    drive = g - f * threshold
    reachable = drive > 0
    drive_safe = torch.where(reachable, drive, torch.ones_like(drive))
    ratio = torch.clamp(threshold - potential, min=0.0) / drive_safe
    ratio = torch.where(reachable, ratio, torch.zeros_like(ratio))
    return ratio * log1p_ratio(f * ratio), reachable
