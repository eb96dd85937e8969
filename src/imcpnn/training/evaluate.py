"""Re-evaluation of trained networks under other hardware settings; the top-down baselines.

The top-down flow (spec ``MODEL.md`` section 6): train an ideal model (``|E±| = 100``), map it to
the target ``E±`` unchanged ("ANN"), or with positive and negative weights scaled by ``(a+, a-)``
chosen by grid search ("scaled ANN").

Like the paper, an accuracy is by default measured with the spike-time noise the network was trained
with (σ 0.01) and the DSTD solver at the run's evaluation steps; :func:`evaluate_checkpoint` takes
``spike_noise=0`` (noise-free) and ``solver="exact"`` (the event-driven solution, no DSTD grid), and
every result says which settings it was measured with (:func:`evaluation_settings`,
:func:`describe_evaluation`).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .. import validation as check
from ..data import DataSplits, load_dataset
from ..layers import NeuronConfig, SpikingNetwork
from ..params import NeuronParams
from .trainer import evaluate_accuracy, load_trained_model, resolve_device

DEFAULT_SCALES = tuple(round(0.1 * k, 1) for k in range(1, 31))  # 0.1 .. 3.0, step 0.1


def evaluation_settings(neuron: NeuronConfig) -> dict[str, Any]:
    """What an accuracy in evaluation mode is measured with: ``solver``, ``eval_steps`` (the DSTD grid;
    ``None`` for the exact solver, which has none) and ``spike_noise`` (σ)."""
    exact = neuron.solver == "exact"
    return {
        "solver": neuron.solver,
        "eval_steps": None if exact else neuron.steps_for(training=False),
        "spike_noise": neuron.spike_noise,
    }


def describe_evaluation(settings: dict[str, Any]) -> str:
    """``DSTD M 30, spike noise σ 0.01`` or ``exact solver, spike noise σ 0``, from a mapping with the keys
    of :func:`evaluation_settings` (``metrics.json["evaluated_with"]``, ``imcpnn eval --json``)."""
    solver = settings.get("solver", "dstd")
    method = "exact solver" if solver == "exact" else f"DSTD M {settings.get('eval_steps')}"
    return f"{method}, spike noise σ {float(settings.get('spike_noise', 0.0)):g}"


@contextlib.contextmanager
def scaled_weights(model: SpikingNetwork, scale_pos: float, scale_neg: float) -> Iterator[None]:
    """Temporarily multiply positive weights by ``scale_pos`` and negative ones by ``scale_neg``."""
    saved = [layer.weight.detach().clone() for layer in model.spiking_layers()]
    try:
        with torch.no_grad():
            for layer in model.spiking_layers():
                w = layer.weight
                w.copy_(torch.where(w >= 0, w * scale_pos, w * scale_neg))
        yield
    finally:
        with torch.no_grad():
            for layer, weight in zip(model.spiking_layers(), saved, strict=True):
                layer.weight.copy_(weight)


def scale_search(
    model: SpikingNetwork,
    dataset: torch.utils.data.Dataset,
    splits: DataSplits,
    device: torch.device,
    scales: Sequence[float] = DEFAULT_SCALES,
    seed: int = 0,
    coarse_to_fine: bool = True,
) -> tuple[tuple[float, float], dict[tuple[float, float], float]]:
    """Grid search of ``(a+, a-)`` over ``scales`` (step 0.1) for the best accuracy on ``dataset``.

    ``coarse_to_fine``: every 5th grid value first, then the full-resolution grid within ±4 steps of
    the best coarse point (about 120 evaluations instead of 900 for the default grid); otherwise
    the whole grid. Returns the best ``(a+, a-)`` (ties: the one closest to ``(1, 1)``) and every
    evaluated point.
    """
    scales = sorted(scales)
    evaluated: dict[tuple[float, float], float] = {}

    def evaluate(points: list[tuple[float, float]]) -> None:
        for a_pos, a_neg in points:
            if (a_pos, a_neg) not in evaluated:
                with scaled_weights(model, a_pos, a_neg):
                    evaluated[(a_pos, a_neg)] = evaluate_accuracy(model, dataset, splits, device, seed)

    def best() -> tuple[float, float]:
        return max(evaluated, key=lambda p: (evaluated[p], -abs(p[0] - 1) - abs(p[1] - 1)))

    if coarse_to_fine and len(scales) > 10:
        coarse = scales[2::5]
        evaluate([(a, b) for a in coarse for b in coarse])
        a_best, b_best = best()
        i, j = scales.index(a_best), scales.index(b_best)
        near_a, near_b = scales[max(i - 4, 0) : i + 5], scales[max(j - 4, 0) : j + 5]
        evaluate([(a, b) for a in near_a for b in near_b])
    else:
        evaluate([(a, b) for a in scales for b in scales])
    return best(), evaluated


@dataclass(frozen=True)
class ScaledResult:
    """The scaled ANN: the best ``(a+, a-)``, where it was searched, its test accuracy, every point tried."""

    a_pos: float
    a_neg: float
    searched_on: str
    test_accuracy: float
    grid: tuple[tuple[float, float, float], ...]  # (a+, a-, accuracy on the search split)


@dataclass(frozen=True)
class EvalResult:
    """What :func:`evaluate_checkpoint` measured; :meth:`to_dict` is the ``imcpnn eval --json`` file."""

    checkpoint: str
    trained_with: NeuronParams
    evaluated_with: NeuronConfig
    test_accuracy: float
    scaled: ScaledResult | None = None

    def to_dict(self, with_grid: bool = True) -> dict[str, Any]:
        evaluated = self.evaluated_with
        result: dict[str, Any] = {
            "checkpoint": self.checkpoint,
            "trained_with": {"e_rev_pos": self.trained_with.e_rev_pos, "e_rev_neg": self.trained_with.e_rev_neg},
            "evaluated_with": {
                "e_rev_pos": evaluated.params.e_rev_pos,
                "e_rev_neg": evaluated.params.e_rev_neg,
                **evaluation_settings(evaluated),
            },
            "test_accuracy": self.test_accuracy,
        }
        if self.scaled is not None:
            scaled = self.scaled
            result["scaled_test_accuracy"] = scaled.test_accuracy
            result["scales"] = {"a_pos": scaled.a_pos, "a_neg": scaled.a_neg, "searched_on": scaled.searched_on}
            if with_grid:
                result["scale_grid"] = [{"a_pos": a, "a_neg": b, "accuracy": acc} for a, b, acc in scaled.grid]
        return result


def evaluate_checkpoint(
    checkpoint: str | Path,
    *,
    e_rev_pos: float | None = None,
    e_rev_neg: float | None = None,
    eval_steps: int | None = None,
    spike_noise: float | None = None,
    solver: str | None = None,
    do_scale_search: bool = False,
    scales: Sequence[float] = DEFAULT_SCALES,
    full_grid: bool = False,
    device: str = "cpu",
    data_dir: str | None = None,
    seed: int | None = None,
) -> EvalResult:
    """Accuracy of a checkpoint with optionally other ``E±`` (``e_rev_neg=None``: ``-e_rev_pos``), DSTD
    steps, spike noise or solver.

    ``None`` keeps the run's own setting: its evaluation steps, the spike noise σ it was trained with
    (as the paper evaluates; ``spike_noise=0`` is noise-free) and its solver (``"dstd"``, or
    ``"exact"``: the event-driven solution, far slower, and with no DSTD grid, so ``eval_steps`` is
    refused with it). With ``do_scale_search`` the ``(a+, a-)`` grid is searched on the validation
    split (the training split when there is none) and the test accuracy is reported at the best
    scales. The result's :attr:`EvalResult.evaluated_with` holds every setting used.
    """
    if solver is not None and solver not in check.METHODS:
        raise ValueError(f"solver must be one of {', '.join(check.METHODS)}; got {solver!r}")
    if spike_noise is not None:
        check.check_nonnegative("spike_noise", spike_noise, "σ of the spike-time noise; 0 for none")
    if eval_steps is not None:
        check.check_steps(eval_steps)
    torch_device = resolve_device(device)
    model, config = load_trained_model(checkpoint, device)
    if eval_steps is not None and (solver or model.config.solver) == "exact":
        raise ValueError(
            f"eval_steps={eval_steps} sets the DSTD grid, but the evaluation uses the exact solver, which has "
            "none: leave out --eval-steps, or evaluate with --solver dstd"
        )
    neuron = model.config
    params = neuron.params
    if e_rev_pos is not None:
        params = params.with_reversal(e_rev_pos, e_rev_neg)
    elif e_rev_neg is not None:
        params = dataclasses.replace(params, e_rev_neg=e_rev_neg)
    changes: dict[str, Any] = {"params": params}
    if eval_steps is not None:
        changes["eval_steps"] = eval_steps
    if spike_noise is not None:
        changes["spike_noise"] = spike_noise
    if solver is not None:
        changes["solver"] = solver
    neuron = model.set_config(**changes)
    seed = config.seed if seed is None else seed
    data = config.data
    splits = load_dataset(data.dataset, data_dir or data.data_dir, seed=config.seed, val_fraction=data.val_fraction)
    test_accuracy = evaluate_accuracy(model, splits.test, splits, torch_device, seed)
    scaled = None
    if do_scale_search:
        search_set = splits.val if len(splits.val) else splits.train
        (a_pos, a_neg), grid = scale_search(
            model, search_set, splits, torch_device, scales, seed, coarse_to_fine=not full_grid
        )
        with scaled_weights(model, a_pos, a_neg):
            scaled_accuracy = evaluate_accuracy(model, splits.test, splits, torch_device, seed)
        scaled = ScaledResult(
            a_pos, a_neg, "val" if len(splits.val) else "train", scaled_accuracy,
            tuple((a, b, acc) for (a, b), acc in sorted(grid.items())),
        )  # fmt: skip
    return EvalResult(str(checkpoint), config.neuron.params, neuron, test_accuracy, scaled)


__all__ = [
    "DEFAULT_SCALES",
    "EvalResult",
    "ScaledResult",
    "describe_evaluation",
    "evaluate_checkpoint",
    "evaluation_settings",
    "scale_search",
    "scaled_weights",
]
