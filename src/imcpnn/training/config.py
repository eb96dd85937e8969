"""Training settings as one typed object, with the paper's defaults and per-data-set presets."""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..layers import NeuronConfig

# Paper settings per neuron family (spec section 6); the data set presets below override some.
FAMILY_DEFAULTS: dict[str, dict[str, Any]] = {
    "rcspike": {
        "steps": 4,
        "lr": 1e-4,
        "gamma_temporal": 2.6,
        "t_ref": 0.9,
        "gamma_q": 0.0,
        "eval_steps": 30,
        "e_rev": 2.0,
    },
    "ttfs": {
        "steps": 20,
        "lr": 2e-4,
        "gamma_temporal": 0.02,
        "t_ref": 3.2,
        "gamma_q": 8e-6,
        "grad_clip": 1.0,
        "eval_steps": 60,
        "e_rev": 2.0,
    },
}

# Architectures and settings per data set. Digits and Iris are the quick presets (2 CPU cores,
# minutes): they use a larger learning rate than the paper's big-data settings, since they have
# 1300 and 100 training samples. Iris is the circuit network (spec section 6, CIRCUIT.md).
# Digits uses τ_soft = 0.2: with the paper's 0.07 the 64-100-10 RC-Spike MLP at |E±| = 2 reached
# 60-80 % test accuracy in 8 epochs, with 0.2 it reached 97 % (docs/results.md). Iris uses lr 3e-2
# instead of the paper's 1e-3: with 1e-3 the 5-5-5 network reached 72 % in 300 epochs (2 steps
# each), with 3e-2 it reached 94-100 % over seeds 0-2. TTFS on digits: with lr 1e-3 and no gradient
# clipping training collapsed within 8 epochs (50 % test); lr 2e-4 (the paper's) with the gradient
# norm clipped to 1 reached 79 % (docs/results.md).
DATASET_PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "iris": {
        "rcspike": {
            "arch": "5-5-5",
            "lr": 3e-2,
            "batch_size": 50,
            "gamma_temporal": 0.1,
            "weight_l2": 1e-2,
            "early_spike_penalty": 0.2,
            "epochs": 300,
        },
        "ttfs": {"arch": "5-20-3", "lr": 1e-3, "batch_size": 50, "window": 4.0, "epochs": 300},
    },
    "digits": {
        "rcspike": {"arch": "64-100-10", "lr": 1e-3, "epochs": 30, "tau_soft": 0.2},
        "ttfs": {"arch": "64-100-10", "epochs": 40, "window": 4.0, "tau_soft": 0.2},
    },
    "fashion-mnist": {
        "rcspike": {"arch": "784-400-400-10", "epochs": 50},
        "ttfs": {"arch": "1x28x28:C16-C16-P-C32-C32-P-128-10", "epochs": 150, "window": 4.0},
    },
    "cifar10": {
        "rcspike": {"arch": "3x32x32:C64-C64-P-C128-C128-P-C256-C256-P-512-10", "epochs": 100, "augment": True},
        "ttfs": {"arch": "3x32x32:C16-C16-P-C32-C32-P-128-10", "epochs": 150, "window": 4.0, "augment": True},
    },
}


@dataclass
class TrainConfig:
    """Everything that defines a training run; ``None`` fields take the family/data-set defaults.

    Times are normalised; ``e_rev_neg = None`` means ``-e_rev_pos``.
    """

    dataset: str = "digits"
    model: str = "rcspike"
    arch: str | None = None
    e_rev_pos: float | None = None
    e_rev_neg: float | None = None
    beta_dis: float = 0.0
    leak: float = 0.0
    window: float | None = None
    solver: str = "dstd"
    steps: int | None = None
    random_offset: bool = True
    eval_steps: int | None = None
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    spike_noise: float = 0.01
    tau_soft: float | None = None
    gamma_temporal: float | None = None
    t_ref: float | None = None
    gamma_q: float | None = None
    weight_l2: float | None = None
    early_spike_penalty: float | None = None
    augment: bool | None = None
    grad_clip: float | None = None
    seed: int = 0
    device: str = "cpu"
    data_dir: str | None = None
    val_fraction: float | None = None
    max_train_samples: int | None = None
    out: str = "runs/train"
    extra: dict[str, Any] = field(default_factory=dict)

    def resolved(self) -> TrainConfig:
        """A copy with every ``None`` filled from the data-set preset, then the family defaults."""
        from ..data import canonical_dataset_name

        if self.model not in FAMILY_DEFAULTS:
            raise ValueError(f"model must be 'rcspike' or 'ttfs'; got {self.model!r}")
        dataset = canonical_dataset_name(self.dataset)
        defaults = {
            "batch_size": 32,
            "weight_l2": 0.0,
            "early_spike_penalty": 0.0,
            "augment": False,
            "epochs": 10,
            "window": 4.0,
            "tau_soft": 0.07,
            **FAMILY_DEFAULTS[self.model],
            **DATASET_PRESETS.get(dataset, {}).get(self.model, {}),
        }
        values = dataclasses.asdict(self)
        values["dataset"] = dataset
        for name, value in list(values.items()):
            if value is None and name in defaults:
                values[name] = defaults[name]
        if values["e_rev_pos"] is None:
            values["e_rev_pos"] = defaults["e_rev"]
        if values["e_rev_neg"] is None:
            values["e_rev_neg"] = -values["e_rev_pos"]
        config = TrainConfig(**values)
        config.validate()
        return config

    def validate(self) -> None:
        for name in ("epochs", "batch_size", "steps"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be an integer >= 1; got {value!r}")
        if self.lr is not None and not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be a positive number; got {self.lr!r}")
        if self.tau_soft is not None and self.tau_soft <= 0:
            raise ValueError(f"tau_soft must be > 0; got {self.tau_soft!r}")
        self.neuron_config(training=True)  # checks E±, beta_dis, steps, noise, window

    def neuron_config(self, training: bool = True) -> NeuronConfig:
        """The layers' :class:`NeuronConfig` for this run (call on a :meth:`resolved` config)."""
        return NeuronConfig(
            family=self.model,  # type: ignore[arg-type]
            e_rev_pos=self.e_rev_pos,
            e_rev_neg=self.e_rev_neg,
            beta_dis=self.beta_dis,
            leak=self.leak,
            window=self.window,
            solver=self.solver,  # type: ignore[arg-type]
            steps=self.steps,
            eval_steps=self.eval_steps,
            random_offset=self.random_offset,
            spike_noise=self.spike_noise,
        )

    @property
    def time_window(self) -> float:
        return 1.0 if self.model == "rcspike" else float(self.window)

    @classmethod
    def from_toml(cls, path: str | Path, **overrides: Any) -> TrainConfig:
        """Read a TOML file whose keys are this class's fields (the ``imcpnn train`` flags, ``-`` as ``_``)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"config file {path} does not exist")
        with path.open("rb") as handle:
            data = tomllib.load(handle)
        data = {key.replace("-", "_"): value for key, value in data.get("train", data).items()}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown keys in {path}: {unknown}; allowed: {sorted(known)}")
        data.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**data)
