"""Model weights -> synaptic currents -> memory-transistor gate biases (CIRCUIT.md, "Map").

``I = a± C_m Vth_circ w / T_circ`` (w = 1 -> 122 nA with Table 2); positive weights set the NMOS
memory transistor through the characterised NMOS ``I0(V_G)`` table, negative ones the PMOS through
the PMOS table (monotone interpolation in log current). ``a+``, ``a-`` are the current scales
(2-D for ANN-to-IMC, equal for PNN-to-IMC).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .characterization import Characterization
from .config import CircuitConfig
from .netlist import LayerBiases

#: Weights smaller than this (|w|) are left off: their current (< 0.12 nA) is below the leakage floor.
MIN_ABS_WEIGHT = 1e-3


def as_numpy(weight: object) -> np.ndarray:
    """A weight matrix (numpy array or torch tensor) as a float64 numpy array."""
    if hasattr(weight, "detach"):
        weight = weight.detach().cpu().numpy()  # type: ignore[union-attr]
    return np.asarray(weight, dtype=float)


def weights_to_currents(
    weight: np.ndarray, config: CircuitConfig, scale_pos: float = 1.0, scale_neg: float = 1.0
) -> np.ndarray:
    """Signed synaptic currents (A): ``a± C_m Vth_circ w / T_circ``; positive = sinking (NMOS)."""
    weight = as_numpy(weight)
    if not np.isfinite(weight).all():
        raise ValueError("weights contain NaN or inf; map only finite trained weights")
    if not (scale_pos > 0 and scale_neg > 0):
        raise ValueError(f"current scales must be > 0; got a+={scale_pos}, a-={scale_neg}")
    scale = np.where(weight >= 0, scale_pos, scale_neg)
    return scale * weight * config.unit_current


def weights_to_biases(
    weights: Sequence[object],
    characterization: Characterization,
    config: CircuitConfig,
    scale_pos: float = 1.0,
    scale_neg: float | None = None,
) -> list[LayerBiases]:
    """Gate biases (V) of every layer for ``weights`` (``[N_out, N_in]`` each) at scales ``(a+, a-)``.

    ``scale_neg=None`` means the 1-D (global) scale ``a- = a+``. Raises ``ValueError`` when a
    weight needs a current outside the characterised table.
    """
    scale_neg = scale_pos if scale_neg is None else scale_neg
    if len(weights) != config.n_weight_layers:
        raise ValueError(
            f"got {len(weights)} weight matrices; the network {config.layer_sizes} has {config.n_weight_layers} layers"
        )
    biases = []
    for layer, weight in enumerate(weights, start=1):
        w = as_numpy(weight)
        expected = (config.layer_sizes[layer], config.layer_sizes[layer - 1])
        if w.shape != expected:
            raise ValueError(f"weight of layer {layer} has shape {w.shape}; expected {expected} [N_out, N_in]")
        current = weights_to_currents(w, config, scale_pos, scale_neg)
        nmos = np.full(w.shape, np.nan)
        pmos = np.full(w.shape, np.nan)
        positive = w >= MIN_ABS_WEIGHT
        negative = w <= -MIN_ABS_WEIGHT
        if positive.any():
            nmos[positive] = characterization.nmos.gate_for_current(current[positive])
        if negative.any():
            pmos[negative] = characterization.pmos.gate_for_current(-current[negative])
        biases.append(LayerBiases(nmos, pmos))
    return biases
