"""What the comparison caches are keyed by, and where unusable files go.

- :func:`stable_digest`: a short SHA-256 of a JSON-like value (NaN and infinities as ``null``, keys
  sorted, numpy values as lists), the same for a value and its JSON round trip, so that a result
  computed in memory and one read back from disk get the same key.
- :func:`set_aside`: files that cannot be reused (made for another circuit, unreadable, truncated) are
  moved, never deleted, into a new ``superseded_<time>/`` folder next to them.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import strict_json_value

SUPERSEDED_PREFIX = "superseded_"


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot digest a {type(value).__name__}")


def stable_digest(value: Any, length: int = 20) -> str:
    """The first ``length`` hex digits of the SHA-256 of ``value`` as canonical JSON."""
    normal = json.loads(json.dumps(value, default=_jsonable))  # tuples -> lists, numpy -> Python
    text = json.dumps(strict_json_value(normal), sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def superseded_folder(root: Path) -> Path:
    """A new, empty ``root/superseded_<time>/`` (``_1``, ``_2``, ... when that name is taken)."""
    name = f"{SUPERSEDED_PREFIX}{time.strftime('%Y%m%d-%H%M%S')}"
    folder, k = root / name, 1
    while folder.exists():
        folder, k = root / f"{name}_{k}", k + 1
    folder.mkdir(parents=True)
    return folder


def set_aside(
    root: Path | str, paths: Sequence[Path], reason: str = "", log: Callable[[str], None] | None = None
) -> Path:
    """Move ``paths`` into a new ``root/superseded_<time>/`` (nothing is deleted); returns that folder.

    With ``log``, one message names the files, the folder and ``reason``.
    """
    root = Path(root)
    folder = superseded_folder(root)
    for path in paths:
        target = folder / path.name
        k = 1
        while target.exists():  # two files of the same name (e.g. from waveforms/ and the folder itself)
            target, k = folder / f"{path.stem}_{k}{path.suffix}", k + 1
        path.rename(target)
    if log is not None:
        log(f"{reason + '; ' if reason else ''}moved {', '.join(p.name for p in paths)} to {folder}")
    return folder
