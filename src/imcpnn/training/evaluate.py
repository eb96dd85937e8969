"""Re-evaluation of trained networks under other hardware settings; the top-down baselines.

The top-down flow (spec ``MODEL.md`` section 6): train an ideal model (``|E±| = 100``), map it to
the target ``E±`` unchanged ("ANN"), or with positive and negative weights scaled by ``(a+, a-)``
chosen by grid search ("scaled ANN").
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from ..data import DataSplits, load_dataset
from ..layers import SpikingNetwork
from .config import TrainConfig
from .trainer import evaluate_accuracy, load_trained_model, resolve_device

DEFAULT_SCALES = tuple(round(0.1 * k, 1) for k in range(1, 31))  # 0.1 .. 3.0, step 0.1


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


def evaluate_checkpoint(
    checkpoint: str | Path,
    *,
    e_rev_pos: float | None = None,
    e_rev_neg: float | None = None,
    eval_steps: int | None = None,
    spike_noise: float | None = None,
    do_scale_search: bool = False,
    scales: Sequence[float] = DEFAULT_SCALES,
    full_grid: bool = False,
    device: str = "cpu",
    data_dir: str | None = None,
    seed: int | None = None,
) -> dict[str, Any]:
    """Accuracy of a checkpoint with optionally other ``E±``, DSTD steps or spike noise.

    With ``do_scale_search`` the ``(a+, a-)`` grid is searched on the validation split (the training
    split when there is none) and the test accuracy is reported at the best scales.
    """
    torch_device = resolve_device(device)
    model, config = load_trained_model(checkpoint, device)
    changes: dict[str, Any] = {}
    if e_rev_pos is not None:
        changes["e_rev_pos"] = e_rev_pos
        changes["e_rev_neg"] = e_rev_neg if e_rev_neg is not None else -e_rev_pos
    elif e_rev_neg is not None:
        changes["e_rev_neg"] = e_rev_neg
    if eval_steps is not None:
        changes["eval_steps"] = eval_steps
    if spike_noise is not None:
        changes["spike_noise"] = spike_noise
    neuron = model.set_config(**changes) if changes else model.config
    seed = config.seed if seed is None else seed
    splits = load_dataset(
        config.dataset, data_dir or config.data_dir, seed=config.seed, val_fraction=config.val_fraction
    )
    result: dict[str, Any] = {
        "checkpoint": str(checkpoint),
        "trained_with": {"e_rev_pos": config.e_rev_pos, "e_rev_neg": config.e_rev_neg or -float(config.e_rev_pos)},
        "evaluated_with": {
            "e_rev_pos": neuron.e_rev_pos,
            "e_rev_neg": neuron.e_rev_neg,
            "eval_steps": neuron.eval_steps or neuron.steps,
            "spike_noise": neuron.spike_noise,
        },
    }
    result["test_accuracy"] = evaluate_accuracy(model, splits.test, splits, torch_device, seed)
    if do_scale_search:
        search_set = splits.val if len(splits.val) else splits.train
        (a_pos, a_neg), grid = scale_search(
            model, search_set, splits, torch_device, scales, seed, coarse_to_fine=not full_grid
        )
        with scaled_weights(model, a_pos, a_neg):
            result["scaled_test_accuracy"] = evaluate_accuracy(model, splits.test, splits, torch_device, seed)
        result["scales"] = {"a_pos": a_pos, "a_neg": a_neg, "searched_on": "val" if len(splits.val) else "train"}
        result["scale_grid"] = [{"a_pos": a, "a_neg": b, "accuracy": acc} for (a, b), acc in sorted(grid.items())]
    return result


def config_of(checkpoint: str | Path) -> TrainConfig:
    """The training config stored in a checkpoint."""
    from .checkpoint import load_checkpoint

    return TrainConfig(**load_checkpoint(checkpoint)["config"])


__all__ = ["DEFAULT_SCALES", "config_of", "evaluate_checkpoint", "scale_search", "scaled_weights"]
