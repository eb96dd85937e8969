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
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as error:  # a truncated or foreign file
        raise ValueError(f"{path} is not an imcpnn checkpoint: {error}") from error
    if not isinstance(state, dict) or "model" not in state or "config" not in state:
        raise ValueError(f"{path} is not an imcpnn checkpoint (no 'model' and 'config' entries)")
    return state
