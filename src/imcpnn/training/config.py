"""Training settings as one typed object composed of typed parts (data, neuron, optimiser, loss).

A :class:`TrainConfig` is always complete: :meth:`TrainConfig.from_flags` fills what a user left
out from the neuron family's defaults (:mod:`imcpnn.families`) and the data set's preset
(:data:`imcpnn.training.presets.DATASET_PRESETS`). The flags of ``imcpnn train`` and the keys of
its TOML files are derived from the fields here (:mod:`imcpnn.training.flags`). A run's record
(``metrics.json``, checkpoints) is the flat dictionary of :meth:`TrainConfig.to_record`, which
:meth:`TrainConfig.from_record` reads back, from this version or an earlier one. ``characterization``
(a ``characterization.json``) sets an RC-Spike network's E± and β_dis to the circuit's
(:class:`CharacterizationSource`), and the record names the file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..families import FAMILIES, get_family
from ..layers import NeuronConfig
from ..params import NeuronParams, reversal_pair
from .precision import check_precision_name

BUNDLED_DATASETS = ("iris", "digits")  # shipped with scikit-learn: no data folder


def setting(default: Any, help: str, **cli: Any) -> Any:
    """A dataclass field whose ``help`` (and optional ``flag``, ``choices``, ``metavar``) the CLI reads."""
    return field(default=default, metadata={"help": help, **cli})


@dataclass(frozen=True)
class DataSettings:
    """Which data and how it is fed."""

    dataset: str = setting("digits", "iris, digits, fashion-mnist or cifar10")
    data_dir: str | None = setting(None, "folder of the data set files")
    val_fraction: float | None = setting(None, "fraction of the training split held out for validation")
    max_train_samples: int | None = setting(None, "train on the first N training samples only")
    max_eval_samples: int | None = setting(
        None, "measure validation, test and train accuracy on the first N samples of each split (default: all)"
    )
    batch_size: int = setting(32, "mini-batch size")
    augment: bool = setting(False, "CIFAR-10 augmentation (random flip, small rotation, crop)")

    def __post_init__(self) -> None:
        if self.data_dir is not None and self.dataset in BUNDLED_DATASETS:
            raise ValueError(
                f"{self.dataset} comes bundled with scikit-learn and reads no files: leave out data_dir "
                f"(--data-dir {self.data_dir}), which is for Fashion-MNIST and CIFAR-10"
            )
        _positive_int("batch_size", self.batch_size)
        if self.max_train_samples is not None:
            _positive_int("max_train_samples", self.max_train_samples)
        if self.max_eval_samples is not None:
            _positive_int("max_eval_samples", self.max_eval_samples)
        if self.val_fraction is not None and not (0.0 <= self.val_fraction < 1.0):
            raise ValueError(f"val_fraction must lie in [0, 1); got {self.val_fraction!r}")


@dataclass(frozen=True)
class OptimiserSettings:
    """Adam, its schedule, and where the weights start."""

    epochs: int = setting(10, "training epochs")
    lr: float = setting(1e-4, "Adam learning rate")
    grad_clip: float | None = setting(None, "clip the gradient's global L2 norm to this value (default: no clip)")
    calibrate_init: int = setting(
        0,
        "TTFS: rescale the initial weights layer by layer on the first N training images so that the median "
        "spike times step up to t_ref (imcpnn.layers.ttfs_calibration; 0: the paper's initialisation as it is)",
    )

    def __post_init__(self) -> None:
        _positive_int("epochs", self.epochs)
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a positive number; got {self.lr!r}")
        if self.grad_clip is not None and not (math.isfinite(self.grad_clip) and self.grad_clip > 0):
            raise ValueError(f"grad_clip must be a number > 0 (the largest gradient norm); got {self.grad_clip!r}")
        if isinstance(self.calibrate_init, bool) or not isinstance(self.calibrate_init, int) or self.calibrate_init < 0:
            raise ValueError(
                f"calibrate_init must be an integer >= 0 (training images; 0: off); got {self.calibrate_init!r}"
            )


@dataclass(frozen=True)
class LossSettings:
    """The cost of spec ``MODEL.md`` section 6 (paper eqs. 49-53, 57-58)."""

    tau_soft: float = setting(0.07, "softmax temperature τ_soft of the loss")
    gamma_temporal: float = setting(0.0, "weight γ1 of the temporal penalty")
    t_ref: float = setting(0.9, "reference time of the temporal penalty")
    gamma_q: float = setting(0.0, "weight γ2 of the TTFS firing regulariser")
    weight_l2: float = setting(0.0, "weight of the L2 penalty on the weights")
    early_spike_penalty: float = setting(0.0, "weight of Σ (t - 1)² over all layers")
    silent_surrogate: float = setting(
        0.0, "slope κ of a silent output's surrogate time T + κ (ϑ - v(T)) in the loss (0: off, silent = T)"
    )
    silent_hidden_penalty: float = setting(
        0.0,
        "weight ρ of ρ mean(max(ϑ - v(T), 0)) over the silent neurons of the hidden dense layers: it raises a "
        "dead hidden neuron's potential until it fires again (0: off)",
    )

    def __post_init__(self) -> None:
        if not (isinstance(self.tau_soft, (int, float)) and math.isfinite(self.tau_soft) and self.tau_soft > 0):
            raise ValueError(f"tau_soft must be a finite number > 0; got {self.tau_soft!r}")
        surrogate = self.silent_surrogate
        if isinstance(surrogate, bool) or not (isinstance(surrogate, (int, float)) and 0 <= surrogate < math.inf):
            raise ValueError(f"silent_surrogate must be a finite number >= 0 (0: off); got {surrogate!r}")
        penalty = self.silent_hidden_penalty
        if isinstance(penalty, bool) or not (isinstance(penalty, (int, float)) and 0 <= penalty < math.inf):
            raise ValueError(f"silent_hidden_penalty must be a finite number >= 0 (0: off); got {penalty!r}")
        for name in ("gamma_temporal", "t_ref", "gamma_q", "weight_l2", "early_spike_penalty"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value)):
                raise ValueError(f"{name} must be a finite number; got {value!r}")


@dataclass(frozen=True)
class CharacterizationSource:
    """The ``characterization.json`` an RC-Spike network is trained with (``--characterization``): the PNN-to-IMC
    flow's physical model (CIRCUIT.md, "Model ↔ circuit flow", step 2) with the file's ``E+ = 1/(Vth_circ λN)``,
    ``E- = -1/(Vth_circ λP)`` and ``β_dis = Vth_circ λdis`` (Table 2; :attr:`Characterization.neuron_params`).

    Attributes:
        path: the file, as given.
        sha256: the SHA-256 of its bytes.
        made_from: what the characterisation was made from: ``"spice"`` (``imcpnn circuit characterize``) or
            ``"csv"`` (measured I-V curves, ``--from-csv``).
        e_rev_pos, e_rev_neg, beta_dis: the values the network is trained with.
    """

    path: str
    sha256: str
    made_from: str
    e_rev_pos: float
    e_rev_neg: float
    beta_dis: float

    @classmethod
    def read(cls, path: str | Path) -> CharacterizationSource:
        """The E± and β_dis of a ``characterization.json`` (read as JSON only and checked: a file that is not a
        characterisation, or whose λ give no valid neuron, raises a ValueError naming it)."""
        from ..circuit.characterization import Characterization

        try:
            characterization = Characterization.load(path)
        except (FileNotFoundError, ValueError) as error:
            csv = Path(path).suffix.lower() == ".csv"
            command = f"`imcpnn circuit characterize --from-csv {path} --out DIR`"
            hint = f" (a CSV of I-V curves becomes one with {command})" if csv else ""
            raise type(error)(f"--characterization: {error}{hint}") from None
        lambdas = {"lambda_n": characterization.lambda_n, "lambda_p": characterization.lambda_p,
                   "lambda_dis": characterization.lambda_dis}  # fmt: skip
        bad = {name: value for name, value in lambdas.items() if not (math.isfinite(value) and value > 0)}
        if bad or not (math.isfinite(characterization.vth_circ) and characterization.vth_circ > 0):
            raise ValueError(
                f"--characterization {path}: λ must be finite and > 0 and vth_circ > 0 to give E± and β_dis; got "
                f"{bad or {'vth_circ': characterization.vth_circ}}; make the file anew with "
                "`imcpnn circuit characterize`"
            )
        try:
            params = characterization.neuron_params
        except ValueError as error:
            raise ValueError(f"--characterization {path} gives no valid RC-Spike neuron: {error}") from None
        return cls(
            path=str(path), sha256=hashlib.sha256(Path(path).read_bytes()).hexdigest(),
            made_from=str(characterization.details.get("source", "spice")), e_rev_pos=params.e_rev_pos,
            e_rev_neg=params.e_rev_neg, beta_dis=params.beta_dis,
        )  # fmt: skip

    @classmethod
    def from_value(cls, value: Any) -> CharacterizationSource | None:
        """``None``, a :class:`CharacterizationSource`, or its record (:meth:`to_record`, from ``metrics.json``)."""
        if value is None or isinstance(value, cls):
            return value
        names = [f.name for f in dataclasses.fields(cls)]
        if not isinstance(value, dict) or sorted(value) != sorted(names):
            raise ValueError(f"a recorded characterization must be a mapping with the keys {names}; got {value!r}")
        return cls(**value)

    def to_record(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (complete: see :meth:`from_flags` for the defaults)."""

    data: DataSettings = field(default_factory=DataSettings)
    arch: str = "64-100-10"
    neuron: NeuronConfig = field(default_factory=NeuronConfig)
    optimiser: OptimiserSettings = field(default_factory=OptimiserSettings)
    loss: LossSettings = field(default_factory=LossSettings)
    seed: int = 0
    device: str = "cpu"
    precision: str = "fp32"  # the step's arithmetic: fp32, tf32 or bf16 (imcpnn.training.precision)
    out: str = "runs/train"
    characterization: CharacterizationSource | None = None  # where E± and β_dis came from, when from a file

    def __post_init__(self) -> None:
        check_precision_name(self.precision)
        if self.optimiser.calibrate_init and self.neuron.family != "ttfs":
            raise ValueError(
                "calibrate_init rescales the TTFS initialisation (the neurons' staircase of spike times up to t_ref); "
                f"the {self.neuron.family} model has its own: drop --calibrate-init or use --model ttfs"
            )

    @property
    def time_window(self) -> float:
        return self.neuron.time_window

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_flags(cls, **flags: Any) -> TrainConfig:
        """A complete config from ``imcpnn train``'s settings (flag names with ``_``; ``None``: the default).

        Defaults, weakest first: the fields' own, the family's (:attr:`NeuronFamily.defaults`), the data
        set's preset. ``e_rev`` is ``|E±|`` (symmetric) or the pair ``(E+, E-)``; ``offset`` is
        ``"random"`` or ``"fixed"``; ``model`` is the neuron family. ``characterization``, the path of a
        ``characterization.json``, sets ``e_rev`` and ``beta_dis`` to its values (RC-Spike only; refused with an
        ``e_rev`` or ``beta_dis`` that differs from them).
        """
        from ..data import dataset_key
        from .presets import preset_for

        unknown = sorted(set(flags) - set(setting_names()))
        if unknown:
            raise ValueError(f"unknown training settings {unknown}; allowed: {sorted(setting_names())}")

        family = get_family(flags.get("model") or "rcspike")
        window = flags.get("window")
        if window is not None and family.fixed_window is not None and window != family.fixed_window:
            raise ValueError(
                f"the {family.name} window is fixed at {family.fixed_window:g}; window={window!r} applies to "
                f"{', '.join(n for n, f in FAMILIES.items() if f.fixed_window is None)} neurons only"
            )
        dataset = dataset_key(flags.get("dataset") or "digits")
        values: dict[str, Any] = {**dataclasses.asdict(family.defaults), "arch": None}
        values.update(preset_for(dataset, family.name).overrides())
        values.update({k: v for k, v in flags.items() if v is not None})
        values.update(model=family.name, dataset=dataset)
        if flags.get("characterization") is not None:
            values.update(_characterization_settings(flags, family.name))
        return cls._from_values(values)

    @classmethod
    def _from_values(cls, values: dict[str, Any]) -> TrainConfig:
        """Build the parts from a complete flat mapping of settings (flag names)."""
        family = get_family(values["model"])
        if not values.get("arch"):
            raise ValueError(f"no architecture for {values['dataset']} {family.name}: give --arch")
        e_rev_pos, e_rev_neg = e_rev_values(values["e_rev"])
        window = family.window(NeuronParams(window=float(values.get("window", family.defaults.window))))
        params = NeuronParams(
            e_rev_pos=e_rev_pos, e_rev_neg=e_rev_neg, leak=values.get("leak", 0.0),
            beta_dis=values.get("beta_dis", 0.0), threshold=values.get("threshold", 1.0), window=window,
        )  # fmt: skip
        offset = values.get("offset", "random")
        if offset not in ("random", "fixed"):
            raise ValueError(f"offset must be 'random' or 'fixed'; got {offset!r}")
        neuron = NeuronConfig(
            family=family.name, params=params, solver=values.get("solver", "dstd"), steps=values["steps"],
            eval_steps=values["eval_steps"], random_offset=offset == "random",
            spike_noise=values.get("spike_noise", 0.01),
        )  # fmt: skip
        seed = values.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
            raise ValueError(f"seed must be an integer in [0, 2**32 - 1]; got {seed!r}")
        return cls(
            data=_part(DataSettings, values),
            arch=str(values["arch"]),
            neuron=neuron,
            optimiser=_part(OptimiserSettings, values),
            loss=_part(LossSettings, values),
            seed=seed,
            device=str(values.get("device", "cpu")),
            precision=values.get("precision", "fp32"),  # records before it: fp32
            out=str(values.get("out", "runs/train")),
            characterization=CharacterizationSource.from_value(values.get("characterization")),
        )

    def to_record(self) -> dict[str, Any]:
        """The flat, JSON-ready record of the run (``metrics.json["config"]``, checkpoints)."""
        params = self.neuron.params
        return {
            "dataset": self.data.dataset, "model": self.neuron.family, "arch": self.arch,
            "e_rev_pos": params.e_rev_pos, "e_rev_neg": params.e_rev_neg, "beta_dis": params.beta_dis,
            "leak": params.leak, "threshold": params.threshold, "window": params.window,
            "solver": self.neuron.solver, "steps": self.neuron.steps, "random_offset": self.neuron.random_offset,
            "eval_steps": self.neuron.eval_steps, "spike_noise": self.neuron.spike_noise,
            **dataclasses.asdict(self.optimiser), **dataclasses.asdict(self.loss), **dataclasses.asdict(self.data),
            "seed": self.seed, "device": self.device, "precision": self.precision, "out": self.out,
            "characterization": None if self.characterization is None else self.characterization.to_record(),
        }  # fmt: skip

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> TrainConfig:
        """The config of a record written by :meth:`to_record`, or by an earlier version (flat fields,
        ``extra``, RC-Spike's unused ``window``: all read)."""
        if not isinstance(record, dict) or "model" not in record or "e_rev_pos" not in record:
            raise ValueError("not an imcpnn training record (no 'model' and 'e_rev_pos' entries)")
        values = {k: v for k, v in record.items() if k not in ("extra", "e_rev_pos", "e_rev_neg", "random_offset")}
        values["e_rev"] = (record["e_rev_pos"], record.get("e_rev_neg"))
        values["offset"] = "random" if record.get("random_offset", True) else "fixed"
        family = get_family(values["model"])
        for name, value in dataclasses.asdict(family.defaults).items():
            # a record without grad_clip had none; one without silent_surrogate was trained before it (off)
            if values.get(name) is None and name not in ("grad_clip", "silent_surrogate"):
                values[name] = value
        values.setdefault("silent_surrogate", 0.0)
        values.setdefault("silent_hidden_penalty", 0.0)
        return cls._from_values(values)


#: The neuron's settings among the flags (stored in :class:`NeuronConfig` and :class:`NeuronParams`).
NEURON_SETTINGS = (
    "model", "arch", "e_rev", "beta_dis", "characterization", "leak", "window", "solver", "steps", "offset",
    "eval_steps", "spike_noise",
)  # fmt: skip
#: The run's own settings among the flags.
RUN_SETTINGS = ("seed", "device", "precision", "out")


def setting_names() -> tuple[str, ...]:
    """Every name :meth:`TrainConfig.from_flags` takes, in the order of ``imcpnn train --help``."""
    parts = [tuple(f.name for f in dataclasses.fields(part)) for part in (OptimiserSettings, LossSettings)]
    return (
        tuple(f.name for f in dataclasses.fields(DataSettings)) + NEURON_SETTINGS + parts[0] + parts[1] + RUN_SETTINGS
    )


def _characterization_settings(flags: dict[str, Any], family: str) -> dict[str, Any]:
    """``e_rev``, ``beta_dis`` and ``characterization`` of the ``characterization`` setting (a file's path),
    checked against the family and the explicit ``e_rev`` and ``beta_dis``."""
    path = flags["characterization"]
    if family != "rcspike":
        raise ValueError(
            f"--characterization {path} holds the RC-Spike circuit's E± and β_dis; it applies to --model rcspike "
            f"only, not {family}: leave it out, or train an rcspike network"
        )
    source = CharacterizationSource.read(path)

    def same(a: float, b: float) -> bool:
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)

    given = []
    if flags.get("e_rev") is not None:
        e_pos, e_neg = e_rev_values(flags["e_rev"])
        if not (same(e_pos, source.e_rev_pos) and same(e_neg, source.e_rev_neg)):
            given.append(f"--e-rev {e_pos:g} {e_neg:g}")
    if flags.get("beta_dis") is not None and not same(float(flags["beta_dis"]), source.beta_dis):
        given.append(f"--beta-dis {flags['beta_dis']:g}")
    if given:
        raise ValueError(
            f"--characterization {path} sets E+ = {source.e_rev_pos:.6g}, E- = {source.e_rev_neg:.6g} and "
            f"β_dis = {source.beta_dis:.6g} (E± = ±1/(Vth_circ λ), β_dis = Vth_circ λdis), which contradicts the "
            f"explicit {' and '.join(given)}: leave out --e-rev and --beta-dis (TOML: e-rev, beta-dis), or "
            "--characterization"
        )
    return {"e_rev": (source.e_rev_pos, source.e_rev_neg), "beta_dis": source.beta_dis, "characterization": source}


def e_rev_values(e_rev: Any) -> tuple[float, float]:
    """``|E±|`` or ``(E+, E-)`` (a list from TOML or the CLI) -> ``(E+, E-)``; checked by :class:`NeuronParams`."""
    if isinstance(e_rev, (list, tuple)):
        if len(e_rev) == 1:
            e_rev = e_rev[0]
        elif len(e_rev) == 2:
            return reversal_pair(e_rev[0], e_rev[1])
        else:
            raise ValueError(f"e-rev takes one value (symmetric |E±|) or two (E+ E-); got {len(e_rev)}")
    if not isinstance(e_rev, (int, float)) or isinstance(e_rev, bool) or not e_rev > 0:
        raise ValueError(
            f"a single e-rev value is the symmetric |E±| and must be > 0; got {e_rev!r} (give E+ E- for a pair)"
        )
    return reversal_pair(e_rev)


def _part(cls: type, values: dict[str, Any]) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in values.items() if k in names and v is not None})


def _positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1; got {value!r}")
