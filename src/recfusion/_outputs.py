"""Writers for the run's own files: submission CSV and run.json (atomic, deterministic)."""

from __future__ import annotations

import csv
import io
import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from recfusion import _io
from recfusion.columns import USER_ID
from recfusion.data import Candidates
from recfusion.errors import InputError

VERSIONED_PACKAGES = (
    "recfusion",
    "numpy",
    "scipy",
    "polars",
    "numba",
    "implicit",
    "gensim",
    "faiss-cpu",
    "lightgbm",
    "optuna",
)


def submission_text(
    user_ids: np.ndarray, users: np.ndarray, lists: Candidates, item_ids: np.ndarray, k: int
) -> str:
    """CSV text ``user_id,item_1..item_k``, one row per user, ids exactly as ingested."""
    items, _ = lists.to_dense(k)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([USER_ID, *(f"item_{slot + 1}" for slot in range(k))])
    for row, user in enumerate(users.tolist()):
        row_items = items[row]
        writer.writerow([user_ids[user], *(item_ids[i] if i >= 0 else "" for i in row_items)])
    return buffer.getvalue()


def write_submission(path: Path, text: str) -> None:
    _io.write_text(path, text)


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def write_run_json(path: Path, payload: dict[str, Any]) -> None:
    _io.write_text(path, json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")


def check_writable(out_dir: Path, names: list[str], force: bool) -> None:
    """Refuse to overwrite existing outputs unless ``force`` is set."""
    existing = [name for name in names if (out_dir / name).exists()]
    if existing and not force:
        raise InputError(
            f"output folder {out_dir} already holds {', '.join(existing)}; expected an empty "
            "or new folder. Pass --force to overwrite them (each file is replaced atomically)."
        )


__all__ = [
    "check_writable",
    "library_versions",
    "submission_text",
    "write_run_json",
    "write_submission",
]
