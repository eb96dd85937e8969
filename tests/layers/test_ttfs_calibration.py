"""The TTFS initialisation calibrated layer by layer (issue 11): each layer's median spike time lands on the
staircase t_0 + l (t_ref - t_0) / L, by a positive rescaling of the paper's initial weights."""

from __future__ import annotations

import pytest
import torch

from imcpnn.layers import build_network
from imcpnn.layers.ttfs_calibration import calibrate_ttfs_init


def _network(arch: str = "20-30-30-10"):
    torch.manual_seed(3)
    return build_network(arch, family="ttfs", e_rev_pos=2.0, e_rev_neg=-2.0, window=4.0, steps=8, eval_steps=16)


def test_every_layer_lands_on_the_staircase_by_a_rescaling_only():
    network = _network()
    before = [layer.weight.detach().clone() for layer in network.spiking_layers()]
    inputs = torch.rand(64, 20, generator=torch.Generator().manual_seed(0))
    rows = calibrate_ttfs_init(network, inputs, t_ref=3.2)
    t0 = float(inputs.flatten().median())
    assert [r.layer for r in rows] == [1, 2, 3]
    for row, layer, original in zip(rows, network.spiking_layers(), before, strict=True):
        assert row.target == pytest.approx(t0 + row.layer * (3.2 - t0) / 3)
        assert row.median_after == pytest.approx(row.target, abs=0.02)
        assert layer.weight.detach() == pytest.approx(original * row.scale, rel=1e-6)  # the distribution's shape kept
    assert network.training  # the network's mode is restored
    # the calibrated network, run afresh, fires on the staircase too
    network.eval()
    with torch.no_grad():
        outputs = network.layer_outputs(inputs)
    for row, times in zip(rows, outputs, strict=True):
        assert float(times.flatten().median()) == pytest.approx(row.target, abs=0.02)


def test_conv_layers_are_calibrated_too():
    network = _network("1x8x8:C4-P-10")
    inputs = torch.rand(8, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    rows = calibrate_ttfs_init(network, inputs, t_ref=3.0)
    assert len(rows) == 2 and all(abs(r.median_after - r.target) < 0.02 for r in rows)


def test_bad_calls_are_refused():
    network = _network()
    inputs = torch.rand(16, 20, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="t_ref"):
        calibrate_ttfs_init(network, inputs, t_ref=5.0)  # beyond the window
    with pytest.raises(ValueError, match="t_ref"):
        calibrate_ttfs_init(network, inputs, t_ref=0.1)  # before the inputs' median
    with torch.no_grad():
        next(network.spiking_layers()).weight[0, 0] = -0.1
    with pytest.raises(ValueError, match="negative weights"):
        calibrate_ttfs_init(network, inputs, t_ref=3.2)


def test_train_calibrates_ttfs_and_refuses_rcspike():
    from imcpnn.training import TrainConfig
    from imcpnn.training.trainer import _calibrate_init, build_model, load_data

    config = TrainConfig.from_flags(dataset="digits", model="ttfs", max_train_samples=64, calibrate_init=32)
    assert config.optimiser.calibrate_init == 32 and config.to_record()["calibrate_init"] == 32
    torch.manual_seed(0)
    model = build_model(config)
    splits = load_data(config, model)
    lines: list[str] = []
    _calibrate_init(config, model, splits, torch.device("cpu"), lines.append)
    assert len(lines) == 1 and "initialisation calibrated on 32 training images" in lines[0], lines
    assert "layer 2 median spike time" in lines[0] and "-> 3.20" in lines[0]
    with pytest.raises(ValueError, match="calibrate_init"):
        TrainConfig.from_flags(dataset="digits", model="rcspike", calibrate_init=32)
    with pytest.raises(ValueError, match="calibrate_init"):
        TrainConfig.from_flags(dataset="digits", model="ttfs", calibrate_init=-1)
