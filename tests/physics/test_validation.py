"""Bad input raises ValueError naming the argument and the allowed range."""

import math

import pytest
import torch

from imcpnn.functional import rc_spike_fire, rc_spike_potential, ttfs_spike_times

T = torch.tensor([[0.1, 0.5, 0.9], [0.0, 0.7, 1.0]])  # fixed: T * 3 must leave [0, 2]
W = torch.randn(4, 3, generator=torch.Generator().manual_seed(0))
OK = {"e_rev_pos": 2.0, "e_rev_neg": -2.0}


@pytest.mark.parametrize(
    ("times", "weight", "kwargs", "match"),
    [
        (torch.tensor([[0.1, math.nan, 0.3]] * 2), W, OK, r"spike_times.*NaN"),
        (torch.tensor([[0.1, 1.5, 0.3]] * 2), W, OK, r"spike_times must lie in \[0, 1\]"),
        (torch.tensor([[0.1, -0.2, 0.3]] * 2), W, OK, r"spike_times must lie in \[0, 1\]"),
        (torch.tensor([[0.1, -math.inf, 0.3]] * 2), W, OK, r"spike_times must lie in \[0, 1\]"),
        (T, torch.randn(4, 5), OK, r"n_in"),
        (T[0], W, OK, r"spike_times must have shape"),
        (T, W.double(), OK, r"dtype"),
        (T, W, {"e_rev_pos": -2.0, "e_rev_neg": -2.0}, r"e_rev_pos must be > 0"),
        (T, W, {"e_rev_pos": 2.0, "e_rev_neg": 2.0}, r"e_rev_neg must be < 0"),
        (T, W, {**OK, "method": "dstd", "steps": 0}, r"steps must be an integer >= 1"),
        (
            T,
            W,
            {**OK, "method": "dstd", "steps": 4, "offset": 0.25},
            r"offset must lie in \[0, window / steps\)",
        ),
        (T, W, {**OK, "method": "dstd", "steps": 4, "offset": -0.1}, r"offset must lie in"),
        (T, W, {**OK, "method": "euler"}, r"method must be one of"),
        (T, W, {**OK, "leak": -1.0}, r"leak must be"),
    ],
)
def test_rc_spike_potential_rejects_bad_input(times, weight, kwargs, match):
    with pytest.raises(ValueError, match=match):
        rc_spike_potential(times, weight, **kwargs)


def test_ttfs_rejects_times_outside_window_and_bad_window():
    with pytest.raises(ValueError, match=r"spike_times must lie in \[0, 2\]"):
        ttfs_spike_times(T * 3, W, window=2.0, **OK)
    with pytest.raises(ValueError, match="window must be"):
        ttfs_spike_times(T, W, window=0.0, **OK)
    with pytest.raises(ValueError, match="threshold must be"):
        ttfs_spike_times(T, W, window=2.0, threshold=-1.0, **OK)


def test_rc_spike_fire_rejects_bad_beta():
    with pytest.raises(ValueError, match=r"beta_dis must lie in \[0, 1\)"):
        rc_spike_fire(torch.zeros(2), beta_dis=1.0)
