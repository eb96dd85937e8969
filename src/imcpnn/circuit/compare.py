"""Model against SPICE: ANN-to-IMC and PNN-to-IMC mapping of trained 5-5-5 networks (paper Fig. 7).

For each flow: map the weights to gate biases, search the current scale on calibration samples
(ANN-to-IMC: ``(a+, a-)``; PNN-to-IMC: one global ``a``), simulate the held-out test samples at
the chosen scale and report the RMSE (ns) of the output-layer spike times, model against SPICE.

Scale search (coarse-to-fine, instead of the paper's exhaustive 1 % grid, to save simulations):
it starts at ``a = C_eff / C_m`` (the measured effective membrane capacitance over the mapping's
140 fF: the parasitic correction the scale is meant to absorb). Coarse: Gauss-Newton steps on
the output spike-time residuals, the Jacobian from 2 % finite-difference probes per scale axis,
moves capped at 15 % and rounded to the 1 % grid, while they improve the RMSE (at most 4). Fine:
descent on the 1 % grid (axis neighbours, then diagonal ones in 2-D) until no neighbour improves,
so the result is a local optimum of the 1 % grid. About 5-7 evaluations in 1-D and 15-20 in 2-D, each
simulating the calibration samples in parallel; every evaluation is cached by scale in
``calibration_<flow>.jsonl``, so a rerun resumes.

Spike times: both sides are normalised to the layer's firing window; a circuit neuron that does
not fire in its window counts as ``t = 1`` (the model clips its times to ``[0, 1]`` the same way).
All output neurons enter the RMSE (5 per sample, 3 of which are the Iris classes).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import save_figure, write_json
from .characterize import Characterization, characterize
from .config import CircuitConfig
from .mapping import as_numpy, weights_to_biases
from .model import NeuronModel, model_membrane_traces, model_spike_times
from .netlist import NETLIST_REVISION
from .runner import SampleJob, SampleResult, run_samples

PROBE_STEP = 0.02  # finite-difference step of the Gauss-Newton scale search
MAX_NEWTON_STEP = 0.15  # largest Gauss-Newton move of a scale per iteration
MIN_SCALE, MAX_SCALE = 0.2, 3.0


@dataclass(frozen=True)
class Flow:
    """One mapping flow: its trained weights, the model that predicts it, and its scale dimension."""

    name: str
    weights: tuple[np.ndarray, ...]
    model: NeuronModel
    two_dimensional: bool


@dataclass(frozen=True)
class IrisModels:
    """What :func:`train_iris_models` returns: both trained weight sets and the encoded samples.

    ``*_weights``: one ``[N_out, N_in]`` array or tensor per layer (5-5-5: two ``[5, 5]``).
    ``*_times``: normalised input spike times ``[N, 5]`` (4 features ``t = x`` and the bias spike
    at 0); ``calibration_times`` come from the training split, ``test_times`` from the test split.
    """

    ann_weights: Sequence[Any]
    pnn_weights: Sequence[Any]
    calibration_times: np.ndarray
    test_times: np.ndarray
    test_labels: np.ndarray | None = None
    test_accuracy: dict[str, float] | None = None  # the trainer's test accuracy of each network


#: The ideal ("ANN") model of the top-down flow: ``|E±| = 100`` and the ideal discharger ramp.
ANN_E_REV = 100.0


def _model_folder_name(
    prefix: str, e_rev_pos: float, e_rev_neg: float, beta_dis: float, seed: int, epochs: int | None
) -> str:
    """A cache folder name that changes with the neuron parameters (a new characterisation retrains)."""
    suffix = "" if epochs is None else f"_ep{epochs}"
    return f"{prefix}_E+{e_rev_pos:.4f}_E{e_rev_neg:.4f}_b{beta_dis:.4f}_seed{seed}{suffix}"


def _train_cached(
    folder: Path, e_rev_pos: float, e_rev_neg: float, beta_dis: float, seed: int, epochs: int | None,
    log: Callable[[str], None],
) -> Path:
    """Train the Iris 5-5-5 preset into ``folder`` unless a finished run is there; returns ``best.pt``.

    A finished run has ``metrics.json``; an interrupted one (``last.pt`` only) is resumed.
    """
    from imcpnn.training.config import TrainConfig
    from imcpnn.training.trainer import train

    checkpoint = folder / "best.pt"
    if checkpoint.is_file() and (folder / "metrics.json").is_file():
        return checkpoint
    config = TrainConfig(dataset="iris", model="rcspike", e_rev_pos=e_rev_pos, e_rev_neg=e_rev_neg,
                         beta_dis=beta_dis, seed=seed, epochs=epochs, out=str(folder))
    log(f"training the Iris 5-5-5 RC-Spike network (E+ = {e_rev_pos:.4g}, E- = {e_rev_neg:.4g}, "
        f"beta_dis = {beta_dis:.4g}, seed {seed}) into {folder}")
    started = time.perf_counter()
    metrics = train(config, resume=True, progress=False, log=lambda _line: None)
    log(f"  trained in {time.perf_counter() - started:.0f} s: test accuracy {metrics['test_accuracy']:.3f}, "
        f"train accuracy {metrics['train_accuracy']:.3f}")
    return checkpoint


def _load_iris_network(
    checkpoint: Path,
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """Weights ``[N_out, N_in]`` per layer, encoded train inputs and labels, encoded test inputs and
    labels, and the trainer's test accuracy.

    The splits and the encoding are the trainer's own (:func:`imcpnn.training.trainer.load_data` and
    ``encode`` with the checkpoint's config: same seed, same min-max scaling, bias spike last).
    """
    import torch

    from imcpnn.training.trainer import encode, load_data, load_trained_model

    network, train_config = load_trained_model(checkpoint)
    splits = load_data(train_config, network)
    weights = [layer.weight.detach().cpu().numpy().astype(np.float64) for layer in network.spiking_layers()]
    train_x, train_y = splits.train[:]
    test_x, test_y = splits.test[:]
    with torch.no_grad():
        train_times = encode(splits, network, train_x).double().cpu().numpy()
        test_times = encode(splits, network, test_x).double().cpu().numpy()
    labels = test_y.cpu().numpy()
    metrics_path = checkpoint.parent / "metrics.json"
    accuracy = math.nan
    if metrics_path.is_file():
        accuracy = json.loads(metrics_path.read_text()).get("test_accuracy", math.nan)
    return weights, train_times, train_y.cpu().numpy(), test_times, labels, float(accuracy)


def balanced_order(labels: np.ndarray) -> np.ndarray:
    """Indices of ``labels`` taken class by class in turn (each class in its original order), so that
    any prefix is as balanced over the classes as it can be: the calibration subset."""
    labels = np.asarray(labels)
    per_class = [list(np.flatnonzero(labels == c)) for c in np.unique(labels)]
    order: list[int] = []
    while any(per_class):
        for members in per_class:
            if members:
                order.append(int(members.pop(0)))
    return np.array(order, dtype=int)


def train_iris_models(
    out_dir: Path | str,
    e_rev_pos: float,
    e_rev_neg: float,
    beta_dis: float,
    *,
    seed: int = 0,
    n_calibration: int = 10,
    epochs: int | None = None,
    log: Callable[[str], None] = print,
) -> IrisModels:
    """Train the 5-5-5 RC-Spike network on Iris twice and return both weight sets and the samples.

    - ANN (for ANN-to-IMC): ``E± = ±100``, ``β_dis = 0`` (the ideal top-down model);
    - PNN (for PNN-to-IMC): the characterised ``e_rev_pos``, ``e_rev_neg`` and ``beta_dis``.

    Both use the trainer's Iris preset (:data:`imcpnn.training.config.DATASET_PRESETS`: 100 train / 50
    test, features min-max scaled to [0, 1], ``t = x``, bias spike at 0, 3 of 5 outputs are the classes).
    The runs are cached in ``out_dir/models/<flow>_<parameters>``: a rerun loads them, an interrupted
    training resumes. ``calibration_times`` are ``n_calibration`` samples of the (shuffled) training
    split, balanced over the classes (:func:`balanced_order`); ``test_times`` the test split, in order.
    ``epochs`` overrides the preset's 300 (for tests).
    """
    if n_calibration < 1:
        raise ValueError(f"n_calibration must be >= 1; got {n_calibration}")
    models_dir = Path(out_dir) / "models"
    ann_folder = models_dir / _model_folder_name("ann", ANN_E_REV, -ANN_E_REV, 0.0, seed, epochs)
    pnn_folder = models_dir / _model_folder_name("pnn", e_rev_pos, e_rev_neg, beta_dis, seed, epochs)
    ann_ckpt = _train_cached(ann_folder, ANN_E_REV, -ANN_E_REV, 0.0, seed, epochs, log)
    pnn_ckpt = _train_cached(pnn_folder, e_rev_pos, e_rev_neg, beta_dis, seed, epochs, log)
    ann_weights, ann_train, train_labels, ann_test, labels, ann_acc = _load_iris_network(ann_ckpt)
    pnn_weights, pnn_train, _, pnn_test, pnn_labels, pnn_acc = _load_iris_network(pnn_ckpt)
    if not (np.array_equal(ann_train, pnn_train) and np.array_equal(ann_test, pnn_test)
            and np.array_equal(labels, pnn_labels)):
        raise RuntimeError("the ANN and PNN runs saw different Iris splits; train both with the same seed")
    if n_calibration > len(ann_train):
        raise ValueError(f"n_calibration={n_calibration} exceeds the {len(ann_train)} training samples")
    return IrisModels(
        ann_weights=ann_weights, pnn_weights=pnn_weights,
        calibration_times=ann_train[balanced_order(train_labels)[:n_calibration]], test_times=ann_test,
        test_labels=labels, test_accuracy={"ann": ann_acc, "pnn": pnn_acc},
    )


#: The stamp of the circuit a comparison folder was simulated with (:func:`prepare_run_folder`).
RUN_STAMP = "circuit.json"
#: What a comparison writes and reuses in its folder besides the trained models (which are keyed by
#: their neuron parameters and do not depend on the circuit).
_CIRCUIT_OUTPUTS = ("characterization.json", "iv_curves.png", "report.json", "spike_time_histogram.png",
                    "worst_sample_waveforms.png", "waveforms")


def circuit_stamp(config: CircuitConfig) -> dict[str, Any]:
    """What the simulations of a folder depend on: the netlist generator's revision and the config."""
    return json.loads(json.dumps({"netlist_revision": NETLIST_REVISION, "config": config.to_dict()}))


def prepare_run_folder(out_dir: Path | str, config: CircuitConfig, log: Callable[[str], None] = print) -> Path:
    """Make ``out_dir`` ready for a comparison of the circuit ``config``; returns it.

    A folder's simulations (``*.jsonl``), characterisation and report are reused by a rerun. When
    they were made with another circuit (another config or netlist revision, per ``circuit.json``;
    a folder without that stamp counts as another circuit once it holds simulations), they are
    moved, never deleted, to a new ``out_dir/superseded_<time>/`` and the comparison starts afresh. A
    characterisation whose recorded config differs from ``config`` is moved the same way.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stamp = circuit_stamp(config)
    stamp_path = out / RUN_STAMP
    old_stamp = json.loads(stamp_path.read_text()) if stamp_path.is_file() else None
    simulations = sorted(out.glob("*.jsonl"))
    stale: list[Path] = []
    if old_stamp != stamp and (old_stamp is not None or simulations):
        stale = simulations + [out / name for name in _CIRCUIT_OUTPUTS if (out / name).exists()]
    char_path = out / "characterization.json"
    if char_path.is_file() and char_path not in stale:
        recorded = json.loads(char_path.read_text()).get("config")
        if recorded != stamp["config"]:
            stale.append(char_path)
    if stale:
        name = f"superseded_{time.strftime('%Y%m%d-%H%M%S')}"
        folder, k = out / name, 1
        while folder.exists():
            folder, k = out / f"{name}_{k}", k + 1
        folder.mkdir()
        for path in stale:
            path.rename(folder / path.name)
        log(f"{out} held results of another circuit (config or netlist revision); moved "
            f"{', '.join(p.name for p in stale)} to {folder} and starting afresh")
    write_json(stamp_path, stamp, indent=1)
    return out


def load_or_characterize(
    out_dir: Path | str, config: CircuitConfig, path: Path | str | None = None, log: Callable[[str], None] = print,
) -> Characterization:
    """The characterisation at ``path`` (default ``out_dir/characterization.json``); when that file is
    absent, the devices are characterised into ``out_dir``."""
    path = Path(path) if path is not None else Path(out_dir) / "characterization.json"
    if path.exists():
        return Characterization.load(path)
    log("characterising the sky130 devices ...")
    return Characterization.from_dict(characterize(out_dir, config))


def _clip_times(times: np.ndarray) -> np.ndarray:
    """Spike times clipped to ``[0, 1]`` (no spike, ``+inf``, counts as 1)."""
    return np.clip(np.where(np.isfinite(times), times, 1.0), 0.0, 1.0)


def _scale_key(scales: tuple[float, float]) -> str:
    return f"p{scales[0]:.2f}_n{scales[1]:.2f}"


def _jobs(
    flow: Flow, scales: tuple[float, float], input_times: np.ndarray, characterization: Characterization,
    config: CircuitConfig, prefix: str,
) -> list[SampleJob]:
    biases = tuple(weights_to_biases(flow.weights, characterization, config, scales[0], scales[1]))
    return [SampleJob(f"{prefix}{k:03d}", tuple(row), biases) for k, row in enumerate(input_times)]


def output_differences(
    results: Sequence[SampleResult], model_output: np.ndarray
) -> tuple[np.ndarray, list[int]]:
    """SPICE minus model output-layer spike times (normalised) ``[n_ok, N_out]``, and the failed indices."""
    diffs, failed = [], []
    for k, result in enumerate(results):
        if not result.ok:
            failed.append(k)
            continue
        circuit = _clip_times(np.asarray(result.spike_times[-1], dtype=float))
        diffs.append(circuit - _clip_times(model_output[k]))
    n_out = model_output.shape[1]
    return (np.array(diffs) if diffs else np.zeros((0, n_out))), failed


def rmse_ns(differences: np.ndarray, config: CircuitConfig) -> float:
    """Root-mean-square of normalised time differences, in ns."""
    if differences.size == 0:
        return math.inf
    return float(np.sqrt(np.mean(differences**2)) * config.t_circ * 1e9)


Point = tuple[float, float]


def coarse_to_fine_search(
    residual_fn: Callable[[list[Point]], dict[Point, np.ndarray | None]],
    *,
    start: float,
    two_dimensional: bool,
    probe: float = PROBE_STEP,
    max_newton_steps: int = 4,
    fine: bool = True,
) -> tuple[Point, dict[Point, float]]:
    """The scale search of the module doc, on any residual function.

    ``residual_fn(points)`` returns, per ``(a+, a-)`` point, the residual vector (circuit minus
    model spike times; NaN where a sample failed) or None where the point is infeasible. Returns
    the best point on the 1 % grid and the RMSE (in residual units) of every point evaluated.
    ``fine=False`` stops after the Gauss-Newton phase (the quick comparison of the demo): the best
    point evaluated, on the 1 % grid but not necessarily a local optimum of it.
    """
    residuals: dict[Point, np.ndarray] = {}
    rmse: dict[Point, float] = {}

    def snap(point: tuple[float, float]) -> Point:
        a_pos = round(min(MAX_SCALE, max(MIN_SCALE, float(point[0]))), 2)
        a_neg = round(min(MAX_SCALE, max(MIN_SCALE, float(point[1]))), 2) if two_dimensional else a_pos
        return (a_pos, a_neg)

    def evaluate(points: list[Point]) -> None:
        todo = [p for p in dict.fromkeys(points) if p not in rmse]
        if not todo:
            return
        for point, residual in residual_fn(todo).items():
            finite = None if residual is None else np.asarray(residual, dtype=float)
            if finite is None or not np.isfinite(finite).any():
                rmse[point] = math.inf
                continue
            residuals[point] = finite
            rmse[point] = float(np.sqrt(np.nanmean(finite**2)))

    axes = [(1.0, 0.0), (0.0, 1.0)] if two_dimensional else [(1.0, 1.0)]
    center = snap((start, start))
    evaluate([center])
    for _ in range(max_newton_steps):
        probes = [snap((center[0] + probe * dx, center[1] + probe * dy)) for dx, dy in axes]
        evaluate(probes)
        if center not in residuals or any(p not in residuals or p == center for p in probes):
            break
        base = residuals[center].ravel()
        jacobian = np.stack([(residuals[p].ravel() - base) / probe for p in probes], axis=1)
        rows = np.isfinite(jacobian).all(axis=1) & np.isfinite(base)
        if rows.sum() < len(axes):
            break
        step, *_ = np.linalg.lstsq(jacobian[rows], -base[rows], rcond=None)
        step = np.clip(step, -MAX_NEWTON_STEP, MAX_NEWTON_STEP)
        move = sum((value * np.array(axis) for axis, value in zip(axes, step, strict=True)), np.zeros(2))
        candidate = snap((center[0] + move[0], center[1] + move[1]))
        evaluate([candidate])
        best = min([center, candidate, *probes], key=lambda p: rmse[p])
        if best == center:
            break
        center = best
    # 1 % grid descent: the axis neighbours, then (2-D) the diagonal ones, until none improves
    if not fine:
        return min(rmse, key=lambda p: rmse[p]), rmse
    groups = [[(-1, 0), (1, 0), (0, -1), (0, 1)], [(-1, -1), (-1, 1), (1, -1), (1, 1)]]
    if not two_dimensional:
        groups = [[(-1, 0), (1, 0)]]
    improved = True
    while improved:
        improved = False
        for group in groups:
            neighbours = [p for p in dict.fromkeys(snap((center[0] + 0.01 * dx, center[1] + 0.01 * dy))
                                                   for dx, dy in group) if p != center]
            if not neighbours:
                continue
            evaluate(neighbours)
            best = min(neighbours, key=lambda p: rmse[p])
            if rmse[best] < rmse[center]:
                center, improved = best, True
                break
    return center, rmse


def search_scale(
    flow: Flow,
    calibration_times: np.ndarray,
    characterization: Characterization,
    config: CircuitConfig,
    run_dir: Path,
    *,
    start: float = 1.0,
    workers: int | None = None,
    timeout_s: float = 300.0,
    fine: bool = True,
    newton_steps: int = 4,
    log: Callable[[str], None] = print,
) -> tuple[Point, list[dict[str, Any]]]:
    """Search the current scale(s) of ``flow`` on the calibration samples (module doc).

    Returns the best ``(a+, a-)`` (equal for a 1-D flow) and the evaluation history (RMSE in ns).
    ``fine=False``: the Gauss-Newton phase only, of at most ``newton_steps`` steps
    (:func:`coarse_to_fine_search`).
    """
    model_output = _clip_times(model_spike_times(flow.weights, calibration_times, flow.model)[-1])
    history: list[dict[str, Any]] = []
    results_path = run_dir / f"calibration_{flow.name}.jsonl"
    ns = config.t_circ * 1e9

    def residual_fn(points: list[Point]) -> dict[Point, np.ndarray | None]:
        out: dict[Point, np.ndarray | None] = {}
        jobs: list[SampleJob] = []
        for point in points:
            try:
                jobs += _jobs(flow, point, calibration_times, characterization, config,
                              f"{flow.name}_{_scale_key(point)}_cal")
            except ValueError as error:  # a current outside the characterised table
                out[point] = None
                history.append({"a_pos": point[0], "a_neg": point[1], "rmse_ns": None, "error": str(error)})
        results = run_samples(jobs, config, results_path=results_path, workers=workers, timeout_s=timeout_s,
                              keep_waveforms=False) if jobs else {}
        for point in points:
            if point in out:
                continue
            prefix = f"{flow.name}_{_scale_key(point)}_cal"
            rows = []
            for k in range(len(calibration_times)):
                result = results[f"{prefix}{k:03d}"]
                circuit = (_clip_times(np.asarray(result.spike_times[-1], dtype=float)) if result.ok
                           else np.full(model_output.shape[1], np.nan))
                rows.append((circuit - model_output[k]) * ns)
            residual = np.array(rows)
            out[point] = residual
            failed = int(np.isnan(residual[:, 0]).sum())
            finite = residual[np.isfinite(residual)]
            value = float(np.sqrt(np.mean(finite**2))) if finite.size else None
            history.append({"a_pos": point[0], "a_neg": point[1], "rmse_ns": value, "failed": failed})
            log(f"  {flow.name}: a+={point[0]:.2f} a-={point[1]:.2f} -> RMSE "
                + (f"{value:.2f} ns" if value is not None else "n/a") + (f" ({failed} failed)" if failed else ""))
        return out

    best, _ = coarse_to_fine_search(residual_fn, start=start, two_dimensional=flow.two_dimensional, fine=fine,
                                    max_newton_steps=newton_steps)
    return best, history


def plot_histogram(differences_ns: dict[str, np.ndarray], rmse: dict[str, float], path: Path) -> None:
    """Histogram of SPICE - model output spike-time differences (ns) for both flows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    values = np.concatenate([d.ravel() for d in differences_ns.values()]) if differences_ns else np.zeros(1)
    limit = max(5.0, float(np.percentile(np.abs(values), 99.5)) * 1.1 if values.size else 5.0)
    bins = np.linspace(-limit, limit, 61)
    for name, diffs in differences_ns.items():
        ax.hist(np.clip(diffs.ravel(), -limit, limit), bins=bins, alpha=0.55,
                label=f"{name.replace('_', '-').upper()}: RMSE {rmse[name]:.2f} ns")
    ax.set_xlabel("spike time, SPICE - model [ns]")
    ax.set_ylabel("output spikes [count]")
    ax.set_title("Output-layer spike-time differences")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


def plot_waveforms(
    panels: dict[str, tuple[dict[str, np.ndarray], dict[str, np.ndarray], str]],
    config: CircuitConfig,
    path: Path,
) -> None:
    """Membrane voltages, SPICE (solid) against model (dashed), per flow (rows) and layer (columns).

    ``panels[flow] = (spice_waveforms, model_traces, title)``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_layers = config.n_weight_layers
    fig, axes = plt.subplots(len(panels), n_layers, figsize=(6 * n_layers, 3.6 * len(panels)), squeeze=False)
    period_us = config.t_circ * 1e6
    for row, (_, (spice, model, title)) in enumerate(panels.items()):
        t_us = spice["time"] * 1e6
        for layer in range(1, n_layers + 1):
            ax = axes[row, layer - 1]
            for start, color in ((layer - 1, "tab:green"), (layer, "tab:blue"), (layer + 1, "gold")):
                ax.axvspan(start * period_us, (start + 1) * period_us, color=color, alpha=0.08)
            for i in range(config.layer_sizes[layer]):
                node = f"mem_{layer}_{i}"
                (line,) = ax.plot(t_us, spice[node], lw=1.2)
                ax.plot(t_us, model[node], "--", color=line.get_color(), lw=1.0)
            ax.axhline(config.v_switch, color="k", lw=0.6, ls=":")
            ax.set_xlim((layer - 1) * period_us, (layer + 2) * period_us)
            ax.set_xlabel("time [µs]")
            ax.set_ylabel("membrane voltage [V]")
            ax.set_title(f"{title}: layer {layer} (solid SPICE, dashed model)", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


def compare(
    out_dir: Path | str,
    *,
    ann_weights: Sequence[Any],
    pnn_weights: Sequence[Any],
    calibration_times: np.ndarray,
    test_times: np.ndarray,
    characterization: Characterization | None = None,
    config: CircuitConfig | None = None,
    ann_model: NeuronModel | None = None,
    workers: int | None = None,
    timeout_s: float = 300.0,
    fixed_scales: dict[str, tuple[float, float]] | None = None,
    fine_search: bool = True,
    newton_steps: int = 4,
    test_labels: np.ndarray | None = None,
    n_classes: int = 3,
    extra: dict[str, Any] | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run both flows and write ``out_dir/report.json``, ``spike_time_histogram.png`` and
    ``worst_sample_waveforms.png``; returns the report.

    ``ann_weights``/``pnn_weights``: per layer ``[N_out, N_in]`` (arrays or tensors) trained with
    ``|E±| = 100`` and with the characterised ``E±, β_dis``. ``calibration_times`` ``[n_cal, N_in]``
    and ``test_times`` ``[N, N_in]``: normalised input spike times (``+inf``: none). Without
    ``characterization``, ``out_dir/characterization.json`` is used or made. ``fixed_scales`` skips
    the search for the flows it names (``{"pnn_to_imc": (a, a)}``); ``fine_search=False`` stops the
    search after its Gauss-Newton phase of at most ``newton_steps`` steps (the demo's quick
    comparison). With ``test_labels`` the report also gives the classification accuracy of model and
    circuit (the first ``n_classes`` outputs, the earliest spike wins). ``extra`` is merged into the
    report (e.g. the training runs' accuracies).
    """
    started = time.perf_counter()
    config = config or CircuitConfig()
    out = prepare_run_folder(out_dir, config, log)
    if characterization is None:
        characterization = load_or_characterize(out, config, log=log)
    calibration_times = np.atleast_2d(np.asarray(calibration_times, dtype=float))
    test_times = np.atleast_2d(np.asarray(test_times, dtype=float))
    for name, times in (("calibration_times", calibration_times), ("test_times", test_times)):
        if times.shape[1] != config.layer_sizes[0] or times.shape[0] == 0:
            raise ValueError(f"{name} must be [N >= 1, {config.layer_sizes[0]}]; got {times.shape}")
    pnn_model = NeuronModel("pnn", characterization.e_rev_pos, characterization.e_rev_neg, characterization.beta_dis)
    flows = [
        Flow("ann_to_imc", tuple(as_numpy(w) for w in ann_weights), ann_model or NeuronModel.ideal(), True),
        Flow("pnn_to_imc", tuple(as_numpy(w) for w in pnn_weights), pnn_model, False),
    ]
    start_scale = characterization.c_eff_f / config.c_m if math.isfinite(characterization.c_eff_f) else 1.0
    fixed_scales = fixed_scales or {}
    report: dict[str, Any] = {
        "lambda_n": characterization.lambda_n, "lambda_p": characterization.lambda_p,
        "lambda_dis": characterization.lambda_dis, "e_rev_pos": characterization.e_rev_pos,
        "e_rev_neg": characterization.e_rev_neg, "beta_dis": characterization.beta_dis,
        "rmse_ns": {}, "scales": {}, "n_samples": int(test_times.shape[0]),
        "n_calibration": int(calibration_times.shape[0]), "failed": {}, "max_abs_diff_ns": {},
        "rmse_fired_ns": {}, "n_output_spikes": {}, "rmse_layers_ns": {},
        "models": {f.name: {"e_rev_pos": f.model.e_rev_pos, "e_rev_neg": f.model.e_rev_neg,
                            "beta_dis": f.model.beta_dis} for f in flows},
        "scale_search": {"start": round(start_scale, 2), "probe": PROBE_STEP, "fine": fine_search,
                         "newton_steps": newton_steps, "history": {}},
        **(extra or {}),
    }
    if test_labels is not None:
        test_labels = np.asarray(test_labels).reshape(-1)[: test_times.shape[0]]
        if test_labels.shape[0] != test_times.shape[0]:
            raise ValueError(f"test_labels has {test_labels.shape[0]} entries for {test_times.shape[0]} test samples")
        report["accuracy"] = {}
    differences: dict[str, np.ndarray] = {}
    worst: dict[str, tuple[dict[str, np.ndarray], dict[str, np.ndarray], str]] = {}
    for flow in flows:
        if flow.name in fixed_scales:
            scales = tuple(float(s) for s in fixed_scales[flow.name])
            history: list[dict[str, Any]] = []
        else:
            log(f"{flow.name}: searching the current scale on {len(calibration_times)} calibration samples")
            scales, history = search_scale(flow, calibration_times, characterization, config, out,
                                           start=start_scale, workers=workers, timeout_s=timeout_s,
                                           fine=fine_search, newton_steps=newton_steps, log=log)
        report["scale_search"]["history"][flow.name] = history
        report["scales"][flow.name] = ({"a_pos": scales[0], "a_neg": scales[1]} if flow.two_dimensional
                                       else {"a": scales[0]})
        log(f"{flow.name}: simulating {len(test_times)} test samples at a+={scales[0]:.2f}, a-={scales[1]:.2f}")
        jobs = _jobs(flow, scales, test_times, characterization, config, f"{flow.name}_test")
        waveform_dir = out / "waveforms"
        results_map = run_samples(jobs, config, results_path=out / f"test_{flow.name}.jsonl", workers=workers,
                                  timeout_s=timeout_s, waveform_dir=waveform_dir, keep_waveforms=False)
        results = [results_map[job.key] for job in jobs]
        model_layers = model_spike_times(flow.weights, test_times, flow.model)
        model_output = model_layers[-1]
        diffs, failed = output_differences(results, model_output)
        ok_index = [k for k in range(len(results)) if k not in failed]
        differences[flow.name] = diffs * config.t_circ * 1e9
        report["rmse_ns"][flow.name] = rmse_ns(diffs, config)
        report["failed"][flow.name] = [{"sample": k, "cause": results[k].cause, "message": results[k].message}
                                       for k in failed]
        report["max_abs_diff_ns"][flow.name] = float(np.abs(differences[flow.name]).max()) if diffs.size else None
        # diagnostics: the output neurons that fire in their window (in SPICE or in the model), every layer
        if ok_index:
            circuit_out = diffs + _clip_times(model_output[ok_index])
            fired = (circuit_out < 1.0) | (_clip_times(model_output[ok_index]) < 1.0)
            report["n_output_spikes"][flow.name] = int((circuit_out < 1.0).sum())
            report["rmse_fired_ns"][flow.name] = rmse_ns(diffs[fired], config)
            per_layer = []
            for layer, model_times in enumerate(model_layers):
                layer_diffs, _ = output_differences(
                    [SampleResult(r.key, r.ok, r.spike_times[: layer + 1]) for r in results], model_times)
                per_layer.append(rmse_ns(layer_diffs, config))
            report["rmse_layers_ns"][flow.name] = per_layer
        log(f"{flow.name}: RMSE {report['rmse_ns'][flow.name]:.2f} ns over {len(ok_index)} samples"
            + (f", {len(failed)} failed" if failed else ""))
        if test_labels is not None and ok_index:
            circuit_times = np.array([_clip_times(np.asarray(results[k].spike_times[-1], dtype=float))
                                      for k in ok_index])
            labels = test_labels[ok_index]
            report["accuracy"][flow.name] = {
                "model": float(np.mean(np.argmin(_clip_times(model_output[ok_index])[:, :n_classes], 1) == labels)),
                "circuit": float(np.mean(np.argmin(circuit_times[:, :n_classes], 1) == labels)),
            }
        if ok_index:
            worst_row = int(np.argmax(np.sqrt(np.mean(diffs**2, axis=1))))
            sample = ok_index[worst_row]
            from .runner import load_waveforms

            spice = load_waveforms(waveform_dir, jobs[sample].key)
            if spice is not None:
                model = model_membrane_traces(flow.weights, test_times[sample], flow.model, config, spice["time"])
                title = f"{flow.name.replace('_', '-').upper()} sample {sample}"
                worst[flow.name] = (spice, model, title)
    rmse = report["rmse_ns"]
    ratio = rmse["ann_to_imc"] / rmse["pnn_to_imc"] if rmse.get("pnn_to_imc", 0) > 0 else None
    report["rmse_ratio_ann_over_pnn"] = ratio
    report["wall_time_s"] = round(time.perf_counter() - started, 1)
    report["config"] = config.to_dict()
    write_json(out / "report.json", report, indent=1, default=float)
    plot_histogram(differences, rmse, out / "spike_time_histogram.png")
    if worst:
        plot_waveforms(worst, config, out / "worst_sample_waveforms.png")
    return report


def quick_compare(
    out_dir: Path | str,
    samples: int = 3,
    *,
    calibration: int = 2,
    workers: int | None = None,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """A short ANN-to-IMC against PNN-to-IMC comparison (the demo's).

    The full flow of :func:`compare` on ``samples`` test samples, with ``calibration`` calibration
    samples and the scale search cut to at most two Gauss-Newton steps (``fine_search=False``,
    ``newton_steps=2``): about 30 simulations, 1-2 minutes on 2 cores, plus the two trainings (10-60 s
    each) on the first call. Expect noisier figures than the 50-sample comparison.
    Everything is cached in ``out_dir`` (characterisation, both trained networks, every simulation),
    so a second call only re-reads results. Returns ``{"ann_to_imc": ns, "pnn_to_imc": ns,
    "ratio": ..., "scales": ..., "n_samples": ..., "wall_time_s": ..., "report": path}``; raises
    :class:`~imcpnn.circuit.spice.SpiceToolMissingError` (with the fix) without ngspice or sky130.
    """
    from .spice import check_tools

    if samples < 1 or calibration < 1:
        raise ValueError(f"samples and calibration must be >= 1; got {samples}, {calibration}")
    check_tools()
    started = time.perf_counter()
    config = CircuitConfig()
    out = prepare_run_folder(out_dir, config, log)
    characterization = load_or_characterize(out, config, log=log)
    models = train_iris_models(out, characterization.e_rev_pos, characterization.e_rev_neg,
                               characterization.beta_dis, seed=seed, n_calibration=calibration, log=log)
    report = compare(out, ann_weights=models.ann_weights, pnn_weights=models.pnn_weights,
                     calibration_times=models.calibration_times, test_times=models.test_times[:samples],
                     characterization=characterization, config=config, workers=workers, fine_search=False,
                     newton_steps=2, test_labels=models.test_labels, log=log)
    rmse = report["rmse_ns"]
    return {
        "ann_to_imc": rmse["ann_to_imc"],
        "pnn_to_imc": rmse["pnn_to_imc"],
        "ratio": report["rmse_ratio_ann_over_pnn"],
        "scales": report["scales"],
        "n_samples": report["n_samples"],
        "wall_time_s": round(time.perf_counter() - started, 1),
        "report": str(out / "report.json"),
    }
