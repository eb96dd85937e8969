"""Bias DACs (issue 14, deliverable 4): gate biases on 2**n levels, the weights they realise, and training
against them with a straight-through gradient."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from test_mapping_and_extraction import _synthetic_characterization

from imcpnn.circuit import CircuitConfig
from imcpnn.circuit.dac import BiasDAC, WeightLevels, quantize_biases, quantize_gate, quantize_weights, realized_weights
from imcpnn.circuit.mapping import weights_to_biases

CONFIG = CircuitConfig()


def _weights(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(-0.9, 0.9, size=(5, 5)), rng.uniform(-0.9, 0.9, size=(5, 5))]


def test_levels_rounding_and_saturation():
    dac = BiasDAC(2, nmos_range=(0.3, 0.6))
    levels = dac.levels((0.3, 0.6))
    assert levels == pytest.approx([0.3, 0.4, 0.5, 0.6])
    got = quantize_gate(np.array([0.2, 0.34, 0.36, 0.449, 0.72, np.nan]), levels)
    assert got[:5] == pytest.approx([0.3, 0.3, 0.4, 0.4, 0.6])  # clipped below and above: the DAC saturates
    assert np.isnan(got[5])  # a switched-off synapse stays off


def test_the_realised_weights_converge_to_the_trained_ones_with_the_bits():
    char = _synthetic_characterization()
    weights = _weights()
    biases = weights_to_biases(weights, char, CONFIG)
    errors = []
    for bits in (3, 5, 7, 9):
        dac = BiasDAC.spanning(bits, biases)
        realized = realized_weights(weights, char, CONFIG, dac)
        errors.append(max(np.abs(r - w).max() for r, w in zip(realized, weights, strict=True)))
        for r, w in zip(realized, weights, strict=True):
            assert (np.sign(r) == np.sign(w)).all()
    assert all(b < a / 2.5 for a, b in itertools.pairwise(errors))  # about 4x per 2 bits
    assert errors[-1] < 0.01


def test_the_quantised_biases_are_on_the_levels():
    char = _synthetic_characterization()
    biases = weights_to_biases(_weights(), char, CONFIG)
    dac = BiasDAC.spanning(4, biases)
    levels = dac.levels(dac.ranges(char)["nmos"])
    for layer in quantize_biases(biases, dac, char):
        on = np.isfinite(layer.nmos)
        assert np.isin(np.round(layer.nmos[on], 9), np.round(levels, 9)).all()


@pytest.mark.parametrize("scales", [(1.0, 1.0), (0.85, 1.1)])
def test_training_quantiser_matches_the_mapping_and_passes_the_gradient_straight_through(scales):
    char = _synthetic_characterization()
    weights = _weights(1)
    biases = weights_to_biases(weights, char, CONFIG, *scales)
    dac = BiasDAC.spanning(4, biases)
    levels = WeightLevels.of(dac, char, CONFIG, *scales)
    for weight, expected in zip(weights, realized_weights(weights, char, CONFIG, dac, *scales), strict=True):
        w = torch.tensor(weight, requires_grad=True)
        quantized = quantize_weights(w, levels)
        assert quantized.detach().numpy() == pytest.approx(expected, rel=1e-9, abs=1e-12)
        (quantized * torch.arange(25.0, dtype=w.dtype).reshape(5, 5)).sum().backward()
        assert w.grad.numpy() == pytest.approx(np.arange(25.0).reshape(5, 5))


def test_small_weights_stay_off():
    char = _synthetic_characterization()
    weights = [np.full((5, 5), 1e-4), np.full((5, 5), -1e-4)]
    dac = BiasDAC(4)
    for realized in realized_weights(weights, char, CONFIG, dac):
        assert (realized == 0).all()
    levels = WeightLevels.of(dac, char, CONFIG)
    assert (quantize_weights(torch.tensor(weights[0]), levels) == 0).all()


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"bits": 0}, "bits"),
        ({"bits": 17}, "bits"),
        ({"bits": 2.0}, "bits"),
        ({"bits": True}, "bits"),
        ({"bits": 4, "nmos_range": (0.6, 0.3)}, "v_low < v_high"),
        ({"bits": 4, "pmos_range": (float("nan"), 1.0)}, "finite"),
        ({"bits": 4, "nmos_range": 0.5}, "pair"),
    ],
)
def test_bad_dacs_are_refused(kwargs, words):
    with pytest.raises(ValueError, match=words):
        BiasDAC(**kwargs)
