"""Loss terms on output spike times (spec ``MODEL.md`` section 6; paper eqs. 49-53, 57-58)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import SpikingConv2d, SpikingLayer
from .config import LossSettings


def finite_times(spike_times: torch.Tensor, window: float) -> torch.Tensor:
    """Silent neurons (``+inf``) count as firing at the end of the window, for losses and predictions."""
    return torch.clamp(spike_times, max=window)


def spike_time_cross_entropy(output_times: torch.Tensor, labels: torch.Tensor, tau_soft: float) -> torch.Tensor:
    """``CE(softmax(-t / τ_soft), label)``, mean over the batch: the earliest output should be the label."""
    return F.cross_entropy(-output_times / tau_soft, labels)


def temporal_penalty(output_times: torch.Tensor, t_ref: float) -> torch.Tensor:
    """``Σ_i (t_i - t_ref)²`` over the output neurons, mean over the batch (paper eq. 52)."""
    return ((output_times - t_ref) ** 2).sum(dim=1).mean()


def early_spike_penalty(layer_times: list[torch.Tensor], t_late: float = 1.0) -> torch.Tensor:
    """``Σ_l Σ_i (t_i^(l) - 1)²``, mean over the batch (paper eq. 58): keeps spikes late, currents small."""
    return sum(((t.flatten(1) - t_late) ** 2).sum(dim=1).mean() for t in layer_times)  # type: ignore[return-value]


def weight_l2(layers: list[SpikingLayer]) -> torch.Tensor:
    """``Σ_l ||w^(l)||²`` (paper eq. 57): avoids large synaptic currents."""
    return sum((layer.weight**2).sum() for layer in layers)  # type: ignore[return-value]


@torch.no_grad()
def _causal_counts(layer: SpikingLayer, inputs: torch.Tensor, outputs: torch.Tensor, chunk: int = 8) -> torch.Tensor:
    """How often each synapse's input arrived before its neuron fired, summed over batch (and positions)."""
    counts = torch.zeros_like(layer.weight)
    for start in range(0, inputs.shape[0], chunk):
        t_in, t_out = inputs[start : start + chunk], outputs[start : start + chunk]
        if isinstance(layer, SpikingConv2d):
            kernel = layer.weight.shape[-1]
            pad = kernel // 2
            patches = F.unfold(F.pad(t_in, (pad,) * 4, value=float("inf")), kernel)  # [b, C k k, HW]
            before = patches.unsqueeze(1) < t_out.flatten(2).unsqueeze(2)  # [b, C_out, C k k, HW]
            counts += before.sum(dim=(0, 3)).view_as(counts).to(counts.dtype)
        else:
            before = t_in.unsqueeze(1) < t_out.unsqueeze(2)  # [b, N_out, N_in]
            counts += before.sum(dim=0).to(counts.dtype)
    return counts


def firing_regulariser(layer_io: list[tuple[SpikingLayer, torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """The TTFS regulariser ``Q = Σ_l Σ_i Σ_{j ∈ Γ_i} w_ij`` (paper eq. 53), mean over the batch.

    ``Γ_i`` holds the inputs that arrived before neuron ``i`` fired (all of them for a silent
    neuron). ``Q`` is differentiable in the weights only (``Γ`` is a set). Sign: the paper uses it
    "to promote firing", so the trainer adds ``-γ2 Q``: minimising the cost then raises the weights
    of the inputs that drive each neuron, which makes neurons fire earlier and silent ones fire.
    """
    batch = layer_io[0][1].shape[0]
    return sum((_causal_counts(layer, t_in, t_out) * layer.weight).sum() for layer, t_in, t_out in layer_io) / batch  # type: ignore[return-value]


def silent_surrogate_times(
    output_times: torch.Tensor, end_potential: torch.Tensor, window: float, threshold: float, slope: float
) -> torch.Tensor:
    """Output times with each silent neuron (``+inf``) replaced by ``T + κ max(ϑ - v(T), 0)``.

    Not in the spec: a surrogate for the loss only (the network's outputs stay silent). A silent
    output clamped to the window end ``T`` has no gradient, so once the label neuron falls silent
    the cross-entropy can only push the others later, and TTFS training collapses (digits: 79 %,
    outputs silent). The surrogate time grows with the gap between the threshold ``ϑ`` and the
    potential ``v(T)`` the neuron reached, so the loss raises a silent label neuron's potential
    until it fires (the "silent output" surrogate of the TTFS literature, e.g. S4NN's ``t_max``
    with a gradient). Firing neurons (``t <= T``) keep their times and gradients.
    """
    surrogate = window + slope * torch.clamp(threshold - end_potential, min=0.0)
    return torch.where(torch.isfinite(output_times), output_times, surrogate)


def silent_hidden_penalty(layer_io: list[LayerRecord]) -> torch.Tensor:
    """``mean over the hidden dense layers' neurons of [silent] max(ϑ - v(T), 0)``, mean over the batch.

    Not in the spec: a remedy for dead hidden neurons. A hidden TTFS neuron that stops firing has no
    gradient (its spike time is not a function of its weights), so it stays silent, and a layer can die
    on the way: the Fashion-MNIST TTFS CNN's 128-neuron dense layer went from 0 % to 88 % silent in 100
    steps (scripts/ttfs_cnn_firing.py). This term raises a silent neuron's end-of-window potential
    ``v(T)`` towards the threshold until it fires again; firing neurons add nothing. Dense layers only:
    a conv layer's ``v(T)`` costs another pass over it, and none of the CNN's conv layers fell silent.
    """
    hidden = [(layer, t_in, t_out) for layer, t_in, t_out in layer_io[:-1] if not isinstance(layer, SpikingConv2d)]
    if not hidden:
        return torch.zeros((), dtype=layer_io[-1][2].dtype, device=layer_io[-1][2].device)
    terms = []
    for layer, t_in, t_out in hidden:
        gap = torch.clamp(layer.config.params.threshold - layer.end_potential(t_in), min=0.0)
        terms.append(torch.where(torch.isfinite(t_out), torch.zeros_like(gap), gap).mean())
    return torch.stack(terms).sum()


def predict(output_times: torch.Tensor) -> torch.Tensor:
    """The class is the earliest output spike."""
    return output_times.argmin(dim=1)


LayerRecord = tuple[SpikingLayer, torch.Tensor, torch.Tensor]


class SpikeTimeLoss(nn.Module):
    """The cost ``imcpnn train`` minimises (spec ``MODEL.md`` section 6), for a training loop of your own.

    ``CE(softmax(-t / τ_soft), label) + γ1 Σ (t - t_ref)² - γ2 Q + λ Σ ||w||² + η Σ_l Σ (t - 1)²`` on the
    first ``num_classes`` outputs (silent neurons count as firing at the window's end). The terms after
    the cross-entropy need every neuron layer's ``(layer, input, output)``; get them with
    :func:`imcpnn.training.trainer.forward_layers`::

        loss_fn = SpikeTimeLoss(config.loss, window=config.time_window, num_classes=10)
        output, layer_io = forward_layers(model, spike_times)
        loss = loss_fn(output, labels, layer_io)
    """

    def __init__(self, settings: LossSettings | None = None, *, window: float, num_classes: int) -> None:
        super().__init__()
        self.settings = settings or LossSettings()
        self.window = float(window)
        self.num_classes = int(num_classes)

    def class_times(self, output: torch.Tensor, layer_io: list[LayerRecord] | None = None) -> torch.Tensor:
        """The class outputs ``[B, num_classes]``: silent ones at the window's end, or at their surrogate
        time (:func:`silent_surrogate_times`) when ``silent_surrogate`` is set and ``layer_io`` given."""
        times = output[:, : self.num_classes]
        slope = self.settings.silent_surrogate
        if slope and layer_io:
            layer, layer_input, _ = layer_io[-1]
            potential = layer.end_potential(layer_input)[:, : self.num_classes]
            return silent_surrogate_times(times, potential, self.window, layer.config.params.threshold, slope)
        return finite_times(times, self.window)

    def forward(
        self, output: torch.Tensor, labels: torch.Tensor, layer_io: list[LayerRecord] | None = None
    ) -> torch.Tensor:
        terms = self.settings
        needs_layers = (
            terms.gamma_q or terms.weight_l2 or terms.early_spike_penalty or terms.silent_surrogate
            or terms.silent_hidden_penalty
        )  # fmt: skip
        if needs_layers and not layer_io:
            raise ValueError(
                "gamma_q, weight_l2, early_spike_penalty, silent_surrogate and silent_hidden_penalty need every "
                "layer's (layer, input, output): pass layer_io from imcpnn.training.trainer.forward_layers(model, "
                "spike_times)"
            )
        class_times = self.class_times(output, layer_io)
        loss = spike_time_cross_entropy(class_times, labels, terms.tau_soft)
        if terms.gamma_temporal:
            loss = loss + terms.gamma_temporal * temporal_penalty(class_times, float(terms.t_ref))
        if terms.gamma_q:
            loss = loss - terms.gamma_q * firing_regulariser(layer_io)  # type: ignore[arg-type]
        if terms.weight_l2:
            loss = loss + terms.weight_l2 * weight_l2([layer for layer, _, _ in layer_io])  # type: ignore[union-attr]
        if terms.early_spike_penalty:
            times = [finite_times(out, self.window) for _, _, out in layer_io]  # type: ignore[union-attr]
            loss = loss + terms.early_spike_penalty * early_spike_penalty(times)
        if terms.silent_hidden_penalty:
            loss = loss + terms.silent_hidden_penalty * silent_hidden_penalty(layer_io)  # type: ignore[arg-type]
        return loss
