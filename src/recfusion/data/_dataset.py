"""Loading a dataset: the interaction log, optional side files, counts and a fingerprint.

The log is read column by column as strings (see :mod:`recfusion.data._readers`), cleaned
with the policies of :mod:`recfusion.data._parse`, and indexed: users and items get indices
in order of first appearance in the cleaned log, followed by ids known only from the users
or item metadata file, then (items) ids known only from the ``data.item_vectors`` file:
cold-start users and items, which have no interaction.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from recfusion.columns import ITEM_ID, USER_ID
from recfusion.config import DataConfig
from recfusion.data._parse import (
    DROP_REASONS,
    ITEM,
    STRENGTH,
    TIME,
    USER,
    check_ids,
    drop_blank_lines,
    parse_timestamps,
    parse_weights,
    policy_mask,
)
from recfusion.data._readers import ReadSpec, check_columns, fail, read_header, read_table
from recfusion.data._readers import resolve_spec
from recfusion.data._side import align, id_space, metadata_spec, read_metadata
from recfusion.data._types import INDEX_DTYPE, Interactions, lookup_table

if TYPE_CHECKING:
    from recfusion.recall._base import SideInfo

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class LoadStats:
    """Counts of one load, for the log and the run report.

    Parameters
    ----------
    rows_read : int
        Data records read from the interaction file (blank lines included).
    rows_kept : int
        Interactions kept; ``rows_read == rows_kept + sum(dropped.values())``.
    n_users, n_items : int
        Sizes of the id spaces, cold-start ids from the side files included.
    dropped : dict of str to int
        Rows dropped per reason: ``blank_line``, ``missing_timestamp``, ``duplicate``,
        ``zero_weight``, ``negative_weight`` (see :mod:`recfusion.data._parse`).
    cold_users, cold_items : int
        Ids known only from the users file / item metadata or vector file (no interaction).
    duplicate_metadata : int
        Repeated ids in the side files (first row kept).
    time_source : str
        ``"column <name>"`` or ``"input order"`` when the log has no timestamp column.
    files : tuple of str
        Every file read, interactions first.
    seconds : float
        Wall time of the load.
    """

    rows_read: int
    rows_kept: int
    n_users: int
    n_items: int
    dropped: dict[str, int] = field(default_factory=dict)
    cold_users: int = 0
    cold_items: int = 0
    duplicate_metadata: int = 0
    time_source: str = "input order"
    files: tuple[str, ...] = ()
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (lists instead of tuples)."""
        data = dataclasses.asdict(self)
        data["files"] = list(self.files)
        data["dropped"] = dict(self.dropped)
        return data


@dataclass(frozen=True, eq=False)
class Dataset:
    """A loaded dataset: interactions over fixed id spaces, side information and provenance.

    Parameters
    ----------
    name : str
        ``"movielens-100k"`` or the stem of the interaction file.
    interactions : Interactions
        The cleaned log. Every kept row has weight 1.0 unless a weight column is configured.
    side : SideInfo
        ``items``/``users`` frames in item/user index order (None when no such file) and
        ``item_vectors`` (n_items, dim) float32 with NaN rows for items without a vector.
    stats : LoadStats
        Counts of the load.
    fingerprint : str
        Hex sha256 of the interaction file's bytes when it is the only file; with side
        files, the sha256 of the newline-joined hex sha256 digests of every file, in the
        order interactions, items, users, item vectors (reproducible with ``sha256sum``).
        The id file beside a ``.npy`` vector file is not included.
    """

    name: str
    interactions: Interactions
    side: SideInfo
    stats: LoadStats
    fingerprint: str


def load_dataset(config: DataConfig) -> Dataset:
    """Load the built-in dataset or the files named by ``config``.

    Parameters
    ----------
    config : DataConfig
        ``dataset`` (a built-in name) or ``interactions`` plus optional ``items``/``users``.

    Raises
    ------
    InputError
        A file, column, row or value cannot be used; the message names the file, line,
        column and value and says how to fix it.
    MissingDependencyError
        The built-in dataset's package is not installed.
    """
    if config.dataset is not None:
        from recfusion.data._builtin import load_builtin

        return load_builtin(config.dataset)
    return load_files(config)


def load_files(config: DataConfig, name: str | None = None) -> Dataset:
    """Load user files (interactions plus optional item and user files); see load_dataset."""
    from recfusion.recall._base import SideInfo  # deferred: recall imports heavy libraries

    started = time.perf_counter()
    if config.interactions is None:
        raise ValueError("load_files needs data.interactions; use load_dataset for built-ins")
    spec = resolve_spec(Path(config.interactions), config.format, config.delimiter)
    log = _read_log(spec, config)
    items_meta, items_spec, item_dups = _side_file(config, "items")
    users_meta, users_spec, user_dups = _side_file(config, "users")
    user_ids = id_space(log.user_ids, users_meta, USER_ID)
    item_ids = id_space(log.item_ids, items_meta, ITEM_ID)
    item_ids, vectors = _attach_vectors(config, item_ids)
    interactions = Interactions.from_arrays(
        user_ids, item_ids, log.users, log.items, log.times, log.weights
    )
    side = SideInfo(
        items=align(item_ids, items_meta, ITEM_ID),
        users=align(user_ids, users_meta, USER_ID),
        item_vectors=vectors,
    )
    paths = [s.path for s in (spec, items_spec, users_spec) if s is not None]
    if config.item_vectors is not None:
        paths.append(Path(config.item_vectors))
    stats = LoadStats(
        rows_read=log.rows_read,
        rows_kept=interactions.n_interactions,
        n_users=interactions.n_users,
        n_items=interactions.n_items,
        dropped=log.dropped,
        cold_users=len(user_ids) - log.user_ids.len(),
        cold_items=len(item_ids) - log.item_ids.len(),
        duplicate_metadata=item_dups + user_dups,
        time_source=_time_source(config),
        files=tuple(str(path) for path in paths),
        seconds=time.perf_counter() - started,
    )
    _log_stats(name or spec.path.stem, stats)
    fingerprint = fingerprint_files(paths)
    return Dataset(name or spec.path.stem, interactions, side, stats, fingerprint)


@dataclass(frozen=True, eq=False)
class _CleanLog:
    """The kept rows as codes into ``user_ids``/``item_ids`` (kept ids, first-seen order)."""

    users: np.ndarray
    items: np.ndarray
    times: np.ndarray | None
    weights: np.ndarray
    user_ids: pl.Series
    item_ids: pl.Series
    rows_read: int
    dropped: dict[str, int]


def _read_log(spec: ReadSpec, config: DataConfig) -> _CleanLog:
    """Read, validate and clean the interaction file (see the policies in ``_parse``)."""
    wanted = _wanted_columns(spec, config)
    check_columns(spec, read_header(spec), wanted)
    names = list(wanted.values())
    frame = read_table(spec, names)
    rows_read = frame.height
    frame = drop_blank_lines(frame, spec, names)
    _require_rows(spec, frame.height)
    columns = config.columns
    check_ids(frame, spec, columns.user, "data.columns.user")
    check_ids(frame, spec, columns.item, "data.columns.item")
    timed = columns.timestamp is not None
    user_vocab, user_codes = _encode(frame[columns.user])
    item_vocab, item_codes = _encode(frame[columns.item])
    table = pl.DataFrame(
        {
            USER: user_codes,
            ITEM: item_codes,
            TIME: parse_timestamps(frame, spec, columns.timestamp) if timed else None,
            STRENGTH: _weights(frame, spec, columns.weight),
        },
        schema_overrides={TIME: pl.Float64},
    )
    keep, dropped = policy_mask(table, timed)
    dropped = {"blank_line": rows_read - frame.height, **dropped}
    if not keep.any():
        raise fail(
            spec,
            f"no interaction is left after dropping rows ({_reasons(dropped)})",
            "check the weight and timestamp columns (zero or negative weights are dropped)",
        )
    users, user_ids = _compact(user_codes.to_numpy()[keep], user_vocab)
    items, item_ids = _compact(item_codes.to_numpy()[keep], item_vocab)
    times = table[TIME].to_numpy()[keep] if timed else None
    weights = table[STRENGTH].to_numpy()[keep]
    dropped = {reason: dropped.get(reason, 0) for reason in DROP_REASONS}
    return _CleanLog(users, items, times, weights, user_ids, item_ids, rows_read, dropped)


def _encode(values: pl.Series) -> tuple[pl.Series, pl.Series]:
    """Distinct values in first-seen order and the Int32 code of every value."""
    vocab = values.unique(maintain_order=True)
    codes = pl.Series(np.arange(vocab.len(), dtype=INDEX_DTYPE))
    return vocab, values.replace_strict(vocab, codes, return_dtype=pl.Int32)


def _compact(codes: np.ndarray, vocab: pl.Series) -> tuple[np.ndarray, pl.Series]:
    """Renumber kept codes 0..k-1 in first-seen order; returns new codes and their ids."""
    present = pl.Series(codes).unique(maintain_order=True).to_numpy()
    if np.array_equal(present, np.arange(vocab.len())):
        return codes, vocab
    remap = np.full(vocab.len(), -1, dtype=INDEX_DTYPE)
    remap[present] = np.arange(present.shape[0], dtype=INDEX_DTYPE)
    return remap[codes], vocab.gather(present)


def _attach_vectors(
    config: DataConfig, item_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray | None]:
    """Read ``data.item_vectors``; ids only in that file join the catalogue at its end."""
    if config.item_vectors is None:
        return item_ids, None
    from recfusion.data._vectors import read_item_vectors

    new_ids, matrix = read_item_vectors(Path(config.item_vectors), lookup_table(item_ids))
    extended = np.concatenate([item_ids, np.asarray(new_ids, dtype=object)])
    return extended, matrix


def _wanted_columns(spec: ReadSpec, config: DataConfig) -> dict[str, str]:
    """Config key -> column name for every configured column; rejects a column named twice."""
    columns = config.columns
    wanted = {"data.columns.user": columns.user, "data.columns.item": columns.item}
    if columns.timestamp is not None:
        wanted["data.columns.timestamp"] = columns.timestamp
    if columns.weight is not None:
        wanted["data.columns.weight"] = columns.weight
    if len(set(wanted.values())) < len(wanted):
        raise fail(
            spec,
            f"one column is configured for two fields ({wanted})",
            "give each of data.columns.user/item/timestamp/weight its own column",
        )
    return wanted


def _require_rows(spec: ReadSpec, count: int) -> None:
    if count == 0:
        raise fail(
            spec,
            "the file has a header but no data lines; expected at least one interaction",
            "check that the export finished and the right file is configured",
        )


def _weights(frame: pl.DataFrame, spec: ReadSpec, column: str | None) -> pl.Series:
    if column is None:
        return pl.Series(np.ones(frame.height), dtype=pl.Float64)
    return parse_weights(frame, spec, column)


def _reasons(dropped: dict[str, int]) -> str:
    parts = [f"{count} {reason}" for reason, count in dropped.items() if count]
    return ", ".join(parts) or "none"


def _side_file(
    config: DataConfig, role: str
) -> tuple[pl.DataFrame | None, ReadSpec | None, int]:
    """Read the ``items`` or ``users`` file of ``config`` when one is configured."""
    path = config.items if role == "items" else config.users
    if path is None:
        return None, None, 0
    spec = metadata_spec(Path(path), config, role)
    if role == "items":
        frame, dups = read_metadata(spec, config.item_id_col, "data.item_id_col", ITEM_ID, config)
    else:
        frame, dups = read_metadata(spec, config.user_id_col, "data.user_id_col", USER_ID, config)
    return frame, spec, dups


def _time_source(config: DataConfig) -> str:
    column = config.columns.timestamp
    return f"column {column}" if column is not None else "input order"


def fingerprint_files(paths: list[Path]) -> str:
    """sha256 of one file, or of the newline-joined sha256 hex digests of several."""
    digests = [_sha256(path) for path in paths]
    if len(digests) == 1:
        return digests[0]
    return hashlib.sha256("\n".join(digests).encode("ascii")).hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _log_stats(name: str, stats: LoadStats) -> None:
    logger.info(
        "loaded %s in %.2f s: %d rows read, %d kept, %d users (%d cold), %d items (%d cold), "
        "dropped: %s; time from %s",
        name,
        stats.seconds,
        stats.rows_read,
        stats.rows_kept,
        stats.n_users,
        stats.cold_users,
        stats.n_items,
        stats.cold_items,
        _reasons(stats.dropped),
        stats.time_source,
    )


__all__ = ["Dataset", "LoadStats", "fingerprint_files", "load_dataset", "load_files"]
