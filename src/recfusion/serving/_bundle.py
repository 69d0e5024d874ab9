"""The model bundle: a fitted :class:`Recommender` plus everything serving needs, on disk.

Layout of a bundle directory (no pickle anywhere; every file is JSON, UTF-8 text, ``.npy``,
``.npz`` or an index file written by a strategy's own ``save``)::

    manifest.json          format version, versions, config, fingerprint, file checksums
    config.toml            the run configuration (absent when built without one)
    ids/users.json         user ids by index, a JSON array of strings
    ids/items.json         item ids by index, a JSON array of strings
    history/*.npy          training histories in CSR layout (indptr, items, timestamps, weights)
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
import os
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

import recfusion
from recfusion._io import atomic_directory
from recfusion.config import RunConfig
from recfusion.data import Histories, Interactions, lookup_table
from recfusion.errors import BundleError
from recfusion.pipeline import Recommender

logger = logging.getLogger(__name__)

FORMAT = "recfusion-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_HISTORY_ARRAYS = ("indptr", "items", "timestamps", "weights")
_CHUNK = 1 << 20
_ATTEMPTS = 3


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
    """

    path: Path
    manifest: dict[str, Any]
    recommender: Recommender
    user_ids: np.ndarray
    item_ids: np.ndarray
    history: Histories
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
        manifest = _manifest(staging, interactions, recommender, config, fingerprint)
        (staging / MANIFEST).write_text(_dumps(manifest), encoding="utf-8")
        _fsync_tree(staging)
    _fsync_directory(target.parent)
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
    files = {rel: _file_entry(staging / rel) for rel in _list_files(staging)}
    digest = hashlib.sha256(_dumps(files).encode("utf-8")).hexdigest()
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


def _list_files(root: Path) -> list[str]:
    """Relative POSIX paths of every regular file under ``root`` except the manifest."""
    found = []
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            rel = (Path(dirpath) / name).relative_to(root).as_posix()
            if rel != MANIFEST:
                found.append(rel)
    return sorted(found)


def _file_entry(path: Path) -> dict[str, Any]:
    return {"sha256": _sha256(path), "bytes": path.stat().st_size}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _dumps(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def _fsync_tree(root: Path) -> None:
    """Flush every file and directory under ``root`` to disk before the rename."""
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            with open(Path(dirpath) / name, "rb") as handle:
                os.fsync(handle.fileno())
        _fsync_directory(Path(dirpath))


def _fsync_directory(path: Path) -> None:
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


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
    try:
        recommender = Recommender.load(path / "recommender")
    except BundleError:
        raise
    except Exception as exc:
        raise BundleError(
            f"model bundle {path}: could not rebuild the recommender from recommender/: "
            f"{type(exc).__name__}: {exc} (hint: was it written by another recfusion version?)"
        ) from exc
    return Bundle(
        path=path, manifest=manifest, recommender=recommender,
        user_ids=user_ids, item_ids=item_ids, history=history,
        user_lookup=lookup_table(user_ids), item_lookup=lookup_table(item_ids),
    )


def read_manifest(path: Path) -> dict[str, Any]:
    """Parse and check ``manifest.json`` of the bundle at ``path``."""
    if not path.is_dir():
        aside = path.with_name(f".{path.name}.old")
        hint = (
            f" (hint: a save was interrupted; the previous bundle is at {aside})"
            if aside.is_dir() else " (hint: create one with `recfusion train --out ...`)"
        )
        raise BundleError(f"model bundle: directory {path} does not exist{hint}")
    manifest_path = path / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError(
            f"model bundle {path}: file {MANIFEST} is missing; expected a directory written "
            "by `recfusion train`"
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(
            f"model bundle {path}: file {MANIFEST} is not valid UTF-8 JSON ({exc}); "
            "the bundle is truncated or was modified"
        ) from None
    _check_format(path, manifest)
    return manifest


def _check_format(path: Path, manifest: Any) -> None:
    """Refuse manifests of another format or version."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(
            f"model bundle {path}: file {MANIFEST} does not describe a {FORMAT!r}; "
            f"received format {manifest.get('format') if isinstance(manifest, dict) else None!r}"
        )
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise BundleError(
            f"model bundle {path}: file {MANIFEST} has format_version {version!r}; this "
            f"recfusion ({recfusion.__version__}) reads version {FORMAT_VERSION} "
            "(hint: retrain with `recfusion train`)"
        )
    for key in ("files", "counts", "bundle_id"):
        if key not in manifest:
            raise BundleError(f"model bundle {path}: file {MANIFEST} lacks the key {key!r}")
    if manifest.get("recfusion_version") != recfusion.__version__:
        logger.warning(
            "bundle %s was written by recfusion %s; this is %s",
            path, manifest.get("recfusion_version"), recfusion.__version__,
        )


def verify_files(path: Path, manifest: dict[str, Any]) -> None:
    """Check size and sha256 of every listed file and refuse unlisted ones."""
    listed: dict[str, Any] = manifest["files"]
    for rel, entry in sorted(listed.items()):
        _verify_one(path, rel, entry)
    extra = sorted(set(_list_files(path)) - set(listed))
    if extra:
        raise BundleError(
            f"model bundle {path}: file {extra[0]} is not listed in {MANIFEST}; "
            "expected only the files written by `recfusion train` (the bundle was modified)"
        )


def _verify_one(path: Path, rel: str, entry: dict[str, Any]) -> None:
    """Raise BundleError naming ``rel`` when it is missing, resized or modified."""
    file = path / rel
    if Path(rel).is_absolute() or ".." in Path(rel).parts:
        raise BundleError(f"model bundle {path}: {MANIFEST} lists an unsafe path {rel!r}")
    if not file.is_file():
        raise BundleError(f"model bundle {path}: file {rel} listed in {MANIFEST} is missing")
    size = file.stat().st_size
    if size != entry["bytes"]:
        raise BundleError(
            f"model bundle {path}: file {rel} is truncated or was modified: expected "
            f"{entry['bytes']} bytes, found {size}"
        )
    digest = _sha256(file)
    if digest != entry["sha256"]:
        raise BundleError(
            f"model bundle {path}: file {rel} was modified: expected sha256 "
            f"{entry['sha256'][:16]}..., found {digest[:16]}... (hint: retrain the bundle)"
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
