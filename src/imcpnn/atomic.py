"""Atomic file writes shared by every part of imcpnn: a crash never leaves a half-written file.

Each writer goes through a temporary file in the target's folder and ``os.replace``; the file gets
the permissions the user's umask gives a new file (``mkstemp`` alone would leave it at 0600). JSON is
strict: NaN and infinities are written as ``null``, so that every JSON reader takes the files.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` (parents created) through a synced temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, _new_file_mode())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _new_file_mode() -> int:
    """``0o666`` less the process's umask: the mode ``open()`` gives a new file."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def strict_json_value(data: Any) -> Any:
    """``data`` with every NaN or infinite float (also inside lists, tuples and dicts) replaced by ``None``."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {key: strict_json_value(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [strict_json_value(value) for value in data]
    return data


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode())


def write_json(
    path: str | Path,
    data: Any,
    *,
    indent: int = 2,
    default: Callable[[Any], Any] | None = str,
    allow_nan: bool = False,
) -> Path:
    """Write ``data`` as JSON atomically. Strict by default: NaN and infinities become ``null``
    (``allow_nan=True`` writes them as JSON5's ``NaN``/``Infinity``); ``default`` converts what JSON does
    not know (``str`` by default)."""

    def convert(value: Any) -> Any:
        converted = default(value) if default is not None else value
        return converted if allow_nan else strict_json_value(converted)

    payload = data if allow_nan else strict_json_value(data)
    text = json.dumps(payload, indent=indent, default=convert, allow_nan=allow_nan)
    return atomic_write_text(path, text + "\n")


def write_csv(path: str | Path, rows: list[dict[str, Any]]) -> Path:
    """Write rows (the first row's keys are the header) as CSV atomically."""
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return atomic_write_text(path, buffer.getvalue())


def save_figure(figure: Any, path: str | Path, dpi: int = 120) -> Path:
    """Save a matplotlib figure as PNG atomically and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.fchmod(fd, _new_file_mode())
    os.close(fd)
    try:
        figure.savefig(tmp, dpi=dpi, format="png")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        plt.close(figure)
    return path
