"""Loss terms against direct computations."""

import math

import pytest
import torch

from imcpnn.layers import NeuronConfig, NeuronParams, SpikingConv2d, SpikingLinear
from imcpnn.training import losses


def test_cross_entropy_on_negative_times():
    times = torch.tensor([[0.2, 0.5, 0.9], [0.7, 0.1, 0.4]])
    labels = torch.tensor([0, 2])
    tau = 0.07
    expected = -(torch.log_softmax(-times / tau, dim=1)[[0, 1], [0, 2]]).mean()
    torch.testing.assert_close(losses.spike_time_cross_entropy(times, labels, tau), expected)


def test_temporal_and_early_spike_penalties():
    times = torch.tensor([[0.2, 0.5], [1.0, 0.9]])
    assert math.isclose(losses.temporal_penalty(times, 0.9).item(), (0.49 + 0.16 + 0.01 + 0.0) / 2, rel_tol=1e-6)
    expected = ((0.64 + 0.25 + 0 + 0.01) / 2) * 2
    assert math.isclose(losses.early_spike_penalty([times, times]).item(), expected, rel_tol=1e-6)


def test_silent_neurons_count_as_end_of_window_and_earliest_wins():
    times = torch.tensor([[math.inf, 0.25, 0.75]])
    assert losses.finite_times(times, 4.0).tolist() == [[4.0, 0.25, 0.75]]
    assert losses.predict(times).item() == 1


def _brute_force_q(weight, t_in, t_out):
    total = 0.0
    for b in range(t_in.shape[0]):
        for i in range(weight.shape[0]):
            for j in range(weight.shape[1]):
                if t_in[b, j] < t_out[b, i]:
                    total += float(weight[i, j])
    return total / t_in.shape[0]


def test_firing_regulariser_counts_inputs_before_each_spike():
    layer = SpikingLinear(6, 4, NeuronConfig(family="ttfs", params=NeuronParams.symmetric(3.0)))
    t_in = torch.tensor([[0.1, 0.5, math.inf, 1.0, 0.2, 2.0], [0.3, 0.3, 0.3, 0.3, 0.3, 0.3]])
    t_out = torch.tensor([[0.4, math.inf, 1.5, 0.05], [0.3, 0.31, 1.0, math.inf]])
    q = losses.firing_regulariser([(layer, t_in, t_out)])
    assert math.isclose(q.item(), _brute_force_q(layer.weight.detach(), t_in, t_out), rel_tol=1e-6)
    q.backward()  # differentiable in the weights
    assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0


def test_firing_regulariser_of_conv_matches_unfolded_dense():
    layer = SpikingConv2d(2, 3, config=NeuronConfig(family="ttfs", params=NeuronParams.symmetric(3.0)))
    t_in = 2 * torch.rand(2, 2, 4, 4)
    t_out = 2 * torch.rand(2, 3, 4, 4)
    q = losses.firing_regulariser([(layer, t_in, t_out)]).item()
    padded = torch.nn.functional.pad(t_in, (1, 1, 1, 1), value=math.inf)
    patches = torch.nn.functional.unfold(padded, 3).transpose(1, 2).reshape(-1, 18)  # [B*16, 18]
    outputs = t_out.flatten(2).transpose(1, 2).reshape(-1, 3)
    expected = _brute_force_q(layer.weight.detach().flatten(1), patches, outputs) * patches.shape[0] / 2
    assert math.isclose(q, expected, rel_tol=1e-5)


def test_spike_time_loss_is_the_trainers_cost_for_a_loop_of_ones_own():
    from imcpnn.training import SpikeTimeLoss, TrainConfig, build_model, compute_loss, forward_layers

    config = TrainConfig.from_flags(dataset="iris", model="ttfs", gamma_q=1e-3, weight_l2=1e-2, early_spike_penalty=0.1)
    model = build_model(config).train()
    times, labels = torch.rand(8, 5), torch.randint(0, 3, (8,))
    torch.manual_seed(0)
    expected, _ = compute_loss(config, model, times, labels, 3)
    torch.manual_seed(0)
    output, layer_io = forward_layers(model, times)
    loss_fn = SpikeTimeLoss(config.loss, window=config.time_window, num_classes=3)
    torch.testing.assert_close(loss_fn(output, labels, layer_io), expected)
    with pytest.raises(ValueError, match="layer_io"):
        loss_fn(output, labels)


def test_ttfs_end_potential_is_the_exact_potential_at_the_window_end():
    """``v(T)`` of a TTFS layer (what a silent output's surrogate time is made of): DSTD at large M
    against the exact event-driven potential, dense and convolutional."""
    from imcpnn import kernels
    from imcpnn.params import SolverSettings

    torch.manual_seed(0)
    params = NeuronParams(e_rev_pos=2.0, e_rev_neg=-2.0, window=4.0)
    t_in = torch.rand(3, 12, dtype=torch.float64)
    weight = 0.3 * torch.randn(5, 12, dtype=torch.float64)
    exact = kernels.ttfs_potential(t_in, weight, params, SolverSettings(method="exact"))
    dstd = kernels.ttfs_potential(t_in, weight, params, SolverSettings(steps=800))
    torch.testing.assert_close(dstd, exact, atol=1e-4, rtol=0)
    image = torch.rand(2, 2, 5, 5, dtype=torch.float64)
    conv_weight = 0.3 * torch.randn(3, 2, 3, 3, dtype=torch.float64)
    conv_exact = kernels.ttfs_potential_conv2d(image, conv_weight, params, SolverSettings(method="exact"))
    conv_dstd = kernels.ttfs_potential_conv2d(image, conv_weight, params, SolverSettings(steps=800))
    torch.testing.assert_close(conv_dstd, conv_exact, atol=1e-4, rtol=0)


def test_silent_surrogate_gives_a_silent_label_neuron_a_gradient():
    """Without the surrogate a silent label output is clamped at T and gets no gradient; with it the loss
    raises the label neuron's potential (its weights from the inputs that spiked), so it can fire again."""
    from imcpnn.training.config import LossSettings

    torch.manual_seed(1)
    config = NeuronConfig(family="ttfs", params=NeuronParams(e_rev_pos=2.0, window=4.0), spike_noise=0.0)
    layer = SpikingLinear(6, 3, config)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[0.05] * 6, [2.0] * 6, [2.0] * 6]))  # output 0 stays silent
    t_in = torch.rand(4, 6)
    labels = torch.zeros(4, dtype=torch.long)
    gradients = {}
    for slope in (0.0, 1.0):
        layer.zero_grad()
        out = layer(t_in)
        assert torch.isinf(out[:, 0]).all() and torch.isfinite(out[:, 1:]).all()
        loss_fn = losses.SpikeTimeLoss(LossSettings(tau_soft=0.5, silent_surrogate=slope), window=4.0, num_classes=3)
        loss_fn(out, labels, [(layer, t_in, out)]).backward()
        gradients[slope] = layer.weight.grad.clone()
    assert torch.count_nonzero(gradients[0.0][0]) == 0, "clamped at T: the silent label neuron learns nothing"
    assert (gradients[1.0][0] < 0).all(), "the surrogate raises every weight of the silent label neuron"
    assert torch.isfinite(gradients[1.0]).all()
    # firing outputs keep their own times: the surrogate touches the silent ones only
    times = losses.silent_surrogate_times(
        torch.tensor([[math.inf, 1.5]]), torch.tensor([[0.25, 0.9]]), window=4.0, threshold=1.0, slope=2.0
    )
    assert times.tolist() == [[4.0 + 2.0 * 0.75, 1.5]]


def test_silent_surrogate_needs_the_layers_and_a_valid_slope():
    from imcpnn.training.config import LossSettings

    loss_fn = losses.SpikeTimeLoss(LossSettings(silent_surrogate=1.0), window=4.0, num_classes=2)
    with pytest.raises(ValueError, match="silent_surrogate and silent_hidden_penalty need"):
        loss_fn(torch.tensor([[1.0, math.inf]]), torch.tensor([0]))
    for bad in (-1.0, math.inf, math.nan, True):
        with pytest.raises(ValueError, match="silent_surrogate must be"):
            LossSettings(silent_surrogate=bad)


def test_the_ttfs_cnn_preset_keeps_the_firing_regulariser_a_nudge():
    """Q sums over every neuron, so a conv network's is thousands of times an MLP's: with the family's γ2 the
    TTFS CNN's -γ2 Q outweighed its cross-entropy from the first step and training collapsed. The Fashion-MNIST
    preset's γ2 keeps it far below the cross-entropy at initialisation (ln 10 = 2.3 for 10 classes)."""
    from imcpnn.families import get_family
    from imcpnn.training import TrainConfig
    from imcpnn.training.losses import firing_regulariser
    from imcpnn.training.trainer import build_model, forward_layers

    config = TrainConfig.from_flags(dataset="fashion-mnist", model="ttfs", steps=4, data_dir="unused")
    torch.manual_seed(0)
    model = build_model(config)
    images = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    _, layer_io = forward_layers(model, 1.0 - images)
    with torch.no_grad():
        q = float(firing_regulariser(layer_io))
    assert config.loss.gamma_q * q < 0.05
    assert get_family("ttfs").defaults.gamma_q * q > 1.0  # the family default: as large as the cross-entropy


def test_the_silent_hidden_penalty_revives_dead_hidden_neurons_only():
    """A silent hidden neuron has no spike-time gradient; the penalty's gradient raises its input weights,
    and neurons that fire (and the output layer) add nothing."""
    from imcpnn.layers import build_network
    from imcpnn.training.losses import silent_hidden_penalty
    from imcpnn.training.trainer import forward_layers

    torch.manual_seed(0)
    network = build_network("6-4-3", family="ttfs", e_rev_pos=2.0, e_rev_neg=-2.0, window=4.0, steps=8)
    hidden = next(network.spiking_layers())
    with torch.no_grad():
        hidden.weight[0] = -0.5  # neuron 0 never fires
        hidden.weight[1:] = 3.0  # the others fire early
    inputs = torch.rand(5, 6, generator=torch.Generator().manual_seed(1))
    network.eval()
    _, layer_io = forward_layers(network, inputs)
    assert not torch.isfinite(layer_io[0][2][:, 0]).any() and torch.isfinite(layer_io[0][2][:, 1:]).all()
    penalty = silent_hidden_penalty(layer_io)
    with torch.no_grad():
        v_end = hidden.end_potential(inputs)[:, 0]  # falls towards E- = -2: a gap of ϑ - v(T) ~ 3
    assert float(v_end.max()) < -1.0
    assert float(penalty.detach()) == pytest.approx(float((1.0 - v_end).mean()) / 4, rel=1e-6)  # 1 of 4 neurons
    penalty.backward()
    assert (hidden.weight.grad[0] < 0).all()  # descending the penalty raises the dead neuron's weights
    assert (hidden.weight.grad[1:] == 0).all()
    assert network[-1].weight.grad is None or (network[-1].weight.grad == 0).all()
