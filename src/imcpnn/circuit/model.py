"""The model side of the comparison: RC-Spike predictions through :mod:`imcpnn.functional`.

Spike times are normalised to their layer's firing window, as the runner reports the circuit's.
Membrane traces are converted to volts with the circuit's polarity, ``V = V0 - v Vth_circ``.
The neuron is described by :class:`imcpnn.params.NeuronParams` (E±, β_dis; no leak in this circuit).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from imcpnn.functional import rc_spike_potential_trace, rc_spike_times
from imcpnn.params import NeuronParams
from imcpnn.physics.neuron import firing_potential

from .config import CircuitConfig
from .mapping import as_numpy
from .netlist import accumulation_start, firing_start, membrane_node


def clip_times(times: np.ndarray) -> np.ndarray:
    """Spike times clipped to ``[0, 1]`` (no spike, ``+inf``, counts as 1), the same on both sides."""
    return np.clip(np.where(np.isfinite(times), times, 1.0), 0.0, 1.0)


def _layer_spike_times(inputs: torch.Tensor, weight: torch.Tensor, params: NeuronParams) -> torch.Tensor:
    """One dense RC-Spike layer, exact event-driven solution (accumulation, then the firing phase)."""
    return rc_spike_times(
        inputs, weight, e_rev_pos=params.e_rev_pos, e_rev_neg=params.e_rev_neg, leak=params.leak,
        beta_dis=params.beta_dis, method="exact",
    )  # fmt: skip


def model_spike_times(weights: Sequence[object], input_times: np.ndarray, params: NeuronParams) -> list[np.ndarray]:
    """Spike times ``[B, N_l]`` of every layer (normalised firing time in ``[0, 1]``).

    ``input_times``: ``[B, N_in]``, normalised, ``+inf`` = no spike. Exact event-driven solution.
    """
    times = torch.as_tensor(np.atleast_2d(np.asarray(input_times, dtype=float)), dtype=torch.float64)
    outputs = []
    with torch.no_grad():
        for weight in weights:
            times = _layer_spike_times(times, torch.as_tensor(as_numpy(weight), dtype=torch.float64), params)
            outputs.append(times.numpy().copy())
    return outputs


def model_membrane_traces(
    weights: Sequence[object],
    input_times: np.ndarray,
    params: NeuronParams,
    config: CircuitConfig,
    time_s: np.ndarray,
) -> dict[str, np.ndarray]:
    """The model's membrane voltages (V) of one sample at the circuit times ``time_s`` (s).

    Per layer: ``V0`` before the accumulation window, the exact trace during it, the discharger
    ramp during the firing window (continued below threshold, as the circuit's), ``V0`` after.
    """
    period = config.t_circ
    time_s = np.asarray(time_s, dtype=float)
    inputs = torch.as_tensor(np.asarray(input_times, dtype=float).reshape(1, -1), dtype=torch.float64)
    reversal = {"e_rev_pos": params.e_rev_pos, "e_rev_neg": params.e_rev_neg, "leak": params.leak}
    traces: dict[str, np.ndarray] = {}
    with torch.no_grad():
        for layer, weight in enumerate(weights, start=1):
            w = torch.as_tensor(as_numpy(weight), dtype=torch.float64)
            t_acc = (time_s - accumulation_start(config, layer)) / period
            t_fire = (time_s - firing_start(config, layer)) / period
            in_acc = (t_acc >= 0) & (t_acc <= 1)
            query = torch.as_tensor(np.clip(t_acc[in_acc], 0.0, 1.0), dtype=torch.float64)
            acc = rc_spike_potential_trace(inputs, w, query, **reversal)[0].numpy()
            v_end = rc_spike_potential_trace(inputs, w, torch.ones(1, dtype=torch.float64), **reversal)[0, :, 0]
            in_fire = (t_fire > 0) & (t_fire <= 1)
            t_ramp = torch.as_tensor(t_fire[in_fire], dtype=torch.float64)
            fire = firing_potential(v_end[:, None], t_ramp[None, :], beta_dis=params.beta_dis).numpy()
            for i in range(w.shape[0]):
                v = np.zeros_like(time_s)
                v[in_acc] = acc[i]
                v[in_fire] = fire[i]
                traces[membrane_node(layer, i)] = config.v_rest - v * config.vth_circ
            inputs = _layer_spike_times(inputs, w, params)
    return traces
