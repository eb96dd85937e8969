"""Model against SPICE: ANN-to-IMC and PNN-to-IMC mapping of trained 5-5-5 networks (paper Fig. 7).

CIRCUIT.md, "Model ↔ circuit flow", steps 4-6. For each flow (:mod:`.flows`): map the weights to
gate biases, search the current scale on calibration samples (:mod:`.scale_search`; ANN-to-IMC:
``(a+, a-)``; PNN-to-IMC: one global ``a``), simulate the held-out test samples at the chosen scale
and report the RMSE (ns) of the output-layer spike times, model against SPICE (:class:`Report`,
``report.json``; the figures of :mod:`.plots`).

Spike times: both sides are normalised to the layer's firing window; a circuit neuron that does
not fire in its window counts as ``t = 1`` (the model clips its times to ``[0, 1]`` the same way).
All output neurons enter the RMSE (5 per sample, 3 of which are the Iris classes).
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import write_json
from ..outdir import check_output_folder
from ..params import NeuronParams
from .characterization import Characterization
from .config import CircuitConfig
from .dac import BiasDAC
from .energy import FEMTO, EnergyConstants, estimate_energy, measure_energy_constants
from .flows import ANN_TO_IMC, PNN_TO_IMC, Flow, build_flows, train_iris_models
from .model import clip_times, model_membrane_traces, model_spike_times
from .netlist import NETLIST_REVISION
from .plots import WaveformPanel, plot_energy_split, plot_histogram, plot_waveforms
from .progress import SimulationProgress
from .report import Accuracy, CharacterizationSummary, EnergySummary, FailedSample, FlowEnergy, FlowResult, Report
from .run_folder import load_or_characterize, prepare_run_folder
from .runner import SampleResult, check_workers, load_waveforms, run_samples
from .scale_search import Point, ScaleSearchOptions, SearchEvaluation, search_scale
from .spice import SpiceSimulationError, check_timeout

#: The energy model's SPICE constants of a comparison folder (:func:`load_or_measure_energy_constants`).
ENERGY_CONSTANTS_FILE = "energy_constants.json"


def output_differences(results: Sequence[SampleResult], model_output: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """SPICE minus model output-layer spike times (normalised) ``[n_ok, N_out]``, and the failed indices."""
    diffs, failed = [], []
    for k, result in enumerate(results):
        if not result.ok:
            failed.append(k)
            continue
        circuit = clip_times(np.asarray(result.spike_times[-1], dtype=float))
        diffs.append(circuit - clip_times(model_output[k]))
    n_out = model_output.shape[1]
    return (np.array(diffs) if diffs else np.zeros((0, n_out))), failed


def rmse_ns(differences: np.ndarray, config: CircuitConfig) -> float:
    """Root-mean-square of normalised time differences, in ns."""
    if differences.size == 0:
        return math.inf
    return float(np.sqrt(np.mean(differences**2)) * config.t_circ * 1e9)


@dataclass(frozen=True)
class SimulationSetup:
    """Where and how a comparison simulates: its folder, circuit, characterisation and process pool."""

    out: Path
    config: CircuitConfig
    characterization: Characterization
    workers: int | None
    timeout_s: float
    log: Callable[[str], None]
    progress: SimulationProgress | None = None
    _energy_constants: dict[str, EnergyConstants | None] = field(default_factory=dict)

    def energy_constants(self) -> EnergyConstants | None:
        """The energy model's SPICE constants (:func:`load_or_measure_energy_constants`), measured on first use:
        only once a flow's test samples have recorded energies, so a comparison that fails before measures none."""
        if "constants" not in self._energy_constants:
            self._energy_constants["constants"] = load_or_measure_energy_constants(
                self.out, self.config, self.characterization, self.timeout_s, self.log
            )
        return self._energy_constants["constants"]

    @property
    def waveform_dir(self) -> Path:
        return self.out / "waveforms"

    def scales(
        self, flow: Flow, calibration_times: np.ndarray, search: ScaleSearchOptions, start: float
    ) -> tuple[Point, tuple[SearchEvaluation, ...]]:
        """The flow's current scales (fixed, or searched on the calibration samples) and the search history."""
        if flow.name in search.fixed_scales:
            return search.fixed_scales[flow.name], ()
        self.log(f"{flow.name}: searching the current scale on {len(calibration_times)} calibration samples")
        return search_scale(
            flow, calibration_times, self.characterization, self.config, self.out, start=start,
            workers=self.workers, timeout_s=self.timeout_s, options=search, progress=self.progress, log=self.log,
        )  # fmt: skip

    def test(self, flow: Flow, scales: Point, test_times: np.ndarray) -> tuple[list[str], list[SampleResult]]:
        """The test samples simulated at ``scales`` (waveforms saved): their job keys and results."""
        jobs = flow.jobs(scales, test_times, self.characterization, self.config, f"{flow.name}_test")
        results = run_samples(
            jobs, self.config, results_path=self.out / f"test_{flow.name}.jsonl", workers=self.workers,
            timeout_s=self.timeout_s, waveform_dir=self.waveform_dir, keep_waveforms=False, progress=self.progress,
            require_energy=True, log=self.log,
        )  # fmt: skip
        return [job.key for job in jobs], [results[job.key] for job in jobs]


@dataclass(frozen=True)
class _FlowOutcome:
    """One flow's result and what the figures need of it."""

    result: FlowResult
    differences_ns: np.ndarray  # [n_ok, N_out], SPICE - model
    worst: WaveformPanel | None  # the sample with the largest RMSE, when its waveforms are saved


def _layer_rmse(
    results: Sequence[SampleResult], model_layers: Sequence[np.ndarray], config: CircuitConfig
) -> list[float]:
    """The spike-time RMSE (ns) of every layer."""
    per_layer = []
    for layer, model_times in enumerate(model_layers):
        truncated = [SampleResult(r.key, r.ok, r.spike_times[: layer + 1]) for r in results]
        per_layer.append(rmse_ns(output_differences(truncated, model_times)[0], config))
    return per_layer


def _accuracy(
    results: Sequence[SampleResult], model_output: np.ndarray, ok: list[int], labels: np.ndarray, n_classes: int
) -> Accuracy:
    """Classification accuracy of model and circuit over the samples ``ok``: the earliest of the first
    ``n_classes`` output spikes wins."""
    circuit = np.array([clip_times(np.asarray(results[k].spike_times[-1], dtype=float)) for k in ok])
    model = clip_times(model_output[ok])
    return Accuracy(
        model=float(np.mean(np.argmin(model[:, :n_classes], 1) == labels[ok])),
        circuit=float(np.mean(np.argmin(circuit[:, :n_classes], 1) == labels[ok])),
    )


def _mean_layers(breakdowns: Sequence[Sequence[Mapping[str, float]]]) -> tuple[dict[str, float], ...]:
    """Per layer, the mean (fJ) of each entry over the samples; ``breakdowns[k][layer][name]`` in J."""
    return tuple(
        {name: float(np.mean([sample[layer][name] for sample in breakdowns])) / FEMTO for name in first}
        for layer, first in enumerate(breakdowns[0])
    )


def flow_energy(
    flow: Flow,
    scales: Point,
    results: Sequence[SampleResult],
    test_times: np.ndarray,
    config: CircuitConfig,
    constants: Callable[[], EnergyConstants | None],
) -> FlowEnergy | None:
    """The flow's energy per inference over the test samples whose simulation recorded one: SPICE's mean split
    and the model's estimate (:func:`~.energy.estimate_energy`, the flow's own model at its scales) on the same
    samples, with the SPICE constants ``constants()`` gives (when it gives None, SPICE's alone); None when no
    sample has a SPICE energy."""
    measured = [k for k, result in enumerate(results) if result.ok and result.energy is not None]
    if not measured:
        return None
    spice = [results[k].energy for k in measured]
    spice_totals = np.array([e.total for e in spice])
    model, errors = None, ()
    energy_constants = constants()
    if energy_constants is not None:
        estimate = estimate_energy(flow.weights, test_times[measured], flow.params, config, energy_constants, scales)
        model = EnergySummary(
            layers=_mean_layers([estimate.sample(row).parts for row in range(len(measured))]),
            synaptic_events=float(np.mean(estimate.synaptic_events.sum(axis=1))),
        )
        errors = tuple(float(x) for x in (estimate.total - spice_totals) / spice_totals)
    drivers = {
        group: float(np.mean([sum(layer[group] for layer in e.driver_charge) for e in spice])) * config.vdd / FEMTO
        for group in ("control", "input")
    }
    return FlowEnergy(
        n_samples=len(measured),
        spice=EnergySummary(
            layers=_mean_layers([e.parts for e in spice]),
            synaptic_events=float(np.mean([e.n_synaptic_events for e in spice])),
            sources=_mean_layers([e.sources for e in spice]),
        ),
        model=model,
        total_rel_errors=errors,
        cmos_driver_fj=drivers,
    )


def load_or_measure_energy_constants(
    out: Path, config: CircuitConfig, characterization: Characterization, timeout_s: float, log: Callable[[str], None]
) -> EnergyConstants | None:
    """The energy model's SPICE constants of ``out/energy_constants.json`` when it was measured for this netlist
    revision, config and characterisation; else measured (:func:`~.energy.measure_energy_constants`, a few
    transients) and written there. None, with a log line, for a characterisation without ``c_eff_f``."""
    path = out / ENERGY_CONSTANTS_FILE
    stamp = {
        "netlist_revision": NETLIST_REVISION, "config": json.loads(json.dumps(config.to_dict())),
        "characterization": characterization.digest(),
    }  # fmt: skip
    if path.is_file():
        try:
            data = json.loads(path.read_text())
            if data.get("stamp") == stamp:
                return EnergyConstants.from_dict(data["constants"])
        except (ValueError, KeyError, TypeError, AttributeError):
            pass  # unreadable or of another circuit: measured again below
    if not (math.isfinite(characterization.c_eff_f) and characterization.c_eff_f > 0):
        log("energy: the characterisation has no c_eff_f; the model's energy estimate is left out")
        return None
    log("energy: measuring the model's SPICE constants (the sensing inverter's DC sweeps and a few transients)")
    work = out / "energy_constants_work"
    try:
        constants = measure_energy_constants(config, characterization, work, timeout_s=timeout_s, log=log)
    except (SpiceSimulationError, RuntimeError, ValueError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        log(f"energy: the model's constants could not be measured ({first}); only SPICE's energy is reported")
        return None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_json(path, {"stamp": stamp, "constants": constants.to_dict()}, indent=1)
    return constants


def compare_flow(
    flow: Flow,
    simulation: SimulationSetup,
    *,
    calibration_times: np.ndarray,
    test_times: np.ndarray,
    search: ScaleSearchOptions,
    start: float,
    test_labels: np.ndarray | None = None,
    n_classes: int = 3,
) -> _FlowOutcome:
    """One flow of :func:`compare`: its scales, the test simulations and their statistics."""
    config, log = simulation.config, simulation.log
    scales, history = simulation.scales(flow, calibration_times, search, start)
    log(f"{flow.name}: simulating {len(test_times)} test samples at a+={scales[0]:.2f}, a-={scales[1]:.2f}")
    keys, results = simulation.test(flow, scales, test_times)
    model_layers = model_spike_times(flow.weights, test_times, flow.params)
    model_output = model_layers[-1]
    diffs, failed = output_differences(results, model_output)
    ok = [k for k in range(len(results)) if k not in failed]
    differences_ns = diffs * config.t_circ * 1e9
    result = FlowResult(
        name=flow.name, params=flow.params, scales=scales, two_dimensional=flow.two_dimensional,
        rmse_ns=rmse_ns(diffs, config),
        failed=tuple(FailedSample(k, results[k].cause, results[k].message) for k in failed),
        max_abs_diff_ns=float(np.abs(differences_ns).max()) if diffs.size else None, search_history=history,
        energy=flow_energy(flow, scales, results, test_times, config, simulation.energy_constants),
    )  # fmt: skip
    worst = None
    if ok:
        # diagnostics: the output neurons that fire in their window (in SPICE or in the model), every layer
        circuit_out = diffs + clip_times(model_output[ok])
        fired = (circuit_out < 1.0) | (clip_times(model_output[ok]) < 1.0)
        result = dataclasses.replace(
            result, n_output_spikes=int((circuit_out < 1.0).sum()), rmse_fired_ns=rmse_ns(diffs[fired], config),
            rmse_layers_ns=tuple(_layer_rmse(results, model_layers, config)),
            accuracy=_accuracy(results, model_output, ok, test_labels, n_classes) if test_labels is not None else None,
        )  # fmt: skip
        per_sample = np.sqrt(np.mean(diffs**2, axis=1))
        row = int(np.argmax(per_sample))
        sample = ok[row]
        spice = load_waveforms(simulation.waveform_dir, keys[sample], digest=results[sample].digest, log=log)
        if spice is not None:
            model = model_membrane_traces(flow.weights, test_times[sample], flow.params, config, spice["time"])
            worst = WaveformPanel(
                spice, model, f"{flow.name.replace('_', '-').upper()} sample {sample}",
                rmse_ns=float(per_sample[row] * config.t_circ * 1e9),
            )  # fmt: skip
    log(
        f"{flow.name}: RMSE {result.rmse_ns:.2f} ns over {len(ok)} samples"
        + (f", {len(failed)} failed" if failed else "")
    )
    return _FlowOutcome(result, differences_ns, worst)


def _input_times(name: str, times: np.ndarray, config: CircuitConfig) -> np.ndarray:
    try:
        times = np.atleast_2d(np.asarray(times, dtype=float))
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of numbers [N >= 1, {config.layer_sizes[0]}]") from None
    if times.ndim != 2 or times.shape[1] != config.layer_sizes[0] or times.shape[0] == 0:
        raise ValueError(f"{name} must be [N >= 1, {config.layer_sizes[0]}]; got {times.shape}")
    if np.isnan(times).any() or (times < 0).any():
        raise ValueError(f"{name} must be normalised spike times >= 0 (+inf: no spike), without NaN")
    return times


def _simulation_bound(flows: Sequence[Flow], search: ScaleSearchOptions, n_calibration: int, n_test: int) -> int:
    """The most simulations a comparison may start: the test samples of every flow and each searched flow's
    capped search (an uncapped search counts nothing here; its simulations add to the plan as they come)."""
    bounds = [search.evaluation_bound(f.two_dimensional) for f in flows if f.name not in search.fixed_scales]
    return len(flows) * n_test + sum(bound * n_calibration for bound in bounds if bound is not None)


def _simulation_plan(flows: Sequence[Flow], search: ScaleSearchOptions, n_calibration: int, n_test: int) -> str:
    """The most simulations a comparison runs, and what they are, as one line for the log."""
    searched = {f.name: search.evaluation_bound(f.two_dimensional) for f in flows if f.name not in search.fixed_scales}
    parts = [f"{n_test} test samples per flow"] + [
        f"{name}'s scale search: up to {bound} points x {n_calibration} calibration samples"
        if bound is not None
        else f"{name}'s scale search: uncapped, {n_calibration} calibration samples a point"
        for name, bound in searched.items()
    ]
    total = _simulation_bound(flows, search, n_calibration, n_test)
    capped = all(bound is not None for bound in searched.values())
    return f"{'at most' if capped else 'at least'} {total} simulations: " + "; ".join(parts)


def _all_failed_error(result: FlowResult, n_samples: int, report: Path) -> RuntimeError:
    """The error of a flow none of whose test samples could be simulated."""
    causes: dict[str, int] = {}
    for failure in result.failed:
        causes[failure.cause] = causes.get(failure.cause, 0) + 1
    summary = ", ".join(f"{cause} x{count}" for cause, count in causes.items())
    first = result.failed[0].message if result.failed else ""
    return RuntimeError(
        f"{result.name}: all {n_samples} test simulations failed ({summary}); the first:\n{first}\n"
        f"{report} records every failure. Fix the cause and rerun with the same folder: crashed runs and "
        "unreadable output are simulated again, timeouts under a longer --timeout"
    )


def compare(
    out_dir: Path | str,
    *,
    ann_weights: Sequence[Any],
    pnn_weights: Sequence[Any],
    calibration_times: np.ndarray,
    test_times: np.ndarray,
    characterization: Characterization | None = None,
    config: CircuitConfig | None = None,
    ann_params: NeuronParams | None = None,
    search: ScaleSearchOptions | None = None,
    fixed_scales: Mapping[str, Point] | None = None,
    workers: int | None = None,
    timeout_s: float = 300.0,
    test_labels: np.ndarray | None = None,
    n_classes: int = 3,
    extra: Mapping[str, Any] | None = None,
    progress: bool | SimulationProgress = False,
    dac: BiasDAC | None = None,
    log: Callable[[str], None] = print,
) -> Report:
    """Run both flows and write ``out_dir/report.json``, ``spike_time_histogram.png`` and
    ``worst_sample_waveforms.png``; returns the :class:`Report`.

    ``ann_weights``/``pnn_weights``: per layer ``[N_out, N_in]`` (arrays or tensors) trained with
    ``|E±| = 100`` (or ``ann_params``) and with the characterised ``E±, β_dis``.
    ``calibration_times`` ``[n_cal, N_in]`` and ``test_times`` ``[N, N_in]``: normalised input spike
    times (``+inf``: none). Without ``characterization``, ``out_dir/characterization.json`` is used or
    made. ``search``: the scale-search options (:class:`ScaleSearchOptions`); ``fixed_scales``
    (``{"pnn_to_imc": (a, a)}``) adds to its fixed scales. With ``test_labels`` the report also gives
    the classification accuracy of model and circuit (the first ``n_classes`` outputs, the earliest
    spike wins). ``extra`` is merged into the report (e.g. the training runs' accuracies).
    ``progress=True`` shows a bar (or, without a terminal, log lines) over the simulations with an ETA
    (:class:`~imcpnn.circuit.progress.SimulationProgress`; pass one to share it across calls).
    ``dac``: both flows' gate biases on a bias DAC's levels (:mod:`imcpnn.circuit.dac`); the model
    side stays the trained network, so the RMSE includes what the DAC costs.
    """
    started = time.perf_counter()
    check_output_folder(out_dir, "out_dir")
    timeout_s = check_timeout(timeout_s, "timeout_s")
    check_workers(workers)
    config = config or CircuitConfig()
    calibration_times = _input_times("calibration_times", calibration_times, config)
    test_times = _input_times("test_times", test_times, config)
    search = search or ScaleSearchOptions()
    if fixed_scales:
        search = dataclasses.replace(search, fixed_scales={**search.fixed_scales, **fixed_scales})
    if test_labels is not None:
        test_labels = np.asarray(test_labels).reshape(-1)[: test_times.shape[0]]
        if test_labels.shape[0] != test_times.shape[0]:
            raise ValueError(f"test_labels has {test_labels.shape[0]} entries for {test_times.shape[0]} test samples")
    out = prepare_run_folder(out_dir, config, log)
    if characterization is None:
        characterization = load_or_characterize(out, config, log=log)
    c_eff = characterization.c_eff_f
    start = c_eff / config.c_m if math.isfinite(c_eff) else 1.0
    flows = build_flows(ann_weights, pnn_weights, characterization, ann_params, dac)
    tracker = SimulationProgress(log) if progress is True else (progress or None)
    if tracker is not None:  # every simulation the run may start, planned before the first: the ETA covers it all
        tracker.plan(_simulation_bound(flows, search, len(calibration_times), len(test_times)))
        log(_simulation_plan(flows, search, len(calibration_times), len(test_times)))
    simulation = SimulationSetup(out, config, characterization, workers, timeout_s, log, tracker)
    try:
        outcomes = [
            compare_flow(
                flow,
                simulation,
                calibration_times=calibration_times,
                test_times=test_times,
                search=search,
                start=start,
                test_labels=test_labels,
                n_classes=n_classes,
            )
            for flow in flows
        ]
    finally:
        if tracker is not None and progress is True:
            tracker.close()
    if tracker is not None:
        log(tracker.status())
    report = Report(
        characterization=CharacterizationSummary.of(characterization),
        flows=tuple(outcome.result for outcome in outcomes), n_samples=int(test_times.shape[0]),
        n_calibration=int(calibration_times.shape[0]), search=search, search_start=start, config=config,
        with_accuracy=test_labels is not None, extra=dict(extra or {}), bias_dac=dac,
        wall_time_s=round(time.perf_counter() - started, 1),
    )  # fmt: skip
    write_json(out / "report.json", report.to_dict(), indent=1, default=float)
    plot_histogram(
        {o.result.name: o.differences_ns for o in outcomes}, report.rmse_ns, out / "spike_time_histogram.png"
    )
    energies = {o.result.name: o.result.energy for o in outcomes if o.result.energy is not None}
    if energies:
        plot_energy_split(energies, out / "energy_split.png")
    worst = {o.result.name: o.worst for o in outcomes if o.worst is not None}
    if worst:
        plot_waveforms(worst, config, out / "worst_sample_waveforms.png")
    for outcome in outcomes:
        if len(outcome.result.failed) == report.n_samples:
            raise _all_failed_error(outcome.result, report.n_samples, out / "report.json")
    return report


@dataclass(frozen=True)
class QuickResult:
    """What :func:`quick_compare` returns: both flows' output spike-time RMSE (ns), their ratio
    (ANN-to-IMC over PNN-to-IMC; None when the PNN-to-IMC RMSE is 0), the chosen ``(a+, a-)`` per flow,
    the test samples simulated, the wall time (s, training included) and the ``report.json`` path."""

    ann_to_imc: float
    pnn_to_imc: float
    ratio: float | None
    scales: dict[str, Point]
    n_samples: int
    wall_time_s: float
    report: Path


#: The quick comparison's scale search: at most two Gauss-Newton steps, no 1 % grid descent.
QUICK_SEARCH = ScaleSearchOptions(fine=False, newton_steps=2)


def quick_compare(
    out_dir: Path | str,
    samples: int = 3,
    *,
    calibration: int = 2,
    workers: int | None = None,
    seed: int = 0,
    progress: bool = False,
    log: Callable[[str], None] = print,
) -> QuickResult:
    """A short ANN-to-IMC against PNN-to-IMC comparison (the demo's).

    The full flow of :func:`compare` on ``samples`` test samples, with ``calibration`` calibration
    samples and the scale search cut to at most two Gauss-Newton steps (:data:`QUICK_SEARCH`): about
    30 simulations, 1-2 minutes on 2 cores, plus the two trainings (10-60 s each) on the first call.
    Expect noisier figures than the 50-sample comparison. Everything is cached in ``out_dir``
    (characterisation, both trained networks, every simulation), so a second call only re-reads
    results. ``progress``: a bar (or log lines) over the simulations with an ETA. Raises
    :class:`~imcpnn.circuit.spice.SpiceToolMissingError` (with the fix) without ngspice or sky130.
    ``imcpnn circuit compare --quick`` is the same flow on the command line.
    """
    from .spice import check_tools

    for name, value in (("samples", samples), ("calibration", calibration)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1; got {value!r}")
    check_workers(workers)
    check_output_folder(out_dir, "out_dir")
    check_tools()
    started = time.perf_counter()
    config = CircuitConfig()
    out = prepare_run_folder(out_dir, config, log)
    characterization = load_or_characterize(out, config, log=log)
    models = train_iris_models(
        out, characterization.e_rev_pos, characterization.e_rev_neg, characterization.beta_dis, seed=seed,
        n_calibration=calibration, log=log,
    )  # fmt: skip
    report = compare(
        out, ann_weights=models.ann_weights, pnn_weights=models.pnn_weights,
        calibration_times=models.calibration_times, test_times=models.test_times[:samples],
        characterization=characterization, config=config, workers=workers, search=QUICK_SEARCH,
        test_labels=models.test_labels, progress=progress, log=log,
    )  # fmt: skip
    return QuickResult(
        ann_to_imc=report.flow(ANN_TO_IMC).rmse_ns, pnn_to_imc=report.flow(PNN_TO_IMC).rmse_ns, ratio=report.ratio,
        scales={flow.name: flow.scales for flow in report.flows}, n_samples=report.n_samples,
        wall_time_s=round(time.perf_counter() - started, 1), report=out / "report.json",
    )  # fmt: skip
