"""The runner's files: results as JSON lines (one record a sample) and waveforms as ``.npz`` files.

Unreadable lines and files are named and set aside (:func:`imcpnn.circuit.cache.set_aside`), never
crashed on; a waveform file carries the digest of the simulation that made it.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..atomic import atomic_write_text
from .cache import set_aside
from .jobs import SampleResult


def _read_records(path: Path) -> tuple[list[SampleResult], list[tuple[int, str]]]:
    """The records of a JSON-lines file and its unreadable lines (line number, reason)."""
    records: list[SampleResult] = []
    bad: list[tuple[int, str]] = []
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.decode(errors="replace").strip()
            if not line:
                continue
            try:
                records.append(SampleResult.from_record(json.loads(line)))
            except json.JSONDecodeError:
                bad.append((number, "not JSON (a truncated write?)"))
            except ValueError as error:
                bad.append((number, str(error)))
    return records, bad


def _describe_bad_lines(path: Path, bad: list[tuple[int, str]]) -> str:
    shown = "; ".join(f"line {n}: {why}" for n, why in bad[:3]) + (f"; and {len(bad) - 3} more" if len(bad) > 3 else "")
    return f"{path} has {len(bad)} unreadable line{'s' if len(bad) > 1 else ''} ({shown})"


def load_results(path: Path | str, log: Callable[[str], None] | None = None) -> dict[str, SampleResult]:
    """The results recorded in a JSON-lines file (the last record of each key wins); {} if absent.

    An unreadable line (a truncated last line of an interrupted write, a record without a key) is
    skipped, and named to ``log`` when one is given.
    """
    path = Path(path)
    if not path.exists():
        return {}
    records, bad = _read_records(path)
    if bad and log is not None:
        log(_describe_bad_lines(path, bad) + "; skipped")
    return {record.key: record for record in records}


def load_cache(path: Path, log: Callable[[str], None]) -> list[SampleResult]:
    """The records of the runner's cache ``path``. When some lines are unreadable, the file is set aside
    (``superseded_<time>/`` next to it) and rewritten with the readable records only, so that appending
    goes on at a line boundary; a last line without its newline gets one."""
    if not path.exists():
        return []
    records, bad = _read_records(path)
    if bad:
        set_aside(path.parent, [path], _describe_bad_lines(path, bad) + "; kept its readable records", log)
        atomic_write_text(path, "".join(json.dumps(r.to_record()) + "\n" for r in records))
    elif path.stat().st_size:
        with path.open("rb") as handle:
            handle.seek(-1, os.SEEK_END)
            ends_with_newline = handle.read(1) == b"\n"
        if not ends_with_newline:
            with path.open("a") as handle:
                handle.write("\n")
    return records


_DIGEST_ENTRY = "__digest__"


def save_waveforms(folder: Path, result: SampleResult) -> None:
    if result.waveforms is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{result.key}.npz"
    tmp = folder / f".{result.key}.{os.getpid()}.tmp.npz"
    arrays = {k: v.astype(np.float64 if k == "time" else np.float32) for k, v in result.waveforms.items()}
    try:
        np.savez_compressed(tmp, **arrays, **{_DIGEST_ENTRY: np.array(result.digest)})
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class UnreadableWaveforms(ValueError):
    pass


def read_waveforms(path: Path) -> tuple[dict[str, np.ndarray], str]:
    """The waveforms of a ``.npz`` and the digest stored with them ("" in files from before digests)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            digest = str(data[_DIGEST_ENTRY]) if _DIGEST_ENTRY in data.files else ""
            arrays = {k: np.asarray(data[k], dtype=float) for k in data.files if k != _DIGEST_ENTRY}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as error:
        raise UnreadableWaveforms(f"{path} is unreadable ({type(error).__name__}: {error})") from None
    if "time" not in arrays:
        raise UnreadableWaveforms(f"{path} is unreadable (it has no 'time' array)")
    return arrays, digest


def load_waveforms(
    folder: Path | str, key: str, digest: str | None = None, log: Callable[[str], None] | None = None
) -> dict[str, np.ndarray] | None:
    """Waveforms saved by :func:`run_samples` with ``waveform_dir``; None if there are none, if the file
    is unreadable (named to ``log``) or, with ``digest``, if they belong to another simulation."""
    path = Path(folder) / f"{key}.npz"
    if not path.exists():
        return None
    try:
        arrays, stored = read_waveforms(path)
    except UnreadableWaveforms as error:
        if log is not None:
            log(str(error))
        return None
    if digest is not None and stored != digest:
        return None
    return arrays
