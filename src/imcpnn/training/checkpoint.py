"""Checkpoints, written atomically (see :mod:`imcpnn.atomic`); the JSON and CSV writers are re-exported."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from ..atomic import atomic_write_bytes, write_csv, write_json

__all__ = ["load_checkpoint", "save_checkpoint", "write_csv", "write_json"]


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist (train with `imcpnn train --out DIR` first)")
    try:
        # weights_only: tensors and plain Python values only, so that no file can run code when loaded
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # a truncated or foreign file, or one that pickles other objects
        raise ValueError(
            f"{path} is not an imcpnn checkpoint that loads safely (tensors and plain values only): "
            f"{str(error).splitlines()[0]}. Checkpoints written by `imcpnn train` load; retrain for any other file"
        ) from error
    if not isinstance(state, dict) or "model" not in state or "config" not in state:
        raise ValueError(f"{path} is not an imcpnn checkpoint (no 'model' and 'config' entries)")
    return state
