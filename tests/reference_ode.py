"""An independent reference: the IMC-aware neuron's ODE integrated numerically by scipy.

Used only by the tests. It shares no code with imcpnn: it integrates
``dv/dt = -f(t) v + g(t)`` (spec MODEL.md section 1) segment by segment between input spikes with
an adaptive Runge-Kutta method (DOP853) at tight tolerances.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from scipy.integrate import solve_ivp

RTOL, ATOL = 1e-11, 1e-13


def _segments(times: np.ndarray, t_end: float) -> list[tuple[float, float]]:
    points = sorted({0.0, t_end, *[float(t) for t in times if t < t_end]})
    return [(a, b) for a, b in itertools.pairwise(points) if b > a]


def _coefficients(times, weights, e_pos, e_neg, leak, at):
    on = times <= at
    beta = np.where(weights >= 0, 1.0 / e_pos, 1.0 / e_neg)
    return leak + float(np.sum(beta * weights * on)), float(np.sum(weights * on))


def ode_potential(times, weights, e_pos, e_neg, leak=0.0, t_end=1.0) -> float:
    """``v(t_end)`` of one neuron; ``times`` may hold ``inf`` (no spike)."""
    times, weights = np.asarray(times, float), np.asarray(weights, float)
    v = 0.0
    for a, b in _segments(times, t_end):
        f, g = _coefficients(times, weights, e_pos, e_neg, leak, a)
        sol = solve_ivp(lambda t, y, f=f, g=g: -f * y + g, (a, b), [v], method="DOP853", rtol=RTOL, atol=ATOL)
        v = float(sol.y[0, -1])
    return v


def ode_first_crossing(times, weights, e_pos, e_neg, window, leak=0.0, threshold=1.0) -> float:
    """First time in ``[0, window]`` at which ``v`` reaches ``threshold``; ``inf`` if never."""
    times, weights = np.asarray(times, float), np.asarray(weights, float)
    v = 0.0

    def crossing(t, y):
        return y[0] - threshold

    crossing.terminal = True
    crossing.direction = 1
    for a, b in _segments(times, window):
        f, g = _coefficients(times, weights, e_pos, e_neg, leak, a)
        sol = solve_ivp(
            lambda t, y, f=f, g=g: -f * y + g,
            (a, b),
            [v],
            method="DOP853",
            rtol=RTOL,
            atol=ATOL,
            events=crossing,
        )
        if sol.t_events[0].size:
            return float(sol.t_events[0][0])
        v = float(sol.y[0, -1])
    return math.inf
