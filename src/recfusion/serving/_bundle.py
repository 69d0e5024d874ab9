"""The model bundle: a fitted :class:`Recommender` plus everything serving needs, on disk.

Layout of a bundle directory (no pickle anywhere; every file is JSON, UTF-8 text, ``.npy``,
``.npz``, Parquet or an index file written by a strategy's own ``save``)::

    manifest.json          format version, versions, config, fingerprint, file checksums
    config.toml            the run configuration (absent when built without one)
    ids/users.json         user ids by index, a JSON array of strings
    ids/items.json         item ids by index, a JSON array of strings
    history/*.npy          training histories in CSR layout (indptr, items, timestamps, weights)
    side/*                 side information, when given: items.parquet, users.parquet,
                           item_vectors.npy (learned fusion computes features from it)
    recommender/...        :meth:`Recommender.save` output (strategies, filler, fuser)

The manifest lists the sha256 and size of every other file. It is an integrity check
against truncation and accidental edits, not a signature: whoever can rewrite the files
can rewrite the manifest too.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp

import recfusion
from recfusion._io import atomic_directory
from recfusion.config import RunConfig
from recfusion.data import Histories, Interactions, lookup_table
from recfusion.data._types import INDEX_DTYPE
from recfusion.errors import BundleError
from recfusion.pipeline import Recommender
from recfusion.recall import SideInfo
from recfusion.serving._manifest import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    dumps,
    file_entry,
    fsync_directory,
    fsync_tree,
    list_files,
    read_manifest,
    verify_files,
)

logger = logging.getLogger(__name__)

_HISTORY_ARRAYS = ("indptr", "items", "timestamps", "weights")
_ATTEMPTS = 3
_SIDE_FILES = ("items.parquet", "users.parquet", "item_vectors.npy")


@dataclass(frozen=True, eq=False)
class Bundle:
    """A loaded, verified model bundle; immutable, so one reference is one consistent model.

    Parameters
    ----------
    path : Path
        Directory the bundle was loaded from.
    manifest : dict
        Parsed ``manifest.json``.
    recommender : Recommender
        The fitted channels, fuser and popularity filler.
    user_ids, item_ids : ndarray of str, shapes (n_users,) and (n_items,)
        External ids by index, exactly as ingested.
    history : Histories
        Training history of every user; row ``u`` belongs to ``user_ids[u]``.
    log : Interactions
        The same training log as interactions (what learned fusion computes features from).
    side : SideInfo or None
        Side information the bundle was trained with.
    user_lookup, item_lookup : dict of str to int
        Index of each external id.
    """

    path: Path
    manifest: dict[str, Any]
    recommender: Recommender
    user_ids: np.ndarray
    item_ids: np.ndarray
    history: Histories
    log: Interactions
    side: SideInfo | None
    user_lookup: dict[str, int] = field(repr=False)
    item_lookup: dict[str, int] = field(repr=False)

    @property
    def bundle_id(self) -> str:
        """Short content id of the bundle (changes whenever any file changes)."""
        return str(self.manifest["bundle_id"])

    @property
    def n_items(self) -> int:
        return int(self.item_ids.shape[0])

    @cached_property
    def user_item_matrix(self) -> sp.csr_matrix:
        """Binary users x items matrix of the training histories (built on first use)."""
        return self.history.as_matrix(self.n_items)

    @cached_property
    def item_user_matrix(self) -> sp.csc_matrix:
        """The same matrix in column layout, for the users of one item."""
        return self.user_item_matrix.tocsc()

    def user_history(self, user: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Items, timestamps and weights of user index ``user``, oldest first (views)."""
        span = slice(self.history.indptr[user], self.history.indptr[user + 1])
        h = self.history
        return h.items[span], h.timestamps[span], h.weights[span]


def save_bundle(
    target: Path,
    recommender: Recommender,
    interactions: Interactions,
    *,
    config: RunConfig | None = None,
    fingerprint: str | None = None,
    side: SideInfo | None = None,
) -> Path:
    """Write a bundle to ``target`` atomically (the previous bundle stays until the swap).

    Parameters
    ----------
    target : Path
        Bundle directory; replaced as a whole when the write succeeds.
    recommender : Recommender
        Fitted on ``interactions`` (same user and item id spaces).
    interactions : Interactions
        The training log; its histories are stored so known users get them when served.
    config : RunConfig, optional
        Stored as ``config.toml`` and as a dict in the manifest.
    fingerprint : str, optional
        Dataset fingerprint recorded in the manifest.
    side : SideInfo, optional
        Side information the recommender was fitted with; stored so that fusers which
        need it at prediction time (learned fusion) get it back on load.

    Returns
    -------
    Path
        ``target``.
    """
    started = time.perf_counter()
    target = Path(target)
    check_replaceable(target)
    with atomic_directory(target) as staging:
        _write_contents(staging, recommender, interactions, config)
        _write_side(staging / "side", side)
        manifest = _manifest(staging, interactions, recommender, config, fingerprint)
        (staging / MANIFEST).write_text(dumps(manifest), encoding="utf-8")
        fsync_tree(staging)
    fsync_directory(target.parent)
    logger.info(
        "saved bundle %s to %s (%d files) in %.2f s",
        manifest["bundle_id"], target, len(manifest["files"]) + 1,
        time.perf_counter() - started,
    )
    return target


def check_replaceable(target: Path) -> None:
    """Refuse to replace anything but a missing path, an empty directory or a bundle."""
    if not target.exists():
        return
    if not target.is_dir():
        raise BundleError(
            f"model bundle: output {target} exists and is not a directory; expected a bundle "
            "directory or a new path"
        )
    if any(target.iterdir()) and not (target / MANIFEST).is_file():
        raise BundleError(
            f"model bundle: output {target} is a non-empty directory without {MANIFEST}; "
            "refusing to replace something that is not a model bundle (hint: pick a new path)"
        )


def _write_contents(
    staging: Path, recommender: Recommender, log: Interactions, config: RunConfig | None
) -> None:
    """Ids, histories, config and the recommender's own files."""
    ids = staging / "ids"
    ids.mkdir()
    _write_ids(ids / "users.json", log.user_ids, "user")
    _write_ids(ids / "items.json", log.item_ids, "item")
    history = staging / "history"
    history.mkdir()
    arrays = {
        "indptr": np.asarray(log.user_indptr, dtype=np.int64),
        "items": np.asarray(log.items, dtype=np.int32),
        "timestamps": np.asarray(log.timestamps, dtype=np.float64),
        "weights": np.asarray(log.weights, dtype=np.float32),
    }
    for name, values in arrays.items():
        np.save(history / f"{name}.npy", values, allow_pickle=False)
    if config is not None:
        (staging / "config.toml").write_text(config.to_toml(), encoding="utf-8")
    (staging / "recommender").mkdir()
    recommender.save(staging / "recommender")


def _write_side(directory: Path, side: SideInfo | None) -> None:
    """Item and user tables as Parquet, supplied vectors as .npy; nothing when absent."""
    if side is None:
        return
    directory.mkdir()
    if side.items is not None:
        side.items.write_parquet(directory / "items.parquet")
    if side.users is not None:
        side.users.write_parquet(directory / "users.parquet")
    if side.item_vectors is not None:
        vectors = np.asarray(side.item_vectors, dtype=np.float32)
        np.save(directory / "item_vectors.npy", vectors, allow_pickle=False)


def _read_side(path: Path) -> SideInfo | None:
    """The side information written by :func:`_write_side`, or None."""
    directory = path / "side"
    if not directory.is_dir():
        return None
    items, users, vectors = (directory / name for name in _SIDE_FILES)
    return SideInfo(
        items=pl.read_parquet(items) if items.is_file() else None,
        users=pl.read_parquet(users) if users.is_file() else None,
        item_vectors=np.load(vectors, allow_pickle=False) if vectors.is_file() else None,
    )


def _write_ids(path: Path, ids: np.ndarray, kind: str) -> None:
    """A JSON array of the ids as strings (non-ASCII kept verbatim, UTF-8)."""
    values = [value if isinstance(value, str) else str(value) for value in ids.tolist()]
    if len(set(values)) != len(values):
        raise BundleError(
            f"model bundle: {kind} ids are not distinct after conversion to strings; "
            f"expected one string per {kind} index (hint: check the reader's id column)"
        )
    path.write_text(json.dumps(values, ensure_ascii=False), encoding="utf-8")


def _manifest(
    staging: Path,
    log: Interactions,
    recommender: Recommender,
    config: RunConfig | None,
    fingerprint: str | None,
) -> dict[str, Any]:
    """Manifest dict with checksums of every file written so far."""
    files = {rel: file_entry(staging / rel) for rel in list_files(staging)}
    digest = hashlib.sha256(dumps(files).encode("utf-8")).hexdigest()
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "recfusion_version": recfusion.__version__,
        "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "bundle_id": digest[:16],
        "dataset_fingerprint": fingerprint,
        "config": None if config is None else config.model_dump(mode="json"),
        "counts": {
            "users": log.n_users, "items": log.n_items, "interactions": log.n_interactions,
        },
        "strategies": {name: s.kind for name, s in recommender.strategies.items()},
        "files": files,
    }


def load_bundle(path: Path) -> Bundle:
    """Verify and load a bundle written by :func:`save_bundle`.

    When a new bundle is swapped in at ``path`` while this one loads (``train --force``
    next to a running server), the load starts over, so the result never mixes files of
    two bundles.

    Raises
    ------
    BundleError
        The directory or manifest is missing, the format version differs, or any file is
        missing, unlisted, truncated or modified; the message names the file.
    """
    started = time.perf_counter()
    path = Path(path)
    for attempt in range(_ATTEMPTS):
        manifest = read_manifest(path)
        try:
            bundle = _load_verified(path, manifest)
        except BundleError:
            if attempt + 1 == _ATTEMPTS or not _replaced(path, manifest):
                raise
            continue
        if not _replaced(path, manifest):
            logger.info(
                "loaded bundle %s from %s (%d users, %d items) in %.2f s",
                bundle.bundle_id, path, bundle.user_ids.shape[0], bundle.n_items,
                time.perf_counter() - started,
            )
            return bundle
    raise BundleError(
        f"model bundle {path}: the bundle was replaced {_ATTEMPTS} times while loading; "
        "hint: load again once the writer has finished"
    )


def _replaced(path: Path, manifest: dict[str, Any]) -> bool:
    """True when ``path`` no longer holds the bundle described by ``manifest``."""
    try:
        current = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        time.sleep(0.05)  # mid-swap: the directory is briefly absent
        return True
    return not isinstance(current, dict) or current.get("bundle_id") != manifest["bundle_id"]


def _load_verified(path: Path, manifest: dict[str, Any]) -> Bundle:
    """Check every file against ``manifest``, then read ids, histories and recommender."""
    verify_files(path, manifest)
    user_ids = _read_ids(path, "ids/users.json", manifest["counts"]["users"])
    item_ids = _read_ids(path, "ids/items.json", manifest["counts"]["items"])
    history = _read_history(path, len(user_ids))
    log = Interactions(
        user_ids=user_ids, item_ids=item_ids,
        users=np.repeat(np.arange(len(user_ids), dtype=INDEX_DTYPE), history.lengths()),
        items=history.items, timestamps=history.timestamps, weights=history.weights,
    )
    side = _read_side(path)
    try:
        recommender = Recommender.load(path / "recommender", log, side)
    except BundleError:
        raise
    except Exception as exc:
        raise BundleError(
            f"model bundle {path}: could not rebuild the recommender from recommender/: "
            f"{type(exc).__name__}: {exc} (hint: was it written by another recfusion version?)"
        ) from exc
    return Bundle(
        path=path, manifest=manifest, recommender=recommender,
        user_ids=user_ids, item_ids=item_ids, history=history, log=log, side=side,
        user_lookup=lookup_table(user_ids), item_lookup=lookup_table(item_ids),
    )


def _read_ids(path: Path, rel: str, expected: int) -> np.ndarray:
    """A JSON array of ``expected`` strings as an object array."""
    values = json.loads((path / rel).read_text(encoding="utf-8"))
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise BundleError(f"model bundle {path}: file {rel} must be a JSON array of strings")
    if len(values) != expected:
        raise BundleError(
            f"model bundle {path}: file {rel} holds {len(values)} ids; "
            f"{MANIFEST} expects {expected}"
        )
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _read_history(path: Path, n_users: int) -> Histories:
    """Training histories from ``history/*.npy`` (pickle refused)."""
    arrays = {
        name: np.load(path / "history" / f"{name}.npy", allow_pickle=False)
        for name in _HISTORY_ARRAYS
    }
    indptr = arrays["indptr"]
    if indptr.shape != (n_users + 1,) or int(indptr[-1]) != arrays["items"].shape[0]:
        raise BundleError(
            f"model bundle {path}: file history/indptr.npy has shape {indptr.shape}; "
            f"expected ({n_users + 1},) ending at the number of history items"
        )
    return Histories(**arrays)


__all__ = ["Bundle", "FORMAT_VERSION", "load_bundle", "save_bundle"]
