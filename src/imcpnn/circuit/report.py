"""The comparison's typed results and their ``report.json`` form (CIRCUIT.md, "Model ↔ circuit flow", step 6).

:class:`FlowResult` holds one mapping flow's figures, :class:`Report` the whole comparison;
``Report.to_dict()`` is the content of ``report.json`` (its keys are read by the docs and the tests)
and :meth:`Report.from_dict` reads it back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from ..params import NeuronParams
from .characterization import Characterization
from .config import CircuitConfig, TransistorSize
from .dac import BiasDAC
from .energy import PARTS
from .flows import ANN_TO_IMC, PNN_TO_IMC
from .scale_search import Point, ScaleSearchOptions, SearchEvaluation


@dataclass(frozen=True)
class FailedSample:
    """A test sample whose simulation failed: its index, the cause and the message."""

    sample: int
    cause: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"sample": self.sample, "cause": self.cause, "message": self.message}


@dataclass(frozen=True)
class Accuracy:
    """Classification accuracy of the model and of the circuit over the simulated test samples."""

    model: float
    circuit: float


@dataclass(frozen=True)
class EnergySummary:
    """Mean energy per inference over a flow's test samples (fJ), per layer and :data:`~.energy.PARTS` entry;
    ``synaptic_events``: the mean input spikes arriving at an active synapse per inference; ``sources``: per
    layer, what each source group delivered (SPICE only; the ground truth the parts add up to)."""

    layers: tuple[dict[str, float], ...]
    synaptic_events: float
    sources: tuple[dict[str, float], ...] = ()

    @property
    def total_fj(self) -> float:
        return float(sum(sum(layer.values()) for layer in self.layers))

    def parts_fj(self) -> dict[str, float]:
        """Each part summed over the layers."""
        return {part: float(sum(layer.get(part, 0.0) for layer in self.layers)) for part in PARTS}

    def to_dict(self) -> dict[str, Any]:
        parts = self.parts_fj()
        data: dict[str, Any] = {
            "total_fj": self.total_fj,
            "per_synaptic_event_fj": self.total_fj / self.synaptic_events if self.synaptic_events > 0 else None,
            "synapses_per_synaptic_event_fj": parts["synapses"] / self.synaptic_events
            if self.synaptic_events > 0
            else None,
            "synaptic_events": self.synaptic_events,
            "parts_fj": parts,
            "layers_fj": [dict(layer) for layer in self.layers],
        }
        if self.sources:
            data["sources_fj"] = [dict(layer) for layer in self.sources]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EnergySummary:
        return cls(
            layers=tuple(dict(layer) for layer in data["layers_fj"]), synaptic_events=float(data["synaptic_events"]),
            sources=tuple(dict(layer) for layer in data.get("sources_fj", [])),
        )  # fmt: skip


@dataclass(frozen=True)
class FlowEnergy:
    """A flow's energy per inference (VARIATION.md section 6): SPICE's (the metered sources) and the model's
    estimate (:func:`~.energy.estimate_energy`) over the same test samples, those whose simulation recorded an
    energy (``n_samples``; a record of before the energy meters has none and is simulated again).

    ``total_rel_errors``: per sample, model minus SPICE over SPICE, of the total; ``cmos_driver_fj``: what CMOS
    drivers of the ideal control and input lines would draw, ``vdd`` times the charge the lines store at their
    rising edges (not in the total, which counts the ideal sources' ``V·I``).
    """

    n_samples: int
    spice: EnergySummary
    model: EnergySummary | None  # None: the model's constants could not be measured
    total_rel_errors: tuple[float, ...]
    cmos_driver_fj: dict[str, float] = field(default_factory=dict)

    def error_dict(self) -> dict[str, Any] | None:
        """Model minus SPICE: of the mean total and of each part's mean (fJ and relative to SPICE's total)."""
        if self.model is None:
            return None
        spice, model = self.spice.parts_fj(), self.model.parts_fj()
        total = self.spice.total_fj
        errors = np.abs(np.asarray(self.total_rel_errors)) if self.total_rel_errors else np.zeros(1)
        return {
            "total_fj": self.model.total_fj - total,
            "total_rel": (self.model.total_fj - total) / total if total else None,
            "per_sample_total_rel_mean_abs": float(errors.mean()),
            "per_sample_total_rel_max_abs": float(errors.max()),
            "parts_fj": {part: model[part] - spice[part] for part in PARTS},
            "parts_rel_to_part": {
                part: (model[part] - spice[part]) / spice[part] if abs(spice[part]) > 1e-9 else None for part in PARTS
            },
            "parts_rel_to_total": {part: (model[part] - spice[part]) / total if total else None for part in PARTS},
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_samples": self.n_samples,
            "spice": self.spice.to_dict(),
            "model": self.model.to_dict() if self.model is not None else None,
            "model_error": self.error_dict(),
            "total_rel_errors": list(self.total_rel_errors),
            "cmos_driver_equivalent_fj": dict(self.cmos_driver_fj),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FlowEnergy:
        model = data.get("model")
        return cls(
            n_samples=int(data["n_samples"]), spice=EnergySummary.from_dict(data["spice"]),
            model=EnergySummary.from_dict(model) if model else None,
            total_rel_errors=tuple(data.get("total_rel_errors", [])),
            cmos_driver_fj=dict(data.get("cmos_driver_equivalent_fj", {})),
        )  # fmt: skip


@dataclass(frozen=True)
class FlowResult:
    """One mapping flow of the comparison.

    Attributes:
        name: ``"ann_to_imc"`` or ``"pnn_to_imc"``.
        params: the neuron model that predicts the flow (``report.json``: ``models``).
        scales: the chosen ``(a+, a-)`` (equal for a 1-D flow); ``two_dimensional``: searched as such.
        rmse_ns: output spike-time RMSE, SPICE against model, over the simulated test samples.
        failed: the test samples whose simulation failed.
        max_abs_diff_ns: the largest output spike-time difference (None: no sample simulated).
        rmse_fired_ns: the RMSE over the output neurons that fire in SPICE or in the model;
        n_output_spikes: the output spikes of the circuit; rmse_layers_ns: the RMSE of every layer;
        accuracy: with test labels. These four are None when no test sample was simulated.
        search_history: every scale the search evaluated (empty for a fixed scale).
        energy: the energy per inference, SPICE and model (None when no test sample recorded one).
    """

    name: str
    params: NeuronParams
    scales: Point
    two_dimensional: bool
    rmse_ns: float
    failed: tuple[FailedSample, ...] = ()
    max_abs_diff_ns: float | None = None
    rmse_fired_ns: float | None = None
    n_output_spikes: int | None = None
    rmse_layers_ns: tuple[float, ...] | None = None
    accuracy: Accuracy | None = None
    search_history: tuple[SearchEvaluation, ...] = ()
    energy: FlowEnergy | None = None

    def scales_dict(self) -> dict[str, float]:
        """``{"a_pos", "a_neg"}`` (2-D) or ``{"a"}`` (1-D), as ``report.json`` writes them."""
        if self.two_dimensional:
            return {"a_pos": self.scales[0], "a_neg": self.scales[1]}
        return {"a": self.scales[0]}

    def model_dict(self) -> dict[str, float]:
        return {"e_rev_pos": self.params.e_rev_pos, "e_rev_neg": self.params.e_rev_neg,
                "beta_dis": self.params.beta_dis}  # fmt: skip


@dataclass(frozen=True)
class CharacterizationSummary:
    """The characterisation's figures a report repeats (λ, and the E±, β_dis derived from them)."""

    lambda_n: float
    lambda_p: float
    lambda_dis: float
    e_rev_pos: float
    e_rev_neg: float
    beta_dis: float

    @classmethod
    def of(cls, characterization: Characterization) -> CharacterizationSummary:
        return cls(**{f.name: getattr(characterization, f.name) for f in fields(cls)})

    def to_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _config_from_dict(data: Mapping[str, Any]) -> CircuitConfig:
    """The :class:`CircuitConfig` of its ``to_dict()`` (transistor sizes as ``{"w", "l"}``)."""
    values = {
        key: TransistorSize(**value) if isinstance(value, Mapping) else value
        for key, value in data.items()
        if key in {f.name for f in fields(CircuitConfig)}
    }
    values["layer_sizes"] = tuple(values.get("layer_sizes", CircuitConfig.layer_sizes))
    return CircuitConfig(**values)


#: The keys of ``report.json`` that :class:`Report` writes itself; the others are its ``extra``.
_REPORT_KEYS = frozenset({
    "lambda_n", "lambda_p", "lambda_dis", "e_rev_pos", "e_rev_neg", "beta_dis", "rmse_ns", "scales", "n_samples",
    "n_calibration", "failed", "max_abs_diff_ns", "rmse_fired_ns", "n_output_spikes", "rmse_layers_ns", "models",
    "scale_search", "accuracy", "rmse_ratio_ann_over_pnn", "wall_time_s", "config", "bias_dac", "energy",
})  # fmt: skip


@dataclass(frozen=True)
class Report:
    """A comparison of both flows (what :func:`~imcpnn.circuit.compare.compare` returns).

    Attributes:
        characterization: the characterisation's figures.
        flows: one :class:`FlowResult` per flow (ANN-to-IMC, then PNN-to-IMC).
        n_samples, n_calibration: test and calibration samples.
        search: the scale-search options; search_start: the scale the searches started from.
        config: the circuit simulated.
        wall_time_s: of the comparison, without the training.
        with_accuracy: whether test labels were given (``report.json`` then has ``accuracy``).
        extra: JSON values merged into ``report.json`` (e.g. ``training_test_accuracy``).
        bias_dac: the gate-bias DAC both flows were mapped through (None: exact biases).
    """

    characterization: CharacterizationSummary
    flows: tuple[FlowResult, ...]
    n_samples: int
    n_calibration: int
    search: ScaleSearchOptions
    search_start: float
    config: CircuitConfig
    wall_time_s: float
    with_accuracy: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)
    bias_dac: BiasDAC | None = None

    def flow(self, name: str) -> FlowResult:
        """The result of the flow called ``name``."""
        for result in self.flows:
            if result.name == name:
                return result
        raise KeyError(f"no flow {name!r} in this report; it has {', '.join(f.name for f in self.flows)}")

    @property
    def rmse_ns(self) -> dict[str, float]:
        """The output spike-time RMSE (ns) of every flow."""
        return {result.name: result.rmse_ns for result in self.flows}

    @property
    def ratio(self) -> float | None:
        """ANN-to-IMC RMSE over PNN-to-IMC RMSE; None when the PNN-to-IMC RMSE is 0 (or absent)."""
        rmse = self.rmse_ns
        return rmse[ANN_TO_IMC] / rmse[PNN_TO_IMC] if rmse.get(PNN_TO_IMC, 0) > 0 else None

    def to_dict(self) -> dict[str, Any]:
        """The content of ``report.json``."""
        flows = self.flows
        data: dict[str, Any] = {
            **self.characterization.to_dict(),
            "rmse_ns": self.rmse_ns,
            "scales": {f.name: f.scales_dict() for f in flows},
            "n_samples": self.n_samples,
            "n_calibration": self.n_calibration,
            "failed": {f.name: [s.to_dict() for s in f.failed] for f in flows},
            "max_abs_diff_ns": {f.name: f.max_abs_diff_ns for f in flows},
            "rmse_fired_ns": {f.name: f.rmse_fired_ns for f in flows if f.rmse_fired_ns is not None},
            "n_output_spikes": {f.name: f.n_output_spikes for f in flows if f.n_output_spikes is not None},
            "rmse_layers_ns": {f.name: list(f.rmse_layers_ns) for f in flows if f.rmse_layers_ns is not None},
            "models": {f.name: f.model_dict() for f in flows},
            "scale_search": {
                "start": round(self.search_start, 2),
                "probe": self.search.probe,
                "fine": self.search.fine,
                "newton_steps": self.search.newton_steps,
                "max_evaluations": self.search.max_evaluations,
                "history": {f.name: [e.to_dict() for e in f.search_history] for f in flows},
            },
            **self.extra,
        }
        if self.with_accuracy:
            data["accuracy"] = {
                f.name: {"model": f.accuracy.model, "circuit": f.accuracy.circuit}
                for f in flows
                if f.accuracy is not None
            }
        data["energy"] = {f.name: f.energy.to_dict() for f in flows if f.energy is not None}
        data["rmse_ratio_ann_over_pnn"] = self.ratio
        data["wall_time_s"] = self.wall_time_s
        data["config"] = self.config.to_dict()
        data["bias_dac"] = self.bias_dac.to_dict() if self.bias_dac is not None else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Report:
        """The report of a ``report.json`` (as :meth:`to_dict` writes it)."""
        search = data["scale_search"]
        accuracy = data.get("accuracy", {})
        energy = data.get("energy", {})  # reports before the energy meters have none
        flows = []
        for name, scales in data["scales"].items():
            layers = data["rmse_layers_ns"].get(name)
            flows.append(FlowResult(
                name=name, params=NeuronParams(**data["models"][name]),
                scales=(scales["a_pos"], scales["a_neg"]) if "a_pos" in scales else (scales["a"], scales["a"]),
                two_dimensional="a_pos" in scales, rmse_ns=data["rmse_ns"][name],
                failed=tuple(FailedSample(**s) for s in data["failed"][name]),
                max_abs_diff_ns=data["max_abs_diff_ns"][name], rmse_fired_ns=data["rmse_fired_ns"].get(name),
                n_output_spikes=data["n_output_spikes"].get(name),
                rmse_layers_ns=tuple(layers) if layers is not None else None,
                accuracy=Accuracy(**accuracy[name]) if name in accuracy else None,
                search_history=tuple(SearchEvaluation.from_dict(e) for e in search["history"].get(name, [])),
                energy=FlowEnergy.from_dict(energy[name]) if name in energy else None,
            ))  # fmt: skip
        summary = CharacterizationSummary(**{f.name: data[f.name] for f in fields(CharacterizationSummary)})
        return cls(
            characterization=summary, flows=tuple(flows), n_samples=data["n_samples"],
            n_calibration=data["n_calibration"],
            search=ScaleSearchOptions(
                fine=search["fine"], newton_steps=search["newton_steps"], probe=search["probe"],
                max_evaluations=search.get("max_evaluations"),  # reports before the cap had none
            ),
            search_start=search["start"], config=_config_from_dict(data["config"]), wall_time_s=data["wall_time_s"],
            with_accuracy="accuracy" in data, extra={k: v for k, v in data.items() if k not in _REPORT_KEYS},
            bias_dac=BiasDAC.from_dict(data["bias_dac"]) if data.get("bias_dac") else None,
        )  # fmt: skip
