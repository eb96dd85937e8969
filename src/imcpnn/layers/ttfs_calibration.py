"""The TTFS initialisation checked and corrected layer by layer on data (issue 11, "TTFS that trains").

The paper's initialisation (MODEL.md section 6, paper eq. 104-107; :func:`imcpnn.families.init_ttfs_weights`)
sizes ``w ~ U(0, w_max / N_in)`` so that each of the ``L`` layers adds a delay of about ``t_ref / L``,
assuming every layer's ``N_in`` inputs arrive uniformly over ``[0, 1]``. Deeper layers do not see such
inputs: their inputs arrive late and all together, so a neuron reaches the threshold on its first few
inputs. Measured on the Fashion-MNIST TTFS CNN (``C16-C16-P-C32-C32-P-128-10``, ``|E±| = 2``, a batch of
256 training images; scripts/ttfs_cnn_firing.py): every layer fires, with median spike times 0.90, 0.81,
0.70, 0.75, 0.69 and 0.76, where the derivation aims at a staircase that ends at ``t_ref = 3.2`` at the
output. The outputs fire before most of the inputs have arrived.

:func:`calibrate_ttfs_init` keeps the paper's distribution and rescales each layer's weights, in order,
so that the layer's median spike time on a data batch lands on that staircase: ``t_0 + l (t_ref - t_0) / L``
for layer ``l = 1 .. L``, with ``t_0`` the median input spike time (a silent neuron counts as ``+inf``).
The median output time falls monotonically with a positive weight scale, so each layer's scale is found
by bisection in ``log`` scale. This is the data-driven initialisation of deep networks (LSUV, Mishkin and
Matas 2016) applied to the spike time instead of the activation variance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .network import SpikingNetwork
from .neurons import SpikingLayer

#: The bisection's span of weight scales and its number of halvings (the scale to 0.1 % at the end).
_SCALE_SPAN = (1e-3, 1e3)
_BISECTIONS = 14


@dataclass(frozen=True)
class LayerCalibration:
    """One layer's calibration: the target and reached median spike time, the scale applied to its
    weights, and its silent fraction after calibration."""

    layer: int
    target: float
    median_before: float
    median_after: float
    scale: float
    silent_fraction: float


def _median_time(times: torch.Tensor) -> float:
    return float(times.flatten().double().median())


def calibrate_ttfs_init(
    network: SpikingNetwork, spike_times: torch.Tensor, t_ref: float
) -> tuple[LayerCalibration, ...]:
    """Rescale every neuron layer's weights, in place and in order, so that its median spike time on the
    input batch ``spike_times`` is ``t_0 + l (t_ref - t_0) / L`` (module doc). Runs without gradients, in
    the network's evaluation mode (no spike-time noise, the evaluation steps); returns what it did.

    Raises ValueError when ``t_ref`` is not inside the time window or beyond the inputs' median, or when a
    layer has weights < 0 (the calibration needs the TTFS initialisation's non-negative weights).
    """
    window = network.config.params.window
    layers = list(network.spiking_layers())
    t0 = _median_time(spike_times)
    if not (math.isfinite(t_ref) and t0 < t_ref <= window):
        raise ValueError(
            f"t_ref must lie between the inputs' median spike time {t0:.3g} and the window {window:g}; got {t_ref!r}"
        )
    was_training = network.training
    network.eval()
    results = []
    try:
        with torch.no_grad():
            x = spike_times
            index = 0
            for module in network:
                if not isinstance(module, SpikingLayer):
                    x = module(x)
                    continue
                index += 1
                if bool((module.weight < 0).any()):
                    raise ValueError(
                        f"layer {index} has negative weights: calibrate the TTFS initialisation before training"
                    )
                target = t0 + index * (t_ref - t0) / len(layers)
                original = module.weight.detach().clone()
                before = _median_time(module(x))

                def median_at(
                    scale: float, layer: SpikingLayer = module, w: torch.Tensor = original, inputs: torch.Tensor = x
                ) -> float:
                    layer.weight.copy_(w * scale)
                    return _median_time(layer(inputs))

                low, high = (math.log(s) for s in _SCALE_SPAN)
                for _ in range(_BISECTIONS):
                    middle = (low + high) / 2
                    if median_at(math.exp(middle)) > target:  # too late: more weight
                        low = middle
                    else:
                        high = middle
                scale = math.exp((low + high) / 2)
                after = median_at(scale)
                x = module(x)
                results.append(LayerCalibration(index, target, before, after, scale,
                                                float((~torch.isfinite(x)).float().mean())))  # fmt: skip
    finally:
        network.train(was_training)
    return tuple(results)


__all__ = ["LayerCalibration", "calibrate_ttfs_init"]
