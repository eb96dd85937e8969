"""Output folders: checked before any work, and held by one imcpnn process at a time.

Every command that writes a folder (``train``, ``experiment``, ``circuit``, ``bench``) claims it with
:func:`claim_output_folder`: the folder is made (or found) and must be writable, which fails at once
instead of after an epoch, and an exclusive lock (``flock`` on ``OUT/.imcpnn.lock``, released by the
kernel when the process ends, however it ends) keeps a second process from mixing its files into it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

LOCK_NAME = ".imcpnn.lock"


class OutputFolderBusy(RuntimeError):
    """Another process holds the output folder."""


def check_output_folder(path: str | Path, option: str = "--out") -> Path:
    """Make ``path`` if needed; a :class:`ValueError` when it is a file or cannot be made."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{option} {path} is a file, not a folder; give a folder (it is made if missing)")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(f"{option} {path}: the folder cannot be made ({error.strerror}); give another") from None
    return path


def check_output_file(path: str | Path, option: str = "--json") -> Path:
    """A file to be written later: not a folder, and its folder made (or found) now, before any work."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{option} {path} is a folder; give the path of a file (e.g. {path / 'result.json'})")
    check_output_folder(path.parent, f"{option}'s folder")
    return path


@contextlib.contextmanager
def claim_output_folder(path: str | Path, option: str = "--out") -> Iterator[Path]:
    """Hold ``path`` (made if missing, checked writable) for this process while the block runs."""
    path = check_output_folder(path, option)
    lock_path = path / LOCK_NAME
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as error:
        raise ValueError(f"{option} {path} is not writable ({error.strerror}); give a folder you can write") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise OutputFolderBusy(
                f"{option} {path} is in use by another imcpnn process (pid {holder}); wait for it to finish "
                "or give another folder"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)  # closing the descriptor releases the lock
