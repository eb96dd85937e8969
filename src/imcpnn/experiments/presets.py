"""Experiment presets: which networks, data sets, grids, seeds and epochs each experiment uses.

A preset is a tuple of :class:`Workload` objects (one network on one data set each). Every
experiment runs on the workloads of the preset that take part in it (``Workload.experiments``).
``quick`` runs on 2 CPU cores in minutes (digits; Iris for the histograms and evaluation-M
sweep); the others reproduce the paper's settings and need the data set files and a GPU.

The grids of ``M`` and ``|E±|`` are this package's choice (the spec does not list the paper's
exact grid points): they span the ranges of the paper's Fig. 4e/f, 5c/d and 13.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ..families import get_family
from ..params import reversal_pair
from ..training import DEFAULT_SCALES
from ..training.config import setting_names

#: The experiments' names, in the order ``imcpnn experiment all`` runs them (the keys of
#: :data:`imcpnn.experiments.registry.EXPERIMENT_REGISTRY`, which checks that they agree).
EXPERIMENT_NAMES = ("steps", "erev", "histograms", "eval-steps")
#: The training settings a run sets itself (:func:`imcpnn.experiments.runs.train_config`), not ``Workload.train``.
SET_BY_RUN = ("dataset", "model", "arch", "e_rev", "steps", "offset", "seed", "epochs", "device", "data_dir", "out")

RCSPIKE_STEPS_GRID = (2, 3, 4, 6, 8, 10)
RCSPIKE_E_REV_GRID = (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 10.0, 100.0)
RCSPIKE_EVAL_STEPS_GRID = (1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50, 100)
TTFS_STEPS_GRID = (4, 8, 12, 16, 20, 30, 40)  # window 4: Δ = 4 / M
TTFS_E_REV_GRID = (1.5, 2.0, 3.0, 4.0, 6.0, 10.0, 31.6)  # TTFS neurons need E+ > 1 (the threshold)
TTFS_EVAL_STEPS_GRID = (4, 8, 12, 16, 20, 30, 40, 60, 100, 200)
# The shallow digits network tolerates the mapping down to |E±| = 1 (the mapped ANN keeps ~95 %), so the
# quick grid goes below 1 to show where the top-down flow breaks down (91 % at 0.5, 70-73 % at 0.2).
QUICK_E_REV_GRID = (0.25, 0.5, 1.0, 2.0, 4.0, 10.0, 100.0)
FMNIST_E_REV_GRID = (0.5, 1.0, 2.0, 4.0, 8.0, 100.0)  # issue 11: the paper's claim is about |E±| < 4


@dataclass(frozen=True)
class PaperPoint:
    """One figure the paper gives for a workload: test accuracy (in [0, 1]) at ``|E±|``, and where it is printed."""

    e_rev: float
    accuracy: float
    label: str


@dataclass(frozen=True)
class Workload:
    """One network on one data set, and the grids the experiments sweep for it.

    Attributes:
        name: short identifier, used for folder names and plot titles.
        dataset, model, arch: as in :class:`~imcpnn.training.TrainConfig` (``arch=None``: the data set preset).
        e_rev_pos, e_rev_neg: reference reversal potentials (normalised) of the steps, histogram and
            evaluation-M experiments; ``e_rev_neg=None`` means ``-e_rev_pos`` (:attr:`reference_e_rev`).
        steps: reference DSTD training steps ``M`` (histograms, evaluation-M sweep, |E±| sweep).
        steps_grid: training ``M`` of the steps experiment (Fig. 4e, 5c).
        e_rev_grid: symmetric ``|E±|`` of the reversal-potential experiment (Fig. 4f, 5d).
        ideal_e_rev: ``|E±|`` of the ideal network of the top-down flow (``None``: the family's
            :attr:`~imcpnn.families.NeuronFamily.ideal_e_rev`, 100 RC-Spike, 31.6 TTFS).
        eval_steps_grid: evaluation ``M`` of the evaluation-M experiment (Fig. 13).
        eval_exact: also evaluate with the exact (event-driven) solver as the reference.
        eval_offsets: training offsets (``"random"``, ``"fixed"``) of the models the evaluation-M sweep uses.
        scales: grid of ``a+`` and ``a-`` for the scaled ANN (step 0.1 by default).
        scale_search_samples: search ``(a+, a-)`` on the first this many samples of the validation
            split (``None``: all of it); the test accuracy is always on the whole test split.
        paper: the paper's own figures for this workload, drawn beside ours (:class:`PaperPoint`).
        histogram_bins: bins over the time window in the histogram experiment.
        seeds: number of seeds (seeds ``1 .. seeds``) per setting.
        epochs: training epochs (``None``: the data set preset's).
        train: further settings of :meth:`~imcpnn.training.TrainConfig.from_flags` (e.g. ``max_train_samples``,
            ``lr``, ``beta_dis``); not those a run sets itself (:data:`SET_BY_RUN`).
        experiments: the experiments this workload takes part in.
    """

    name: str
    dataset: str
    model: str = "rcspike"
    arch: str | None = None
    e_rev_pos: float = 2.0
    e_rev_neg: float | None = None
    steps: int = 4
    steps_grid: tuple[int, ...] = RCSPIKE_STEPS_GRID
    e_rev_grid: tuple[float, ...] = RCSPIKE_E_REV_GRID
    ideal_e_rev: float | None = None
    eval_steps_grid: tuple[int, ...] = RCSPIKE_EVAL_STEPS_GRID
    eval_exact: bool = False
    eval_offsets: tuple[str, ...] = ("random", "fixed")
    scales: tuple[float, ...] = DEFAULT_SCALES
    scale_search_samples: int | None = None
    paper: tuple[PaperPoint, ...] = ()
    histogram_bins: int = 50
    seeds: int = 3
    epochs: int | None = None
    train: dict[str, Any] = field(default_factory=dict)
    experiments: tuple[str, ...] = EXPERIMENT_NAMES

    def __post_init__(self) -> None:
        unknown = sorted(set(self.experiments) - set(EXPERIMENT_NAMES))
        if unknown:
            raise ValueError(f"workload {self.name!r}: unknown experiments {unknown}; known: {EXPERIMENT_NAMES}")
        bad_offsets = sorted(set(self.eval_offsets) - {"random", "fixed"})
        if bad_offsets:
            raise ValueError(f"workload {self.name!r}: offsets must be 'random' or 'fixed'; got {bad_offsets}")
        if self.seeds < 1:
            raise ValueError(f"workload {self.name!r}: seeds must be >= 1; got {self.seeds}")
        if self.scale_search_samples is not None and self.scale_search_samples < 1:
            raise ValueError(f"workload {self.name!r}: scale_search_samples must be >= 1 or None")
        get_family(self.model)
        unknown_settings = sorted(set(self.train) - set(setting_names()))
        if unknown_settings:
            raise ValueError(
                f"workload {self.name!r}: unknown training settings {unknown_settings} in train; "
                f"allowed: {sorted(set(setting_names()) - set(SET_BY_RUN))}"
            )
        own = sorted(set(self.train) & set(SET_BY_RUN))
        if own:
            raise ValueError(f"workload {self.name!r}: train must not set {own}: the workload and its runs set them")

    @property
    def ideal(self) -> float:
        """``|E±|`` of the top-down flow's ideal network: ``ideal_e_rev``, else the family's."""
        return self.ideal_e_rev if self.ideal_e_rev is not None else get_family(self.model).ideal_e_rev

    @property
    def reference_e_rev(self) -> tuple[float, float]:
        """The reference ``(E+, E-)`` (``E- = -E+`` when ``e_rev_neg`` is None)."""
        return reversal_pair(self.e_rev_pos, self.e_rev_neg)

    @property
    def seed_values(self) -> tuple[int, ...]:
        return tuple(range(1, self.seeds + 1))


@dataclass(frozen=True)
class ExperimentPreset:
    """A named set of workloads; ``needs`` says what a user must have to run it."""

    name: str
    description: str
    workloads: tuple[Workload, ...]
    needs: str = "nothing (bundled data, CPU)"

    def for_experiment(self, experiment: str) -> tuple[Workload, ...]:
        """The workloads that take part in ``experiment``."""
        if experiment not in EXPERIMENT_NAMES:
            raise ValueError(f"unknown experiment {experiment!r}; choose one of {', '.join(EXPERIMENT_NAMES)}")
        return tuple(w for w in self.workloads if experiment in w.experiments)

    def with_overrides(self, *, seeds: int | None = None, epochs: int | None = None) -> ExperimentPreset:
        """A copy with every workload's seed count and/or epochs replaced (``None`` keeps them)."""
        changes: dict[str, Any] = {}
        if seeds is not None:
            changes["seeds"] = seeds
        if epochs is not None:
            changes["epochs"] = epochs
        if not changes:
            return self
        workloads = tuple(dataclasses.replace(w, **changes) for w in self.workloads)
        return dataclasses.replace(self, workloads=workloads)


_PAPER_NEEDS = "the data set files (--data-dir) and a GPU (--device cuda)"
VGG7 = "C64-C64-P-C128-C128-P-C256-C256-P-512-10"
VGG7_DOUBLE = "C128-C128-P-C256-C256-P-C512-C512-P-1024-10"  # every hidden width doubled
TTFS_CNN = "C16-C16-P-C32-C32-P-128-10"
# Four convolutions at half the paper's TTFS CNN widths: the deep RC-Spike CNN one CPU core trains and
# evaluates in about an hour (C16-C16-P-C32-C32 took 0.54 s per batch of 32 and 137 ms per image at M 30).
CPU_CNN = "C8-C8-P-C16-C16-P-64-10"
# The CPU CNN's scale search: the whole 8 x 8 grid (64 evaluations) instead of the 0.1-step grid's
# coarse-to-fine ~117, as 200 validation images resolve accuracy to 0.5 % only (one CPU core: ~3 min per |E±|).
CPU_CNN_SCALES = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0)


FMNIST_MLP = Workload(
    name="fmnist-mlp", dataset="fashion-mnist", model="rcspike", arch="784-400-400-10",
    paper=(PaperPoint(30.7, 0.9040, "paper Table 3 (best |E±|, σ 0.01, 50 epochs, M 10)"),),
)  # fmt: skip


def _ttfs_workload(name: str, dataset: str, arch: str) -> Workload:
    return Workload(
        name=name, dataset=dataset, model="ttfs", arch=arch, e_rev_pos=2.0, steps=20, steps_grid=TTFS_STEPS_GRID,
        e_rev_grid=TTFS_E_REV_GRID, eval_steps_grid=TTFS_EVAL_STEPS_GRID,
    )  # fmt: skip


PRESETS: dict[str, ExperimentPreset] = {
    "quick": ExperimentPreset(
        name="quick",
        description="digits 64-100-10 RC-Spike (8 epochs, 3 seeds) for every experiment; the Iris 5-5-5 "
        "circuit network (E+ 2.8, E- -1.53, β_dis 0.155; 300 epochs) for the histograms and the evaluation-M sweep",
        workloads=(
            Workload(
                name="digits-rcspike",
                dataset="digits",
                model="rcspike",
                arch="64-100-10",
                e_rev_pos=2.0,
                steps=4,
                steps_grid=(1, 2, 4, 8),
                e_rev_grid=QUICK_E_REV_GRID,
                eval_steps_grid=(1, 2, 3, 4, 6, 8, 15, 30, 60, 100),
                eval_exact=True,
                seeds=3,
                epochs=8,
            ),
            Workload(
                name="iris-circuit",
                dataset="iris",
                model="rcspike",
                arch="5-5-5",
                e_rev_pos=2.8,
                e_rev_neg=-1.53,
                steps=4,
                eval_steps_grid=(1, 2, 3, 4, 6, 8, 15, 30, 60, 100),
                eval_exact=True,
                eval_offsets=("random",),
                seeds=3,
                train={"beta_dis": 1 / 6.44},
                experiments=("histograms", "eval-steps"),
            ),
        ),
    ),
    "fmnist-mlp": ExperimentPreset(
        name="fmnist-mlp",
        description="Fashion-MNIST RC-Spike MLP 784-400-400-10 (paper Fig. 4; Table 3: 90.46 %)",
        workloads=(FMNIST_MLP,),
        needs=_PAPER_NEEDS,
    ),
    "fmnist-mlp-cpu": ExperimentPreset(
        name="fmnist-mlp-cpu",
        description="Fashion-MNIST RC-Spike MLP 784-400-400-10 on the full data (54,000 / 6,000 / 10,000), "
        "|E±| 0.5-8 and 100, M 4 random offsets, evaluation M 30, 10 epochs, 1 seed (paper Fig. 4f; "
        "Table 3: 90.40 % at σ 0.01); about 90 min on 2 CPU cores",
        workloads=(
            dataclasses.replace(
                FMNIST_MLP,
                e_rev_grid=FMNIST_E_REV_GRID,
                seeds=1,
                epochs=10,
                scale_search_samples=1000,
                experiments=("erev",),
            ),
        ),
        needs="the Fashion-MNIST files (dataset-fashion-mnist, or --data-dir); CPU or GPU",
    ),
    "fmnist-cnn-cpu": ExperimentPreset(
        name="fmnist-cnn-cpu",
        description=f"Fashion-MNIST RC-Spike CNN {CPU_CNN} (four convolutions) on an 8,000-sample training "
        "subset (1,200 validation), |E±| 1, 2, 4, 100, M 4 random offsets, evaluation M 10, 3 epochs at lr 1e-3, "
        "1 seed, (a+, a-) on an 8 x 8 grid (the CPU-scale cut of paper Fig. 5d); about 90 min on one CPU core",
        workloads=(
            Workload(
                name="fmnist-cnn",
                dataset="fashion-mnist",
                model="rcspike",
                arch=f"1x28x28:{CPU_CNN}",
                e_rev_grid=(1.0, 2.0, 4.0, 100.0),
                seeds=1,
                epochs=3,
                scales=CPU_CNN_SCALES,
                scale_search_samples=200,
                train={"max_train_samples": 8000, "val_fraction": 0.02, "eval_steps": 10, "lr": 1e-3},
                experiments=("erev",),
            ),
        ),
        needs="the Fashion-MNIST files (dataset-fashion-mnist, or --data-dir); CPU or GPU",
    ),
    "fmnist-vgg7": ExperimentPreset(
        name="fmnist-vgg7",
        description="Fashion-MNIST RC-Spike VGG7 (Table 3: 94.11 %)",
        workloads=(Workload(name="fmnist-vgg7", dataset="fashion-mnist", model="rcspike", arch=f"1x28x28:{VGG7}"),),
        needs=_PAPER_NEEDS,
    ),
    "cifar10-vgg7": ExperimentPreset(
        name="cifar10-vgg7",
        description="CIFAR-10 RC-Spike VGG7 with augmentation (Table 3: 89.13 %)",
        workloads=(Workload(name="cifar10-vgg7", dataset="cifar10", model="rcspike", arch=f"3x32x32:{VGG7}"),),
        needs=_PAPER_NEEDS,
    ),
    "cifar10-vgg7x2": ExperimentPreset(
        name="cifar10-vgg7x2",
        description="CIFAR-10 RC-Spike double-width VGG7 with augmentation (Table 3: 90.27 %)",
        workloads=(Workload(name="cifar10-vgg7x2", dataset="cifar10", model="rcspike", arch=f"3x32x32:{VGG7_DOUBLE}"),),
        needs=_PAPER_NEEDS,
    ),
    "ttfs-cnn": ExperimentPreset(
        name="ttfs-cnn",
        description="Fashion-MNIST TTFS CNN C16-C16-P-C32-C32-P-FC128-FC10 (paper Fig. 5)",
        workloads=(_ttfs_workload("ttfs-cnn", "fashion-mnist", f"1x28x28:{TTFS_CNN}"),),
        needs=_PAPER_NEEDS,
    ),
}


def get_preset(preset: str | ExperimentPreset) -> ExperimentPreset:
    """A preset by name (or the preset itself); :class:`ValueError` names the known ones."""
    if isinstance(preset, ExperimentPreset):
        return preset
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[preset]
