"""Training and evaluation: losses, the trainer, checkpoints, and the top-down baselines."""

from .cache import TrainedRun, finished_run, train_or_reuse
from .config import DataSettings, LossSettings, OptimiserSettings, TrainConfig
from .evaluate import DEFAULT_SCALES, EvalResult, evaluate_checkpoint, scale_search, scaled_weights
from .losses import SpikeTimeLoss
from .presets import DATASET_PRESETS, TrainPreset
from .trainer import build_model, compute_loss, evaluate_accuracy, forward_layers, load_trained_model, train

__all__ = [
    "DATASET_PRESETS",
    "DEFAULT_SCALES",
    "DataSettings",
    "EvalResult",
    "LossSettings",
    "OptimiserSettings",
    "SpikeTimeLoss",
    "TrainConfig",
    "TrainPreset",
    "TrainedRun",
    "build_model",
    "compute_loss",
    "evaluate_accuracy",
    "evaluate_checkpoint",
    "finished_run",
    "forward_layers",
    "load_trained_model",
    "scale_search",
    "scaled_weights",
    "train",
    "train_or_reuse",
]
