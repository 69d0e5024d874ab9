"""The one interface every recall strategy implements.

A strategy is fitted once on training interactions (plus optional side information) and
then answers batches of *query histories*: for each row, a time-ordered list of item
indices the user interacted with, it returns up to ``n`` scored candidate items, best first.

Working on histories rather than on user indices means the same fitted strategy serves
offline evaluation (histories taken from the training log), known users online (history
plus live events) and anonymous session users (a list of recent items) alike.

Contract, checked for every strategy by ``tests/test_strategy_contract.py``:

* ``recommend`` returns a :class:`~recfusion.data.Candidates` with exactly one row per
  query row, at most ``n`` distinct items per row, scores non-increasing within a row, and
  only finite scores.
* With ``exclude_seen=True`` (the default) no row contains an item of its own history.
* A row with an empty history is allowed; a strategy that cannot score it returns an empty
  row (popularity fills it later).
* Results are deterministic for a fixed configuration and seed.
* ``save`` writes only arrays, JSON and index files into a directory (never pickle), and
  ``load`` on that directory gives a strategy whose ``recommend`` returns the same result.
* ``n`` larger than the catalogue is allowed and returns every eligible item.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import polars as pl

from recfusion.data._types import Candidates, Histories, Interactions
from recfusion.errors import NotFittedError


@dataclass(frozen=True, eq=False)
class SideInfo:
    """Optional information beyond the log, aligned to the run's id spaces.

    Parameters
    ----------
    items : polars.DataFrame or None
        One row per catalogue item, in item-index order (row i describes item i), with an
        ``item_id`` column and any metadata (for MovieLens: ``title``, ``year``, ``genres`` as
        a list of strings). Unknown values are null.
    users : polars.DataFrame or None
        One row per user, in user-index order, with a ``user_id`` column and attributes.
    item_vectors : ndarray of float32, shape (n_items, dim), or None
        Supplied item embeddings, one row per item index; rows of NaN mean "no vector".
    """

    items: pl.DataFrame | None = None
    users: pl.DataFrame | None = None
    item_vectors: np.ndarray | None = None


class Strategy(ABC):
    """Base class of recall strategies; see the module docstring for the contract."""

    #: Registry key used in configs and reports (for example ``"itemcf"``).
    kind: ClassVar[str] = ""

    def __init__(self, name: str | None = None) -> None:
        self.name = name or self.kind
        self.n_items_: int | None = None

    @abstractmethod
    def fit(self, train: Interactions, side: SideInfo | None = None) -> Strategy:
        """Learn from ``train``; returns ``self``."""

    @abstractmethod
    def recommend(
        self, histories: Histories, n: int, *, exclude_seen: bool = True
    ) -> Candidates:
        """Up to ``n`` scored candidates for each history row, best first."""

    @abstractmethod
    def params(self) -> dict[str, Any]:
        """The configuration needed to rebuild this strategy (JSON-serialisable)."""

    @abstractmethod
    def _save_arrays(self) -> dict[str, np.ndarray]:
        """Fitted state as named numeric arrays."""

    @abstractmethod
    def _load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore fitted state from ``_save_arrays`` output."""

    def check_fitted(self) -> None:
        if self.n_items_ is None:
            raise NotFittedError(
                f"strategy {self.name!r} ({self.kind}) is not fitted: call fit() first"
            )

    def save(self, directory: Path) -> list[Path]:
        """Write fitted state into ``directory``; returns the files written."""
        self.check_fitted()
        directory.mkdir(parents=True, exist_ok=True)
        arrays = self._save_arrays()
        arrays["n_items"] = np.array([self.n_items_], dtype=np.int64)
        array_path = directory / "arrays.npz"
        np.savez(array_path, **arrays)
        meta_path = directory / "strategy.json"
        meta = {"kind": self.kind, "name": self.name, "params": self.params()}
        meta_path.write_text(json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8")
        return [array_path, meta_path, *self._save_extra(directory)]

    def _save_extra(self, directory: Path) -> list[Path]:
        """Hook for non-array files such as FAISS indexes; none by default."""
        return []

    def _load_extra(self, directory: Path) -> None:
        """Restore what ``_save_extra`` wrote; nothing by default."""

    @classmethod
    def load(cls, directory: Path) -> Strategy:
        """Rebuild a fitted strategy from ``save`` output (no pickle is ever read)."""
        meta = json.loads((directory / "strategy.json").read_text(encoding="utf-8"))
        strategy = cls(name=meta["name"], **meta["params"])
        with np.load(directory / "arrays.npz", allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
        strategy.n_items_ = int(arrays.pop("n_items")[0])
        strategy._load_arrays(arrays)
        strategy._load_extra(directory)
        return strategy


def mask_seen(scores: np.ndarray, histories: Histories) -> None:
    """Set scores of each row's own history items to -inf, in place.

    ``scores`` has shape (n_rows, n_items).
    """
    rows = np.repeat(np.arange(histories.n_rows), histories.lengths())
    scores[rows, histories.items] = -np.inf


def top_n_dense(scores: np.ndarray, n: int) -> Candidates:
    """Best ``n`` finite entries of each row of a dense (n_rows, n_items) score matrix.

    Equal scores are ordered by lower item index among the selected items; the result
    is deterministic for a given input.
    """
    n_rows, n_items = scores.shape
    n = min(n, n_items)
    if n == 0 or n_rows == 0:
        return Candidates.empty(n_rows)
    if n < n_items:
        part = np.argpartition(-scores, n - 1, axis=1)[:, :n]
    else:
        part = np.tile(np.arange(n_items), (n_rows, 1))
    part_scores = np.take_along_axis(scores, part, axis=1)
    # Sort by score descending, then item index ascending.
    order = np.lexsort((part, -part_scores), axis=1)
    items = np.take_along_axis(part, order, axis=1)
    best = np.take_along_axis(part_scores, order, axis=1)
    items = np.where(np.isfinite(best), items, -1)
    return Candidates.from_dense(items, np.where(np.isfinite(best), best, 0.0))


__all__ = ["SideInfo", "Strategy", "mask_seen", "top_n_dense"]
