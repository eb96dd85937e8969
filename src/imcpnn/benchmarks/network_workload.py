"""What the network benchmark times: one training step of a whole network in three forms.

- ``dstd``: the RC-Spike network as the trainer runs it (:func:`imcpnn.training.trainer.compute_loss`'s
  cost, backward, Adam): DSTD with ``M`` steps, a fresh random grid offset per layer and step, spike
  noise on every layer's output.
- ``ann``: the network's ideal limit (spec ``MODEL.md`` section 2), :class:`IdealAnn`: on ``x = 1 - t``
  every layer computes ``clip(W x, 0, 1)`` (a hard sigmoid), pooling is max-pooling of ``x`` (the spiking
  network's min-pooling of ``t``); same loss, backward and Adam. The floor of any spiking network.
- ``bound``: :class:`BoundChain`, DSTD's products alone: per neuron layer the one ``matmul`` / ``conv2d``
  of the soft spikes (``K`` grid intervals, folded into the batch) with the stacked weight
  ``[2 N_out, ...]`` (:func:`imcpnn.physics.dstd.dense_coefficients`, ``conv_coefficients``), chained
  layer to layer, forward and backward, nothing else (no Adam step).

Every step works on one random batch already on the device: intensities ``x ~ U(0, 1)`` encoded as
spike times ``t = 1 - x``, random labels.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..data.encoding import encode_images
from ..experiments.presets import CPU_CNN, VGG7
from ..layers import MinPool2d, SpikingConv2d, SpikingLinear, SpikingNetwork, build_network
from ..training import TrainConfig
from ..training.losses import SpikeTimeLoss
from ..training.precision import step_autocast

#: The named networks: the paper's CIFAR-10 VGG7, its Fashion-MNIST MLP and this project's CPU CNN.
NETWORK_PRESETS: dict[str, str] = {
    "vgg7": f"3x32x32:{VGG7}",
    "fmnist-mlp": "784-400-400-10",
    "cpu-cnn": f"1x28x28:{CPU_CNN}",
}
CASES = ("ann", "dstd", "bound")

Step = Callable[[], None]


def resolve_network(name: str) -> str:
    """The architecture string of a preset name, or ``name`` itself if it is one :func:`build_network`
    accepts and ends in a dense layer (the loss reads its classes); a :class:`ValueError` otherwise."""
    arch = NETWORK_PRESETS.get(name, name)
    try:
        with torch.device("meta"):  # checks the structure without allocating any weight
            network = SpikingNetwork(arch)
    except ValueError as error:
        raise ValueError(
            f"unknown network {name!r}: neither a preset ({', '.join(NETWORK_PRESETS)}) nor an architecture "
            f"string ({error})"
        ) from None
    if len(network.output_shape) != 1:
        raise ValueError(f"network {name!r} ends in a convolution; the loss needs a dense last layer (e.g. '-10')")
    return arch


def intervals_for(steps: int) -> int:
    """DSTD's grid intervals in training: ``M`` of width ``1/M`` and the random offset's short last one."""
    return steps + 1


def training_config(arch: str, steps: int, *, e_rev: float, spike_noise: float, lr: float, batch: int) -> TrainConfig:
    """The RC-Spike training settings of ``arch`` (the family's defaults: loss, random offsets)."""
    # The Fashion-MNIST preset sets only the architecture (given here) and the epochs (unused): the loss
    # and the neuron are the RC-Spike family's training defaults.
    return TrainConfig.from_flags(
        dataset="fashion-mnist", model="rcspike", arch=arch, steps=steps, e_rev=e_rev, offset="random",
        spike_noise=spike_noise, lr=lr, batch_size=batch, out="unused",
    )  # fmt: skip


class IdealAnn(nn.Sequential):
    """The ideal limit of an RC-Spike network (spec section 2): input and output are spike times.

    On ``x = 1 - t``: convolution (no bias, stride 1, padding ``k // 2``) or linear layer (no bias),
    then ``clip(., 0, 1)``; pooling is ``max_pool2d`` on ``x``. The spiking network with ``|E±| = ∞``,
    ``β_dis = 0`` and no spike noise computes the same (DSTD integrates ``Σ w (1 - t)`` exactly then).
    """

    def __init__(self, network: SpikingNetwork) -> None:
        modules: list[nn.Module] = []
        for module in network:
            if isinstance(module, SpikingConv2d):
                kernel = module.weight.shape[-1]
                conv = nn.Conv2d(module.in_channels, module.out_channels, kernel, padding=kernel // 2, bias=False)
                modules += [_copy_weight(conv, module.weight), nn.Hardtanh(0.0, 1.0)]
            elif isinstance(module, SpikingLinear):
                linear = nn.Linear(module.in_features, module.out_features, bias=False)
                modules += [_copy_weight(linear, module.weight), nn.Hardtanh(0.0, 1.0)]
            elif isinstance(module, MinPool2d):
                modules.append(nn.MaxPool2d(module.kernel_size))
            elif isinstance(module, nn.Flatten):
                modules.append(nn.Flatten())
            else:
                raise ValueError(f"IdealAnn: no ideal counterpart of {type(module).__name__}")
        super().__init__(*modules)
        self.input_shape = network.input_shape
        self.output_shape = network.output_shape

    def forward(self, spike_times: torch.Tensor) -> torch.Tensor:
        return 1.0 - super().forward(1.0 - spike_times)


def _copy_weight(module: nn.Module, weight: torch.Tensor) -> nn.Module:
    with torch.no_grad():
        module.weight.copy_(weight)
    return module


class BoundChain(nn.Module):
    """DSTD's products of a network and nothing else: per neuron layer one product of the soft spikes
    ``[B, K, ...]`` with a stacked weight ``[2 N_out, ...]`` (the shapes :func:`~imcpnn.physics.dstd.dense_coefficients`
    and :func:`~imcpnn.physics.dstd.conv_coefficients` multiply in training).

    Convolutions run in channels_last (NHWC), the layout DSTD's products use
    (:func:`~imcpnn.physics.dstd.conv_products`): the bound is the fastest form of the same products.
    Consecutive products are joined by views: the first ``N_out`` outputs (channels) of a product feed
    the next one, a pooling takes every ``k``-th row and column, a dense layer after a convolution
    flattens. Input: the first layer's soft spikes ``[B, K, *input_shape]``; output: the last product.
    """

    def __init__(self, network: SpikingNetwork) -> None:
        super().__init__()
        self.plan: list[tuple[str, int]] = []
        weights = []
        for module in network:
            if isinstance(module, (SpikingConv2d, SpikingLinear)):
                weight = module.weight.detach()
                weights.append(nn.Parameter(torch.cat([weight, weight], dim=0).clone()))
                self.plan.append(("conv" if module.convolutional else "dense", len(weights) - 1))
            elif isinstance(module, MinPool2d):
                self.plan.append(("pool", module.kernel_size))
            elif isinstance(module, nn.Flatten):
                self.plan.append(("flatten", 0))
            else:
                raise ValueError(f"BoundChain: no product for {type(module).__name__}")
        self.weights = nn.ParameterList(weights)

    def forward(self, soft_spikes: torch.Tensor) -> torch.Tensor:
        batch, intervals = soft_spikes.shape[:2]
        h = out = soft_spikes
        for kind, index in self.plan:
            if kind == "conv":
                weight = self.weights[index]
                folded = h.reshape(batch * intervals, *h.shape[2:]).contiguous(memory_format=torch.channels_last)
                nhwc_weight = weight.contiguous(memory_format=torch.channels_last)
                out = F.conv2d(folded, nhwc_weight, padding=weight.shape[-1] // 2)
                h = out.view(batch, intervals, *out.shape[1:]).narrow(2, 0, weight.shape[0] // 2)
            elif kind == "dense":
                weight = self.weights[index]
                out = torch.matmul(h, weight.t())
                h = out.narrow(-1, 0, weight.shape[0] // 2)
            elif kind == "pool":
                rows, cols = h.shape[-2] // index * index, h.shape[-1] // index * index
                h = h[..., :rows:index, :cols:index]
            else:
                h = h.flatten(2)
        return out


def _random_batch(
    input_shape: tuple[int, ...], classes: int, batch: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    times = encode_images(torch.rand(batch, *input_shape, device=device))
    return times, torch.randint(0, classes, (batch,), device=device)


def _optimised_step(
    model: nn.Module, config: TrainConfig, batch: int, device: torch.device, precision: str
) -> Step:  # fmt: skip
    """The trainer's step on one fixed batch: the loss of the output times (under ``precision``'s autocast,
    as :func:`imcpnn.training.trainer.train_one_epoch`), backward, Adam."""
    classes = model.output_shape[0]
    times, labels = _random_batch(tuple(model.input_shape), classes, batch, device)
    loss_fn = SpikeTimeLoss(config.loss, window=config.time_window, num_classes=classes)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.optimiser.lr)

    def step() -> None:
        with step_autocast(precision, device):
            loss = loss_fn(model(times), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def build_step(
    case: str, arch: str, steps: int | None, *, batch: int, e_rev: float, spike_noise: float, lr: float,
    device: torch.device, precision: str = "fp32",
) -> tuple[Step, int]:  # fmt: skip
    """One training step of ``case`` (``"dstd"``, ``"ann"`` or ``"bound"``) on ``arch``, ready to call
    repeatedly, and the element count of its weights; ``steps`` is DSTD's ``M`` (the bound's too:
    ``M + 1`` intervals), unused by the ANN."""
    if case not in CASES:
        raise ValueError(f"unknown case {case!r}; one of {', '.join(CASES)}")
    config = training_config(arch, steps or 4, e_rev=e_rev, spike_noise=spike_noise, lr=lr, batch=batch)
    network = build_network(arch, config.neuron).to(device).train()
    if case != "bound":
        model: nn.Module = network if case == "dstd" else IdealAnn(network).to(device).train()
        return _optimised_step(model, config, batch, device, precision), _count(model)
    chain = BoundChain(network).to(device)
    soft_spikes = torch.rand(batch, intervals_for(config.neuron.steps), *network.input_shape, device=device)

    def bound_step() -> None:
        for weight in chain.weights:
            weight.grad = None
        with step_autocast(precision, device):
            total = chain(soft_spikes).float().sum()
        total.backward()

    return bound_step, _count(chain)


def _count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
