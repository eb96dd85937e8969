"""The figures say what they show: legends for every kind of line, units, corner and temperature, phases."""

from __future__ import annotations

import numpy as np
import pytest

from imcpnn.circuit import plots
from imcpnn.circuit.characterization import BiasTable
from imcpnn.circuit.config import CircuitConfig


@pytest.fixture
def captured(monkeypatch):
    """The figures the plot functions save (the files are still written)."""
    figures = []
    original = plots.save_figure

    def capture(figure, path, dpi=120):
        figures.append(
            {
                "suptitle": figure._suptitle.get_text() if figure._suptitle is not None else "",
                "legends": [t.get_text() for legend in figure.legends for t in legend.get_texts()]
                + [t.get_text() for ax in figure.axes if ax.get_legend() for t in ax.get_legend().get_texts()],
                "titles": [ax.get_title() for ax in figure.axes],
                "labels": [(ax.get_xlabel(), ax.get_ylabel()) for ax in figure.axes],
                "texts": [t.get_text() for ax in figure.axes for t in ax.texts],
            }
        )
        return original(figure, path, dpi=dpi)

    monkeypatch.setattr(plots, "save_figure", capture)
    return figures


def test_iv_curves_name_spice_and_fit_and_the_corner(tmp_path, captured):
    config = CircuitConfig(corner="ss", temperature=85.0)
    drain = np.linspace(0.43, 1.36, 94)
    curves, tables = {}, {}
    for role, gates, pmos in (
        ("nmos", np.round(np.arange(0.40, 0.66, 0.01), 6), False),
        ("pmos", np.round(np.arange(1.05, 1.31, 0.01), 6), True),
        ("discharger", np.round(np.arange(0.50, 0.61, 0.01), 6), False),
    ):
        scale = np.exp((gates - gates.mean()) / 0.04)[:, None] * 1e-7
        delta = (config.v_rest - drain) if pmos else (drain - config.v_rest)
        curves[role] = (drain, gates, scale * (1 + 0.4 * delta[None, :]))
        tables[role] = BiasTable(gates, scale[:, 0], np.full(gates.shape, 0.4), np.ones(gates.shape))
    plots.plot_iv_curves(curves, tables, config, tmp_path / "iv_curves.png")
    (figure,) = captured
    assert "ss" in figure["suptitle"] and "85" in figure["suptitle"] and "°C" in figure["suptitle"]
    assert any("SPICE" in text for text in figure["legends"])
    assert any("fit" in text for text in figure["legends"])
    for xlabel, ylabel in figure["labels"]:
        assert "[" in xlabel and "[" in ylabel  # units
    assert (tmp_path / "iv_curves.png").stat().st_size > 10_000


def test_worst_sample_waveforms_label_phases_threshold_neurons_and_rmse(tmp_path, captured):
    config = CircuitConfig(layer_sizes=(5, 3, 2))
    time = np.linspace(0, 4e-6, 401)
    trace = {f"mem_{layer}_{i}": np.full_like(time, config.v_rest - 0.1 * i) for layer, n in ((1, 3), (2, 2))
             for i in range(n)}  # fmt: skip
    panel = plots.WaveformPanel({"time": time, **trace}, trace, "PNN-TO-IMC sample 7", rmse_ns=12.345)
    plots.plot_waveforms({"pnn_to_imc": panel}, config, tmp_path / "worst.png")
    (figure,) = captured
    legend = " | ".join(figure["legends"])
    for word in ("neuron 0", "neuron 2", "SPICE", "model", "V_switch = 0.428 V", "reset", "accumulation", "firing"):
        assert word in legend, (word, legend)
    assert all("RMSE 12.35 ns" in title for title in figure["titles"])
    assert {"reset phase", "accumulation phase", "firing phase"} <= set(figure["texts"])
    assert all(x == "time [µs]" and y == "membrane voltage [V]" for x, y in figure["labels"])
