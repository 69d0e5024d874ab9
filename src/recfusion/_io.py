"""Atomic file output: write to a temporary name beside the target, then rename.

An interrupted run therefore leaves either the previous file or the new one, never half
of one. ``os.replace`` is atomic on POSIX when both paths are on one file system, which
holds because the temporary file is created in the target's own directory.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path to write; it replaces ``target`` only if the block succeeds."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(handle)
    temporary = Path(name)
    # mkstemp creates 0600 files; give outputs the usual permissions under the umask.
    os.chmod(temporary, 0o666 & ~_umask())
    try:
        yield temporary
        _fsync_file(temporary)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_open(target: Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temporary file for writing; it replaces ``target`` on success."""
    binary = "b" in mode
    with atomic_path(target) as temporary:
        with open(temporary, mode, encoding=None if binary else encoding, newline=None) as out:
            yield out


def write_text(target: Path, text: str) -> None:
    with atomic_open(target, "w") as out:
        out.write(text)


def write_bytes(target: Path, data: bytes) -> None:
    with atomic_open(target, "wb") as out:
        out.write(data)


def write_with(target: Path, writer: Callable[[Path], None]) -> None:
    """Call ``writer(temporary_path)`` and atomically move the result to ``target``."""
    with atomic_path(target) as temporary:
        writer(temporary)


@contextlib.contextmanager
def atomic_directory(target: Path) -> Iterator[Path]:
    """Yield a temporary directory that replaces ``target`` (a directory) on success.

    The previous directory is moved aside first and removed only after the new one is in
    place, so an interruption at any point leaves a complete directory at ``target`` or at
    the aside name, never a partial one at ``target``.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    os.chmod(temporary, 0o777 & ~_umask())
    try:
        yield temporary
        aside = target.with_name(f".{target.name}.old")
        if aside.exists():
            shutil.rmtree(aside)
        if target.exists():
            os.replace(target, aside)
        os.replace(temporary, target)
        shutil.rmtree(aside, ignore_errors=True)
    finally:
        if temporary.exists():
            shutil.rmtree(temporary, ignore_errors=True)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


__all__ = [
    "atomic_directory",
    "atomic_open",
    "atomic_path",
    "write_bytes",
    "write_text",
    "write_with",
]
