"""The model side of the comparison: RC-Spike predictions through :mod:`imcpnn.functional`.

Spike times are normalised to their layer's firing window, as the runner reports the circuit's.
Membrane traces are converted to volts with the circuit's polarity, ``V = V0 - v Vth_circ``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .config import CircuitConfig
from .mapping import as_numpy
from .netlist import accumulation_start, firing_start, membrane_node


@dataclass(frozen=True)
class NeuronModel:
    """Reversal potentials and discharger non-ideality of an RC-Spike model."""

    name: str
    e_rev_pos: float
    e_rev_neg: float
    beta_dis: float

    def __post_init__(self) -> None:
        if not (self.e_rev_pos > 0 > self.e_rev_neg):
            raise ValueError(f"need e_rev_pos > 0 > e_rev_neg; got {self.e_rev_pos}, {self.e_rev_neg}")
        if not 0 <= self.beta_dis < 1:
            raise ValueError(f"beta_dis must be in [0, 1); got {self.beta_dis}")

    @classmethod
    def ideal(cls, magnitude: float = 100.0) -> NeuronModel:
        """The 'ANN' of the top-down flow: ``|E±| = magnitude`` (paper: 100) and the ideal discharger
        ramp (``β_dis = 0``), the model it is trained with."""
        return cls("ideal", magnitude, -magnitude, 0.0)


def _torch():
    import torch

    return torch


def model_spike_times(
    weights: Sequence[object], input_times: np.ndarray, model: NeuronModel
) -> list[np.ndarray]:
    """Spike times ``[B, N_l]`` of every layer (normalised firing time in ``[0, 1]``).

    ``input_times``: ``[B, N_in]``, normalised, ``+inf`` = no spike. Exact event-driven solution.
    """
    torch = _torch()
    from imcpnn.functional import rc_spike_fire, rc_spike_potential

    times = torch.as_tensor(np.atleast_2d(np.asarray(input_times, dtype=float)), dtype=torch.float64)
    outputs = []
    with torch.no_grad():
        for weight in weights:
            w = torch.as_tensor(as_numpy(weight), dtype=torch.float64)
            v_end = rc_spike_potential(times, w, e_rev_pos=model.e_rev_pos, e_rev_neg=model.e_rev_neg,
                                       method="exact")
            times = rc_spike_fire(v_end, beta_dis=model.beta_dis)
            outputs.append(times.numpy().copy())
    return outputs


def model_membrane_traces(
    weights: Sequence[object],
    input_times: np.ndarray,
    model: NeuronModel,
    config: CircuitConfig,
    time_s: np.ndarray,
) -> dict[str, np.ndarray]:
    """The model's membrane voltages (V) of one sample at the circuit times ``time_s`` (s).

    Per layer: ``V0`` before the accumulation window, the exact trace during it, the discharger
    ramp during the firing window (continued below threshold, as the circuit's), ``V0`` after.
    """
    torch = _torch()
    from imcpnn.functional import rc_spike_fire, rc_spike_potential_trace
    from imcpnn.physics.neuron import firing_potential

    period = config.t_circ
    time_s = np.asarray(time_s, dtype=float)
    inputs = torch.as_tensor(np.asarray(input_times, dtype=float).reshape(1, -1), dtype=torch.float64)
    traces: dict[str, np.ndarray] = {}
    with torch.no_grad():
        for layer, weight in enumerate(weights, start=1):
            w = torch.as_tensor(as_numpy(weight), dtype=torch.float64)
            t_acc = (time_s - accumulation_start(config, layer)) / period
            t_fire = (time_s - firing_start(config, layer)) / period
            in_acc = (t_acc >= 0) & (t_acc <= 1)
            query = torch.as_tensor(np.clip(t_acc[in_acc], 0.0, 1.0), dtype=torch.float64)
            acc = rc_spike_potential_trace(inputs, w, query, e_rev_pos=model.e_rev_pos,
                                           e_rev_neg=model.e_rev_neg)[0].numpy()
            v_end = rc_spike_potential_trace(inputs, w, torch.ones(1, dtype=torch.float64),
                                             e_rev_pos=model.e_rev_pos, e_rev_neg=model.e_rev_neg)[0, :, 0]
            in_fire = (t_fire > 0) & (t_fire <= 1)
            t_ramp = torch.as_tensor(t_fire[in_fire], dtype=torch.float64)
            fire = firing_potential(v_end[:, None], t_ramp[None, :], beta_dis=model.beta_dis).numpy()
            for i in range(w.shape[0]):
                v = np.zeros_like(time_s)
                v[in_acc] = acc[i]
                v[in_fire] = fire[i]
                traces[membrane_node(layer, i)] = config.v_rest - v * config.vth_circ
            inputs = rc_spike_fire(v_end.reshape(1, -1), beta_dis=model.beta_dis)
    return traces
