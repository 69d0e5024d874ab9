"""Batch scoring: a CSV of user ids in, a CSV of top-k item ids per user out."""

from __future__ import annotations

import csv
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recfusion import columns
from recfusion._io import atomic_open
from recfusion.errors import InputError
from recfusion.serving._bundle import Bundle, load_bundle
from recfusion.serving._scoring import history_rows, popular

logger = logging.getLogger(__name__)

#: Users scored per call of the recommender in batch mode.
BATCH_ROWS = 2048


@dataclass(frozen=True)
class BatchSummary:
    """What :func:`recommend_file` did: users scored, how many got popularity, seconds."""

    users: int
    unknown_users: int
    seconds: float
    out: Path


def read_user_ids(path: Path) -> list[str]:
    """User ids from a CSV with a header and one column (or a ``user_id`` column).

    Ids are kept exactly as written (UTF-8, an optional byte-order mark is dropped);
    empty ids are refused with their line number.
    """
    try:
        handle = open(path, encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise InputError(f"batch scoring: users file {path} does not exist") from None
    with handle:
        try:
            rows = list(csv.reader(handle))
        except (UnicodeDecodeError, csv.Error) as exc:
            raise InputError(f"batch scoring: users file {path} is not UTF-8 CSV: {exc}") from None
    if not rows:
        raise InputError(
            f"batch scoring: users file {path} is empty; expected a header line "
            f"('{columns.USER_ID}') and one user id per line"
        )
    column = _user_column(path, rows[0])
    ids = []
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(rows[0]) or not row[column]:
            raise InputError(
                f"batch scoring: users file {path}, line {line}: expected {len(rows[0])} "
                f"field(s) with a non-empty user id; received {row!r}"
            )
        ids.append(row[column])
    return ids


def _user_column(path: Path, header: list[str]) -> int:
    if len(header) == 1:
        return 0
    if columns.USER_ID in header:
        return header.index(columns.USER_ID)
    raise InputError(
        f"batch scoring: users file {path} has columns {header}; expected one column or a "
        f"'{columns.USER_ID}' column"
    )


def score_users(bundle: Bundle, user_ids: Sequence[str], k: int) -> tuple[np.ndarray, int]:
    """Top-``k`` item indices per user, shape (len(user_ids), k), -1 where none is left.

    Known users are scored from their training history by the fused recommender, in
    chunks of :data:`BATCH_ROWS`; unknown users get the popularity fallback. Returns the
    matrix and the number of unknown users.
    """
    if k <= 0:
        raise InputError(f"batch scoring: parameter k must be > 0; received {k}")
    index = np.fromiter(
        (bundle.user_lookup.get(user, -1) for user in user_ids), dtype=np.int64,
        count=len(user_ids),
    )
    result = np.full((index.shape[0], k), -1, dtype=np.int64)
    known = np.flatnonzero(index >= 0)
    for start in range(0, known.shape[0], BATCH_ROWS):
        rows = known[start : start + BATCH_ROWS]
        histories = history_rows(bundle.history, index[rows])
        items, _ = bundle.recommender.recommend(histories, k).to_dense(k)
        result[rows] = items
    unknown = np.flatnonzero(index < 0)
    if unknown.shape[0]:
        fallback = [bundle.item_lookup[item] for item in popular(bundle, k).item_ids]
        result[unknown, : len(fallback)] = fallback
    return result, int(unknown.shape[0])


def write_submission(
    out: Path, bundle: Bundle, user_ids: Sequence[str], items: np.ndarray, *, force: bool
) -> None:
    """Write ``user_id,item_1..item_k`` atomically; refuses an existing file without force."""
    if out.exists() and not force:
        raise InputError(
            f"batch scoring: output {out} already exists; refusing to overwrite it "
            "(hint: pass --force or choose another path)"
        )
    k = items.shape[1]
    names = np.append(bundle.item_ids, "")
    with atomic_open(out, "w") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([columns.USER_ID, *(f"item_{rank}" for rank in range(1, k + 1))])
        for user, row in zip(user_ids, items):
            writer.writerow([user, *names[row].tolist()])


def recommend_file(
    model: Path, users: Path, k: int, out: Path, *, force: bool = False
) -> BatchSummary:
    """Score every user of ``users`` (CSV) with the bundle at ``model`` into ``out`` (CSV).

    Parameters
    ----------
    model : Path
        Bundle directory written by ``recfusion train``.
    users : Path
        CSV with a header and one column of user ids.
    k : int
        Items per user (> 0).
    out : Path
        Output CSV ``user_id,item_1..item_k``, written atomically; cells stay empty only
        when fewer than ``k`` eligible items exist.
    force : bool
        Overwrite ``out`` when it exists (default False: refuse).
    """
    started = time.perf_counter()
    if out.exists() and not force:
        raise InputError(
            f"batch scoring: output {out} already exists; refusing to overwrite it "
            "(hint: pass --force or choose another path)"
        )
    user_ids = read_user_ids(users)
    bundle = load_bundle(model)
    items, unknown = score_users(bundle, user_ids, k)
    write_submission(out, bundle, user_ids, items, force=force)
    seconds = time.perf_counter() - started
    logger.info(
        "scored %d users (%d unknown, popularity) into %s in %.2f s",
        len(user_ids), unknown, out, seconds,
    )
    return BatchSummary(users=len(user_ids), unknown_users=unknown, seconds=seconds, out=out)


__all__ = ["BATCH_ROWS", "BatchSummary", "read_user_ids", "recommend_file", "score_users"]
