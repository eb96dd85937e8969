"""Training and evaluation: losses, the trainer, checkpoints, and the top-down baselines."""

from .config import DATASET_PRESETS, FAMILY_DEFAULTS, TrainConfig
from .evaluate import DEFAULT_SCALES, evaluate_checkpoint, scale_search, scaled_weights
from .trainer import build_model, compute_loss, evaluate_accuracy, load_trained_model, train

__all__ = [
    "DATASET_PRESETS",
    "DEFAULT_SCALES",
    "FAMILY_DEFAULTS",
    "TrainConfig",
    "build_model",
    "compute_loss",
    "evaluate_accuracy",
    "evaluate_checkpoint",
    "load_trained_model",
    "scale_search",
    "scaled_weights",
    "train",
]
