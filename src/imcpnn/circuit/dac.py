"""Bias DACs: memory-transistor gate biases quantised to ``n`` bits (issue 14, deliverable 4).

On a chip the gate bias of each memory transistor comes from a DAC (or a sample-and-hold fed by
one), so it takes one of ``2**n`` levels over a range ``[v_low, v_high]``, one range per polarity:

    V_k = v_low + k (v_high - v_low) / (2**n - 1),   k = 0 .. 2**n - 1.

A bias is rounded to the nearest level and clipped to the range (the DAC saturates). The weight the
synapse then realises follows from the characterised ``I0(V_G)`` table (CIRCUIT.md, "Map": ``I =
a± C_m Vth_circ w / T_circ``, read backwards): :func:`realized_weights`. Because ``V_G(w)`` is monotone,
rounding ``V_G`` to the nearest level is the same as rounding ``w`` to the nearest of the level
weights with the thresholds taken at the levels' midpoints in volts; :class:`WeightLevels` holds
those level weights and thresholds, and :func:`quantize_weights` applies them to a torch tensor with a
straight-through gradient, for training against the DAC.

Weights below :data:`~imcpnn.circuit.mapping.MIN_ABS_WEIGHT` stay switched off (no DAC level is spent
on them), as in the unquantised mapping.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .characterization import Characterization
from .config import CircuitConfig
from .mapping import MIN_ABS_WEIGHT, as_numpy, weights_to_biases
from .netlist import LayerBiases

#: The most bits a DAC may have here (beyond 16 the levels are finer than any table's interpolation).
MAX_DAC_BITS = 16


def _check_range(name: str, value: object) -> tuple[float, float] | None:
    if value is None:
        return None
    try:
        low, high = (float(v) for v in value)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be a pair (v_low, v_high) of volts or None (the table's span); got {value!r}"
        ) from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"{name} must be finite volts with v_low < v_high; got {value!r}")
    return (low, high)


@dataclass(frozen=True)
class BiasDAC:
    """An ``bits``-bit gate-bias DAC per polarity.

    ``nmos_range``/``pmos_range``: the ``(v_low, v_high)`` span of its levels (V); None spans the
    characterised table of that polarity (:meth:`ranges`). :meth:`spanning` builds the DAC whose
    ranges just cover a set of biases (one designed for a given network).
    """

    bits: int
    nmos_range: tuple[float, float] | None = None
    pmos_range: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.bits, bool) or not isinstance(self.bits, int) or not 1 <= self.bits <= MAX_DAC_BITS:
            raise ValueError(f"DAC bits must be an integer in [1, {MAX_DAC_BITS}]; got {self.bits!r}")
        object.__setattr__(self, "nmos_range", _check_range("nmos_range", self.nmos_range))
        object.__setattr__(self, "pmos_range", _check_range("pmos_range", self.pmos_range))

    @property
    def n_levels(self) -> int:
        return 2**self.bits

    def ranges(self, characterization: Characterization) -> dict[str, tuple[float, float]]:
        """The ``(v_low, v_high)`` of each polarity: the given one, or the span of the characterised table."""
        spans = {}
        for name, given, table in (
            ("nmos", self.nmos_range, characterization.nmos),
            ("pmos", self.pmos_range, characterization.pmos),
        ):
            spans[name] = given or (float(np.min(table.gate_v)), float(np.max(table.gate_v)))
        return spans

    def levels(self, v_range: tuple[float, float]) -> np.ndarray:
        """The ``2**bits`` gate voltages of a range (V), ascending."""
        return np.linspace(v_range[0], v_range[1], self.n_levels)

    @classmethod
    def spanning(cls, bits: int, biases: Sequence[LayerBiases]) -> BiasDAC:
        """The DAC whose ranges are the smallest that hold every bias of ``biases`` (NaN: off, ignored)."""

        def span(values: list[np.ndarray]) -> tuple[float, float] | None:
            finite = np.concatenate([v[np.isfinite(v)] for v in values])
            if finite.size == 0:
                return None
            low, high = float(finite.min()), float(finite.max())
            return (low, high) if high > low else (low - 1e-3, high + 1e-3)

        return cls(bits, span([b.nmos for b in biases]), span([b.pmos for b in biases]))

    def to_dict(self) -> dict[str, object]:
        return {"bits": self.bits, "nmos_range": self.nmos_range, "pmos_range": self.pmos_range}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> BiasDAC:
        return cls(int(data["bits"]), data.get("nmos_range"), data.get("pmos_range"))  # type: ignore[arg-type]


def quantize_gate(gate_v: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """``gate_v`` rounded to the nearest of ``levels`` (ascending), clipped to their span; NaN (off) stays NaN."""
    gate_v = np.asarray(gate_v, dtype=float)
    out = np.full(gate_v.shape, np.nan)
    on = np.isfinite(gate_v)
    step = (levels[-1] - levels[0]) / (len(levels) - 1)
    index = np.clip(np.rint((gate_v[on] - levels[0]) / step), 0, len(levels) - 1).astype(int)
    out[on] = levels[index]
    return out


def quantize_biases(
    biases: Sequence[LayerBiases], dac: BiasDAC, characterization: Characterization
) -> list[LayerBiases]:
    """Every gate bias of ``biases`` on the DAC's levels."""
    ranges = dac.ranges(characterization)
    nmos_levels, pmos_levels = dac.levels(ranges["nmos"]), dac.levels(ranges["pmos"])
    return [LayerBiases(quantize_gate(b.nmos, nmos_levels), quantize_gate(b.pmos, pmos_levels)) for b in biases]


def realized_weights(
    weights: Sequence[object],
    characterization: Characterization,
    config: CircuitConfig,
    dac: BiasDAC,
    scale_pos: float = 1.0,
    scale_neg: float | None = None,
) -> list[np.ndarray]:
    """The weights ``[N_out, N_in]`` a chip with ``dac`` realises for ``weights`` mapped at ``(a+, a-)``.

    Each weight is mapped to its gate bias (:func:`~imcpnn.circuit.mapping.weights_to_biases`), the bias
    put on the DAC's nearest level, and the level's current read back from the table and divided by
    ``a± C_m Vth_circ / T_circ``. Switched-off weights (below ``MIN_ABS_WEIGHT``) are 0.
    """
    scale_neg = scale_pos if scale_neg is None else scale_neg
    quantized = quantize_biases(weights_to_biases(weights, characterization, config, scale_pos, scale_neg), dac,
                                characterization)  # fmt: skip
    out = []
    for weight, bias in zip(weights, quantized, strict=True):
        realized = np.zeros(as_numpy(weight).shape)
        on_n, on_p = np.isfinite(bias.nmos), np.isfinite(bias.pmos)
        realized[on_n] = characterization.nmos.current_at_gate(bias.nmos[on_n]) / (scale_pos * config.unit_current)
        realized[on_p] = -characterization.pmos.current_at_gate(bias.pmos[on_p]) / (scale_neg * config.unit_current)
        out.append(realized)
    return out


@dataclass(frozen=True)
class WeightLevels:
    """The weights a DAC can realise at one current scale, and where rounding switches between them.

    ``positive``/``negative``: the level weights of each polarity (ascending magnitude); ``positive_edges``/
    ``negative_edges``: the weight magnitudes at the midpoints (in volts) of adjacent levels, so that
    ``levels[searchsorted(edges, |w|)]`` is the realised weight (:func:`quantize_weights`).
    """

    positive: np.ndarray
    positive_edges: np.ndarray
    negative: np.ndarray
    negative_edges: np.ndarray

    @classmethod
    def of(
        cls, dac: BiasDAC, characterization: Characterization, config: CircuitConfig, scale_pos: float = 1.0,
        scale_neg: float | None = None,
    ) -> WeightLevels:  # fmt: skip
        scale_neg = scale_pos if scale_neg is None else scale_neg
        ranges = dac.ranges(characterization)
        parts = []
        for table, v_range, scale in (
            (characterization.nmos, ranges["nmos"], scale_pos),
            (characterization.pmos, ranges["pmos"], scale_neg),
        ):
            levels = dac.levels(v_range)
            midpoints = (levels[1:] + levels[:-1]) / 2
            magnitude = table.current_at_gate(levels) / (scale * config.unit_current)
            edges = table.current_at_gate(midpoints) / (scale * config.unit_current)
            order = np.argsort(magnitude)  # NMOS: ascending gate; PMOS: descending
            edge_order = np.argsort(edges)
            parts += [magnitude[order], edges[edge_order]]
        return cls(*parts)


def quantize_weights(weight: object, levels: WeightLevels) -> object:
    """``weight`` (a torch tensor) on the DAC's level weights, with a straight-through gradient (the
    forward pass sees the realised weights, the backward pass the identity): training against the DAC.

    Magnitudes below ``MIN_ABS_WEIGHT`` stay 0 (switched off), as in the mapping."""
    import torch

    w = weight  # type: ignore[assignment]
    detached = w.detach()
    magnitude = detached.abs()
    out = torch.zeros_like(detached)
    for sign, values, edges in ((1.0, levels.positive, levels.positive_edges),
                                (-1.0, levels.negative, levels.negative_edges)):  # fmt: skip
        mask = (detached * sign) >= MIN_ABS_WEIGHT  # no .any() check: nothing here reads a device value back
        table = torch.as_tensor(values, dtype=detached.dtype, device=detached.device)
        bounds = torch.as_tensor(edges, dtype=detached.dtype, device=detached.device)
        index = torch.searchsorted(bounds, magnitude[mask])
        out[mask] = sign * table[index]
    return w + (out - detached)


__all__ = [
    "MAX_DAC_BITS",
    "BiasDAC",
    "WeightLevels",
    "quantize_biases",
    "quantize_gate",
    "quantize_weights",
    "realized_weights",
]
