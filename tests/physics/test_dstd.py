"""DSTD against the exact solution: convergence in M and |E±|, the ideal limit (spec section 4)."""

import itertools
import math

import numpy as np
import pytest
import torch

from imcpnn.functional import rc_spike_potential, rc_spike_potential_conv2d, ttfs_spike_times

STEPS = [4, 8, 16, 32, 64]


def _layer(batch=64, n_in=100, n_out=20, seed=0):
    gen = torch.Generator().manual_seed(seed)
    times = torch.rand(batch, n_in, generator=gen, dtype=torch.float64)
    weight = torch.randn(n_out, n_in, generator=gen, dtype=torch.float64) / math.sqrt(n_in) * 3
    return times, weight


def _end_potential_errors(e_rev, steps=STEPS, offset=0.0):
    times, weight = _layer()
    kw = {"e_rev_pos": e_rev, "e_rev_neg": -e_rev}
    exact = rc_spike_potential(times, weight, **kw)
    return np.array(
        [
            float(
                (rc_spike_potential(times, weight, method="dstd", steps=m, offset=offset / m, **kw) - exact)
                .abs()
                .mean()
            )
            for m in steps
        ]
    )


@pytest.mark.parametrize("e_rev", [1.0, 2.0, 10.0])
def test_end_potential_error_falls_by_about_four_per_doubling(e_rev):
    errors = _end_potential_errors(e_rev)
    ratios = errors[:-1] / errors[1:]
    assert np.all(ratios > 2.0), f"every doubling of M must cut the error: {ratios}"
    # Asymptotically O(Δ²): the last doublings divide the error by about 4.
    assert np.all((ratios[-2:] > 3.2) & (ratios[-2:] < 5.0)), f"expected ratios near 4: {ratios}"
    slope = np.polyfit(np.log2(STEPS[1:]), np.log2(errors[1:]), 1)[0]
    assert -2.4 < slope < -1.6, f"error ~ M^{slope:.2f}, expected about M^-2 (errors {errors})"


def test_end_potential_error_with_offset_also_converges():
    errors = _end_potential_errors(2.0, offset=0.37)
    slope = np.polyfit(np.log2(STEPS[1:]), np.log2(errors[1:]), 1)[0]
    assert -2.4 < slope < -1.6, errors


def test_error_shrinks_as_reversal_potential_grows():
    errors = [_end_potential_errors(e, steps=[8])[0] for e in (1.0, 2.0, 10.0, 100.0)]
    assert all(a > b for a, b in itertools.pairwise(errors)), errors
    # O(1/|E|): a tenfold larger |E| gives roughly a tenfold smaller error.
    assert 4 < errors[2] / errors[3] < 25


def test_dstd_equals_exact_as_steps_grow():
    times, weight = _layer(batch=8)
    kw = {"e_rev_pos": 1.5, "e_rev_neg": -1.5}
    exact = rc_spike_potential(times, weight, **kw)
    fine = rc_spike_potential(times, weight, method="dstd", steps=2048, **kw)
    torch.testing.assert_close(fine, exact, rtol=0, atol=1e-5)


@pytest.mark.parametrize("method", ["exact", "dstd"])
def test_ideal_limit_is_the_weighted_sum(method):
    times, weight = _layer(batch=16, n_in=40)
    times[0, :7] = math.inf
    v_end = rc_spike_potential(times, weight, e_rev_pos=math.inf, e_rev_neg=-math.inf, method=method, steps=3)
    active = torch.where(torch.isinf(times), torch.zeros_like(times), 1 - times)
    torch.testing.assert_close(v_end, active @ weight.t(), rtol=0, atol=1e-12)


def test_dstd_conv_ideal_limit_matches_exact_conv():
    times = torch.rand(2, 3, 6, 5, dtype=torch.float64)
    weight = torch.randn(4, 3, 3, 3, dtype=torch.float64)
    kw = {"e_rev_pos": math.inf, "e_rev_neg": -math.inf}
    exact = rc_spike_potential_conv2d(times, weight, **kw)
    dstd = rc_spike_potential_conv2d(times, weight, method="dstd", steps=2, offset=0.2, **kw)
    torch.testing.assert_close(dstd, exact, rtol=0, atol=1e-12)


def test_ttfs_dstd_converges_to_exact():
    gen = torch.Generator().manual_seed(3)
    times = 2.0 * torch.rand(32, 60, generator=gen, dtype=torch.float64)
    weight = 0.08 * torch.rand(30, 60, generator=gen, dtype=torch.float64) + 0.004
    kw = {"e_rev_pos": 3.0, "e_rev_neg": -3.0, "window": 4.0}
    exact = ttfs_spike_times(times, weight, **kw)
    fires = torch.isfinite(exact)
    assert fires.float().mean() > 0.9
    errors = []
    for steps in (20, 40, 80, 160, 320):
        dstd = ttfs_spike_times(times, weight, method="dstd", steps=steps, **kw)
        assert torch.equal(torch.isfinite(dstd), fires)
        errors.append(float((dstd - exact)[fires].abs().mean()))
    assert all(a > b for a, b in itertools.pairwise(errors)), errors
    assert errors[-1] < 2e-3 and errors[0] / errors[-1] > 30, errors


@pytest.mark.parametrize("e_rev", [0.5, 1.0, 10.0, math.inf])
@pytest.mark.parametrize("method", ["exact", "dstd"])
def test_no_overflow_for_many_inputs_and_large_weights_in_float32(e_rev, method):
    gen = torch.Generator().manual_seed(0)
    times = torch.rand(2, 10_000, generator=gen)
    weight = (200 * torch.rand(3, 10_000, generator=gen) - 100).requires_grad_()
    times.requires_grad_()
    kw = {"e_rev_pos": e_rev, "e_rev_neg": -e_rev, "method": method, "steps": 10}
    v_end = rc_spike_potential(times, weight, **kw)
    v_end.sum().backward()
    assert torch.isfinite(v_end).all() and torch.isfinite(weight.grad).all() and torch.isfinite(times.grad).all()
    if math.isfinite(e_rev):
        assert float(v_end.detach().abs().max()) <= e_rev * (1 + 1e-5)
    t_out = ttfs_spike_times(times.detach() * 4, weight.detach(), window=4.0, **kw)
    assert not torch.isnan(t_out).any()
