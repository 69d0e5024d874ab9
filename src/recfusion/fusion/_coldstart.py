"""Popularity within user segments, for users with no history (and for padding).

Each attribute (for MovieLens: age band, gender, occupation) splits users into segments.
An item's score for a user is the mean over attributes of its shrunk share in the user's
segment: ``(users in segment with the item + shrinkage * global share) / (segment size +
shrinkage)``. Small segments therefore lean on global popularity, and a null attribute
uses the global share alone.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import scipy.sparse as sp

from recfusion import _io
from recfusion.columns import USER_ID
from recfusion.data._types import Candidates, Histories, Interactions
from recfusion.errors import InputError, NotFittedError
from recfusion.fusion._common import history_slice
from recfusion.recall._base import SideInfo, mask_seen, top_n_dense

logger = logging.getLogger(__name__)

#: Lower edges of the age bands (MovieLens-1M convention): under 18, 18-24, ..., 56+.
AGE_BANDS: tuple[float, ...] = (18.0, 25.0, 35.0, 45.0, 50.0, 56.0)
_ROW_CHUNK = 1024


class SegmentPopularity:
    """Popularity per user segment, blended with global popularity.

    Parameters
    ----------
    columns : sequence of str, optional
        Attributes of ``side.users`` to segment by; default: every column except
        ``user_id`` with 2 to ``max_levels`` distinct values (after banding), which for
        MovieLens-100K is ``age_band``, ``gender`` and ``occupation``.
    numeric_bands : dict of str to edges, optional
        Numeric columns cut into bands at these edges, for example
        ``{"age": AGE_BANDS}`` when the table has raw ages only (default: none); other
        columns are used as categories.
    max_levels : int
        Largest number of distinct values of a default column (default 30).
    shrinkage : float
        Pseudo-count pulling small segments towards global popularity (default 20).
    """

    def __init__(
        self,
        columns: Sequence[str] | None = None,
        numeric_bands: dict[str, Sequence[float]] | None = None,
        shrinkage: float = 20.0,
        max_levels: int = 30,
    ) -> None:
        self.columns = list(columns) if columns is not None else None
        self.numeric_bands = dict(numeric_bands or {})
        self.max_levels = max_levels
        self.shrinkage = float(shrinkage)
        self.codes_: np.ndarray | None = None
        self.tables_: list[np.ndarray] | None = None
        self.global_: np.ndarray | None = None
        self.n_items_: int | None = None

    def fit(self, train: Interactions, side: SideInfo | None) -> SegmentPopularity:
        """Count each segment's users per item in ``train``; ``side.users`` gives segments."""
        users = side.users if side is not None else None
        self.n_users_ = train.n_users
        columns = self._columns(users)
        self.codes_ = np.column_stack(
            [_segment_codes(users, c, self.numeric_bands.get(c)) for c in columns]
        ) if columns else np.zeros((train.n_users, 0), dtype=np.int64)
        seen = train.binary_matrix()
        active = max(int((train.history_lengths() > 0).sum()), 1)
        self.global_ = np.asarray(seen.sum(axis=0)).ravel() / active
        self.tables_ = [self._table(seen, self.codes_[:, j]) for j in range(len(columns))]
        self.n_items_ = train.n_items
        self.fitted_columns_ = columns
        logger.info(
            "fitted segment popularity on %s (%d segments)",
            columns, sum(table.shape[0] for table in self.tables_),
        )
        return self

    def _columns(self, users: pl.DataFrame | None) -> list[str]:
        """Attribute columns to use; checks that requested ones exist."""
        if users is None:
            if self.columns:
                raise InputError(
                    f"SegmentPopularity: columns {self.columns} requested but side.users is "
                    "None; expected a user attribute table (hint: configure data.users)"
                )
            return []
        if users.height != self.n_users_:
            raise InputError(
                f"SegmentPopularity: side.users has {users.height} rows but the log has "
                f"{self.n_users_} users; expected one row per user in user-index order"
            )
        chosen = self.columns or [c for c in users.columns if self._default_column(users, c)]
        missing = sorted(set(chosen) - set(users.columns))
        if missing:
            raise InputError(
                f"SegmentPopularity: columns {missing} are not in side.users; available: "
                f"{users.columns}"
            )
        return chosen

    def _default_column(self, users: pl.DataFrame, column: str) -> bool:
        """True for a non-id column with 2 to ``max_levels`` distinct (banded) values."""
        if column == USER_ID:
            return False
        codes = _segment_codes(users, column, self.numeric_bands.get(column))
        return 2 <= np.unique(codes[codes >= 0]).shape[0] <= self.max_levels

    def _table(self, seen: sp.csr_matrix, codes: np.ndarray) -> np.ndarray:
        """Shrunk item shares per segment, shape (n_segments, n_items); code -1 = null."""
        n_segments = int(codes.max(initial=-1)) + 1
        known = np.flatnonzero(codes >= 0)
        member = sp.csr_matrix(
            (np.ones(known.shape[0]), (codes[known], known)),
            shape=(n_segments, seen.shape[0]),
        )
        counts = np.asarray((member @ seen).todense())
        sizes = np.asarray(member.sum(axis=1)).reshape(-1, 1) + self.shrinkage
        blended = counts + self.shrinkage * self.global_
        # A segment with no user and no shrinkage falls back to the global shares.
        return np.where(sizes > 0, blended / np.where(sizes > 0, sizes, 1.0), self.global_)

    def scores(self, users: np.ndarray) -> np.ndarray:
        """Dense (len(users), n_items) blended scores of the given user indices."""
        if self.tables_ is None:
            raise NotFittedError("SegmentPopularity is not fitted: call fit() first")
        total = np.zeros((users.shape[0], self.n_items_))
        for column, table in enumerate(self.tables_):
            codes = self.codes_[users, column]
            total += np.where((codes >= 0)[:, None], table[np.maximum(codes, 0)], self.global_)
        parts = max(len(self.tables_), 1)
        return total / parts if self.tables_ else total + self.global_

    def recommend(
        self, histories: Histories, n: int, *, users: np.ndarray, exclude_seen: bool = True
    ) -> Candidates:
        """Top ``n`` items per row for the user index of each row (``users[r]``)."""
        users = np.asarray(users, dtype=np.int64)
        if users.shape[0] != histories.n_rows:
            raise InputError(
                f"SegmentPopularity.recommend: 'users' has {users.shape[0]} entries but "
                f"'histories' has {histories.n_rows} rows; expected one user per row"
            )
        parts = []
        for start in range(0, histories.n_rows, _ROW_CHUNK):
            rows = np.arange(start, min(start + _ROW_CHUNK, histories.n_rows))
            scores = self.scores(users[rows])
            scores[scores <= 0] = -np.inf
            if exclude_seen:
                mask_seen(scores, history_slice(histories, rows[0], rows[-1] + 1))
            parts.append(top_n_dense(scores, n).to_dense(n))
        if not parts:
            return Candidates.empty(0)
        return Candidates.from_dense(*(np.concatenate(p) for p in zip(*parts)))

    def filler_for(self, users: np.ndarray) -> RowFiller:
        """A :func:`finalize` filler bound to the user index of each query row."""
        return RowFiller(self, np.asarray(users, dtype=np.int64))

    def save(self, directory: Path) -> list[Path]:
        """Write fitted arrays (npz) and settings (JSON); never pickle."""
        if self.tables_ is None:
            raise NotFittedError("SegmentPopularity is not fitted: call fit() first")
        arrays = {"codes": self.codes_, "global": self.global_}
        arrays.update({f"table_{i}": table for i, table in enumerate(self.tables_)})
        meta = {"columns": self.fitted_columns_, "shrinkage": self.shrinkage,
                "numeric_bands": {k: list(v) for k, v in self.numeric_bands.items()},
                "n_items": self.n_items_}
        array_path, meta_path = directory / "segments.npz", directory / "segments.json"
        _io.write_with(array_path, lambda path: _savez(path, arrays))
        _io.write_text(meta_path, json.dumps(meta, indent=2, sort_keys=True))
        return [array_path, meta_path]

    @classmethod
    def load(cls, directory: Path) -> SegmentPopularity:
        """Rebuild from :meth:`save` output."""
        meta = json.loads((directory / "segments.json").read_text(encoding="utf-8"))
        model = cls(meta["columns"], meta["numeric_bands"], meta["shrinkage"])
        with np.load(directory / "segments.npz", allow_pickle=False) as data:
            model.codes_, model.global_ = data["codes"], data["global"]
            model.tables_ = [data[f"table_{i}"] for i in range(len(meta["columns"]))]
        model.n_items_, model.fitted_columns_ = int(meta["n_items"]), meta["columns"]
        return model


@dataclass(frozen=True, eq=False)
class RowFiller:
    """:class:`SegmentPopularity` bound to one user per query row (a ``finalize`` filler)."""

    model: SegmentPopularity
    users: np.ndarray

    @property
    def n_items_(self) -> int | None:
        return self.model.n_items_

    def recommend(self, histories: Histories, n: int, *, exclude_seen: bool = True) -> Candidates:
        return self.model.recommend(histories, n, users=self.users, exclude_seen=exclude_seen)


def _savez(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """``np.savez`` to an exact path (numpy would append .npz to a temporary name)."""
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


def _segment_codes(
    users: pl.DataFrame, column: str, bands: Sequence[float] | None
) -> np.ndarray:
    """Integer segment code per user (-1 for null), bands for banded numeric columns."""
    values = users.get_column(column)
    if bands is not None:
        numeric = values.cast(pl.Float64, strict=False).to_numpy()
        codes = np.searchsorted(np.asarray(bands, dtype=np.float64), numeric, side="right")
        return np.where(np.isnan(numeric), -1, codes).astype(np.int64)
    text = values.cast(pl.Utf8)
    labels = sorted(set(text.drop_nulls().to_list()))
    code = {label: index for index, label in enumerate(labels)}
    return np.array([code.get(v, -1) if v is not None else -1 for v in text.to_list()])


__all__ = ["AGE_BANDS", "RowFiller", "SegmentPopularity"]
