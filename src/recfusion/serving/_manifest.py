"""The bundle manifest: format constants, file checksums, verification and fsync helpers."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import recfusion
from recfusion.errors import BundleError

logger = logging.getLogger(__name__)

FORMAT = "recfusion-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_CHUNK = 1 << 20


def list_files(root: Path) -> list[str]:
    """Relative POSIX paths of every regular file under ``root`` except the manifest."""
    found = []
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            rel = (Path(dirpath) / name).relative_to(root).as_posix()
            if rel != MANIFEST:
                found.append(rel)
    return sorted(found)


def file_entry(path: Path) -> dict[str, Any]:
    """sha256 and size in bytes of one file."""
    return {"sha256": sha256_file(path), "bytes": path.stat().st_size}


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def dumps(value: Any) -> str:
    """Stable, readable JSON (sorted keys, non-ASCII kept)."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def fsync_tree(root: Path) -> None:
    """Flush every file and directory under ``root`` to disk before the rename."""
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            with open(Path(dirpath) / name, "rb") as handle:
                os.fsync(handle.fileno())
        fsync_directory(Path(dirpath))


def fsync_directory(path: Path) -> None:
    """Flush a directory entry (renames and new files in it) to disk."""
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


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
    extra = sorted(set(list_files(path)) - set(listed))
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
    digest = sha256_file(file)
    if digest != entry["sha256"]:
        raise BundleError(
            f"model bundle {path}: file {rel} was modified: expected sha256 "
            f"{entry['sha256'][:16]}..., found {digest[:16]}... (hint: retrain the bundle)"
        )


__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MANIFEST",
    "dumps",
    "file_entry",
    "fsync_directory",
    "fsync_tree",
    "list_files",
    "read_manifest",
    "sha256_file",
    "verify_files",
]
