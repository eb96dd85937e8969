"""The two mapping flows of the comparison (CIRCUIT.md, "Model ↔ circuit flow", steps 2-3).

- ANN-to-IMC (top-down): a network trained with the ideal model, ``|E±| = 100`` and the ideal
  discharger ramp (:data:`IDEAL_PARAMS`), mapped to the circuit; its scale search is 2-D ``(a+, a-)``.
- PNN-to-IMC (bottom-up): a network trained with the characterised ``E±`` and ``β_dis``; one
  global scale ``a``.

:func:`train_iris_models` trains (or reuses) both Iris 5-5-5 networks through the trainer's cache
(:func:`imcpnn.training.cache.train_or_reuse`) and returns their weights with the encoded samples.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from imcpnn.families import FAMILIES
from imcpnn.params import NeuronParams

from .characterization import Characterization
from .config import CircuitConfig
from .dac import BiasDAC, quantize_biases
from .mapping import as_numpy, weights_to_biases
from .runner import SampleJob

ANN_TO_IMC = "ann_to_imc"
PNN_TO_IMC = "pnn_to_imc"

#: The ideal ("ANN") model of the top-down flow: the RC-Spike family's ideal ``|E±|`` (paper: 100) and
#: the ideal discharger ramp (``β_dis = 0``), the model the ANN is trained with.
IDEAL_PARAMS = NeuronParams.symmetric(FAMILIES["rcspike"].ideal_e_rev)


@dataclass(frozen=True)
class Flow:
    """One mapping flow: its trained weights (``[N_out, N_in]`` per layer), the model that predicts it,
    and its scale dimension (``(a+, a-)`` or one ``a``)."""

    name: str
    weights: tuple[np.ndarray, ...]
    params: NeuronParams
    two_dimensional: bool
    dac: BiasDAC | None = None  # gate biases on a DAC's levels (:mod:`.dac`); None: exact biases

    def jobs(
        self,
        scales: tuple[float, float],
        input_times: np.ndarray,
        characterization: Characterization,
        config: CircuitConfig,
        prefix: str,
    ) -> list[SampleJob]:
        """One simulation job per sample (keys ``<prefix><k:03d>``) with the weights mapped at ``scales``;
        the characterisation's digest is the jobs' ``context`` (part of their cache key).

        Raises :class:`ValueError` when a current falls outside the characterised tables. With a
        :attr:`dac` the biases are put on its levels (:func:`~imcpnn.circuit.dac.quantize_biases`).
        """
        biases = tuple(weights_to_biases(self.weights, characterization, config, scales[0], scales[1]))
        if self.dac is not None:
            biases = tuple(quantize_biases(biases, self.dac, characterization))
        context = f"characterization {characterization.digest()}"
        return [SampleJob(f"{prefix}{k:03d}", tuple(row), biases, context=context) for k, row in enumerate(input_times)]


def build_flows(
    ann_weights: Sequence[object],
    pnn_weights: Sequence[object],
    characterization: Characterization,
    ann_params: NeuronParams | None = None,
    dac: BiasDAC | None = None,
) -> tuple[Flow, Flow]:
    """ANN-to-IMC (``ann_params``, default :data:`IDEAL_PARAMS`; 2-D scale) and PNN-to-IMC (the
    characterised model, :attr:`Characterization.neuron_params`; 1-D scale), both through ``dac`` if given."""
    return (
        Flow(ANN_TO_IMC, tuple(as_numpy(w) for w in ann_weights), ann_params or IDEAL_PARAMS, True, dac),
        Flow(PNN_TO_IMC, tuple(as_numpy(w) for w in pnn_weights), characterization.neuron_params, False, dac),
    )


@dataclass(frozen=True)
class IrisModels:
    """What :func:`train_iris_models` returns: both trained weight sets and the encoded samples.

    ``*_weights``: one ``[N_out, N_in]`` array per layer (5-5-5: two ``[5, 5]``).
    ``*_times``: normalised input spike times ``[N, 5]`` (4 features ``t = x`` and the bias spike
    at 0); ``calibration_times`` come from the training split, ``test_times`` from the test split.
    """

    ann_weights: Sequence[np.ndarray]
    pnn_weights: Sequence[np.ndarray]
    calibration_times: np.ndarray
    test_times: np.ndarray
    test_labels: np.ndarray | None = None
    test_accuracy: dict[str, float] | None = None  # the trainer's test accuracy of each network


@dataclass(frozen=True)
class _IrisNetwork:
    """One trained network: weights per layer and the trainer's encoded splits."""

    weights: list[np.ndarray]
    train_times: np.ndarray
    train_labels: np.ndarray
    test_times: np.ndarray
    test_labels: np.ndarray
    test_accuracy: float


def _model_folder_name(prefix: str, params: NeuronParams, seed: int, epochs: int | None) -> str:
    """A cache folder name that changes with the neuron parameters (a new characterisation retrains)."""
    suffix = "" if epochs is None else f"_ep{epochs}"
    return f"{prefix}_E+{params.e_rev_pos:.4f}_E{params.e_rev_neg:.4f}_b{params.beta_dis:.4f}_seed{seed}{suffix}"


def _train_cached(
    folder: Path, params: NeuronParams, seed: int, epochs: int | None, log: Callable[[str], None]
) -> _IrisNetwork:
    """The Iris 5-5-5 preset trained into ``folder`` with ``params``, or the finished run found there."""
    from imcpnn.training.cache import train_or_reuse
    from imcpnn.training.config import TrainConfig

    config = TrainConfig.from_flags(
        dataset="iris", model="rcspike", e_rev=(params.e_rev_pos, params.e_rev_neg), beta_dis=params.beta_dis,
        seed=seed, epochs=epochs, out=str(folder),
    )  # fmt: skip
    name = (
        f"the Iris 5-5-5 RC-Spike network (E+ = {params.e_rev_pos:.4g}, E- = {params.e_rev_neg:.4g}, "
        f"beta_dis = {params.beta_dis:.4g}, seed {seed})"
    )
    run, _ = train_or_reuse(config, progress=False, log=log, name=name)
    return _load_iris_network(run.checkpoint, float(run.test_accuracy))


def _load_iris_network(checkpoint: Path, test_accuracy: float) -> _IrisNetwork:
    """The weights ``[N_out, N_in]`` per layer and the encoded splits of a trained network.

    The splits and the encoding are the trainer's own (:func:`imcpnn.training.trainer.load_data` and
    ``encode`` with the checkpoint's config: same seed, same min-max scaling, bias spike last).
    """
    from imcpnn.training.trainer import encode, load_data, load_trained_model

    network, train_config = load_trained_model(checkpoint)
    splits = load_data(train_config, network)
    weights = [layer.weight.detach().cpu().numpy().astype(np.float64) for layer in network.spiking_layers()]
    train_x, train_y = splits.train[:]
    test_x, test_y = splits.test[:]
    with torch.no_grad():
        train_times = encode(splits, network, train_x).double().cpu().numpy()
        test_times = encode(splits, network, test_x).double().cpu().numpy()
    return _IrisNetwork(
        weights=weights, train_times=train_times, train_labels=train_y.cpu().numpy(), test_times=test_times,
        test_labels=test_y.cpu().numpy(), test_accuracy=test_accuracy,
    )  # fmt: skip


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

    - ANN (for ANN-to-IMC): :data:`IDEAL_PARAMS`, ``E± = ±100``, ``β_dis = 0`` (the ideal top-down model);
    - PNN (for PNN-to-IMC): the characterised ``e_rev_pos``, ``e_rev_neg`` and ``beta_dis``.

    Both use the trainer's Iris preset (100 train / 50 test, features min-max scaled to [0, 1],
    ``t = x``, bias spike at 0, 3 of 5 outputs are the classes). The runs are cached in
    ``out_dir/models/<flow>_<parameters>``: a rerun loads them, an interrupted training resumes
    (:func:`imcpnn.training.cache.train_or_reuse`). ``calibration_times`` are ``n_calibration``
    samples of the (shuffled) training split, balanced over the classes (:func:`balanced_order`);
    ``test_times`` the test split, in order. ``epochs`` overrides the preset's 300 (for tests).
    """
    if n_calibration < 1:
        raise ValueError(f"n_calibration must be >= 1; got {n_calibration}")
    models_dir = Path(out_dir) / "models"
    pnn_params = NeuronParams(e_rev_pos=e_rev_pos, e_rev_neg=e_rev_neg, beta_dis=beta_dis)
    ann = _train_cached(models_dir / _model_folder_name("ann", IDEAL_PARAMS, seed, epochs), IDEAL_PARAMS, seed,
                        epochs, log)  # fmt: skip
    pnn = _train_cached(models_dir / _model_folder_name("pnn", pnn_params, seed, epochs), pnn_params, seed,
                        epochs, log)  # fmt: skip
    same_splits = (
        np.array_equal(ann.train_times, pnn.train_times)
        and np.array_equal(ann.test_times, pnn.test_times)
        and np.array_equal(ann.test_labels, pnn.test_labels)
    )
    if not same_splits:
        raise RuntimeError("the ANN and PNN runs saw different Iris splits; train both with the same seed")
    if n_calibration > len(ann.train_times):
        raise ValueError(f"n_calibration={n_calibration} exceeds the {len(ann.train_times)} training samples")
    return IrisModels(
        ann_weights=ann.weights, pnn_weights=pnn.weights,
        calibration_times=ann.train_times[balanced_order(ann.train_labels)[:n_calibration]],
        test_times=ann.test_times, test_labels=ann.test_labels,
        test_accuracy={"ann": ann.test_accuracy, "pnn": pnn.test_accuracy},
    )  # fmt: skip
