"""Layers, pooling, the network builder and the random offsets (spec section 5)."""

import math

import pytest
import torch
import torch.nn.functional as F

from imcpnn.functional import (
    min_pool2d,
    rc_spike_potential,
    rc_spike_potential_conv2d,
    ttfs_spike_times,
    ttfs_spike_times_conv2d,
)
from imcpnn.layers import (
    NeuronConfig,
    NeuronParams,
    SolverSettings,
    SpikingConv2d,
    SpikingLinear,
    build_network,
    parse_arch,
)


def _unfolded_dense(times, weight):
    """The conv input unfolded into patches (+inf outside the image) and the flattened kernel."""
    padded = F.pad(times, (1, 1, 1, 1), value=math.inf)
    patches = F.unfold(padded, 3).transpose(1, 2).reshape(-1, times.shape[1] * 9)
    return patches, weight.flatten(1)


@pytest.mark.parametrize("method", ["exact", "dstd"])
def test_rc_spike_conv_equals_dense_on_unfolded_input(method):
    times = torch.rand(2, 3, 5, 4, dtype=torch.float64)
    weight = torch.randn(6, 3, 3, 3, dtype=torch.float64)
    kw = {"e_rev_pos": 2.0, "e_rev_neg": -1.5, "method": method, "steps": 5, "offset": 0.07}
    conv = rc_spike_potential_conv2d(times, weight, **kw)
    patches, flat = _unfolded_dense(times, weight)
    dense = rc_spike_potential(patches, flat, **kw).view(2, 20, 6).transpose(1, 2).reshape(2, 6, 5, 4)
    torch.testing.assert_close(conv, dense, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("method", ["exact", "dstd"])
def test_ttfs_conv_equals_dense_on_unfolded_input(method):
    times = 2 * torch.rand(2, 2, 4, 4, dtype=torch.float64)
    weight = 0.2 * torch.rand(3, 2, 3, 3, dtype=torch.float64) + 0.05
    kw = {"e_rev_pos": 3.0, "e_rev_neg": -3.0, "window": 3.0, "method": method, "steps": 12, "offset": 0.1}
    conv = ttfs_spike_times_conv2d(times, weight, **kw)
    patches, flat = _unfolded_dense(times, weight)
    dense = ttfs_spike_times(patches, flat, **kw).view(2, 16, 3).transpose(1, 2).reshape(2, 3, 4, 4)
    torch.testing.assert_close(conv, dense, rtol=1e-10, atol=1e-12)


def test_min_pool_takes_earliest_spike():
    times = torch.tensor([[[[0.5, math.inf], [0.2, 0.9]]], [[[math.inf, math.inf], [math.inf, math.inf]]]])
    pooled = min_pool2d(times)
    assert pooled.shape == (2, 1, 1, 1)
    assert pooled[0].item() == pytest.approx(0.2) and math.isinf(pooled[1].item())


@pytest.mark.parametrize("family", ["rcspike", "ttfs"])
def test_training_mode_draws_new_offsets_and_eval_mode_does_not(family):
    config = NeuronConfig(family=family, params=NeuronParams.symmetric(3.0), steps=3, eval_steps=3)
    layer = SpikingLinear(30, 8, config)
    with torch.no_grad():
        layer.weight.uniform_(0.02, 0.1) if family == "ttfs" else None
    times = torch.rand(4, 30)
    layer.train()
    first, second = layer(times), layer(times)
    assert not torch.equal(first, second)
    layer.eval()
    assert torch.equal(layer(times), layer(times))


def test_eval_steps_and_fixed_offset_settings():
    layer = SpikingLinear(
        10, 4, NeuronConfig(params=NeuronParams.symmetric(2.0), steps=3, eval_steps=30, random_offset=False)
    )
    layer.train()
    assert layer.solver_settings() == SolverSettings(method="dstd", steps=3, offset=0.0)
    layer.eval()
    assert layer.solver_settings().steps == 30
    times = torch.rand(5, 10)
    expected = rc_spike_potential(times, layer.weight, e_rev_pos=2.0, e_rev_neg=-2.0, method="dstd", steps=30)
    torch.testing.assert_close(layer(times), torch.clamp(1 - expected, 0, 1))


def test_exact_solver_layer_matches_functional():
    conv = SpikingConv2d(2, 3, config=NeuronConfig(params=NeuronParams.symmetric(2.0), solver="exact"))
    times = torch.rand(1, 2, 4, 4)
    expected = rc_spike_potential_conv2d(times, conv.weight, e_rev_pos=2.0, e_rev_neg=-2.0)
    torch.testing.assert_close(conv(times), torch.clamp(1 - expected, 0, 1))


def test_spike_noise_stays_in_window_and_keeps_silent_neurons():
    layer = SpikingLinear(
        5, 50, NeuronConfig(family="ttfs", params=NeuronParams.symmetric(3.0, window=2.0), spike_noise=0.5)
    )
    with torch.no_grad():
        layer.weight.zero_()
        layer.weight[:25] = 1.0
    out = layer.eval()(torch.zeros(3, 5))
    assert torch.isinf(out[:, 25:]).all()
    finite = out[:, :25]
    assert (finite >= 0).all() and (finite <= 2.0).all() and finite.std() > 0


def test_builder_parses_paper_architectures():
    assert parse_arch("784-400-400-10") == ((784,), [("dense", 400), ("dense", 400), ("dense", 10)])
    vgg = build_network("3x32x32:C64-C64-P-C128-C128-P-C256-C256-P-512-10", e_rev_pos=2.0)
    assert vgg.input_shape == (3, 32, 32) and vgg.output_shape == (10,)
    assert sum(isinstance(m, SpikingConv2d) for m in vgg) == 6
    out = build_network("1x8x8:C4-P-FC16-10", steps=2)(torch.rand(2, 1, 8, 8))
    assert out.shape == (2, 10) and ((out >= 0) & (out <= 1)).all()


@pytest.mark.parametrize("arch", ["", "784", "abc-10", "784-X3-10", "784-10-C8", "3x8x8:P-P-P-P-10", "3x8x8:C4-P"])
def test_builder_rejects_bad_strings(arch):
    with pytest.raises(ValueError, match="architecture"):
        build_network(arch)


def test_set_config_changes_every_layer():
    net = build_network("20-10-5", e_rev_pos=100.0)
    net.set_config(e_rev_pos=2.0, eval_steps=30)
    assert all(
        layer.config.params.e_rev_pos == 2.0 and layer.config.params.e_rev_neg == -2.0 for layer in net.spiking_layers()
    )


def test_ttfs_network_fires_after_initialisation():
    net = build_network("64-50-10", family="ttfs", e_rev_pos=2.0, steps=20)
    out = net(torch.rand(16, 64))
    assert torch.isfinite(out).float().mean() > 0.9
