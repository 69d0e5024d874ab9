"""Channel diagnostics: what each channel finds, how channels overlap, what fusion gains."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl

from recfusion.columns import K, STRATEGY
from recfusion.data._types import Candidates
from recfusion.evaluation import accuracy_per_user
from recfusion.fusion._common import check_channels, row_ids, take_truth, truth_keys

#: Name of the fused list's row in :func:`channel_diagnostics`.
FUSION = "fusion"


def _keys(candidates: Candidates, width: int, k: int | None = None) -> np.ndarray:
    """Sorted (row * width + item) keys of a Candidates (its first ``k`` per row).

    Items within a row are distinct (the Candidates contract), so sorting suffices.
    """
    if k is not None:
        candidates = candidates.truncate(k)
    return np.sort(row_ids(candidates.indptr) * width + candidates.items.astype(np.int64))


def _member(keys: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    """Whether each of ``keys`` is in ``sorted_keys`` (binary search; no re-sorting)."""
    if sorted_keys.shape[0] == 0:
        return np.zeros(keys.shape[0], dtype=bool)
    position = np.minimum(np.searchsorted(sorted_keys, keys), sorted_keys.shape[0] - 1)
    return sorted_keys[position] == keys


def _per_row(keys: np.ndarray, width: int, n_rows: int) -> np.ndarray:
    """Number of keys per row."""
    return np.bincount(keys // width, minlength=n_rows)


def _channel_row(
    name: str, candidates: Candidates, truth: tuple[np.ndarray, np.ndarray], width: int, k: int
) -> dict[str, float | str | int]:
    """Hit rate and recall at the channel's own budget, and NDCG@k of its top k."""
    n_rows = candidates.n_rows
    keys, targets = _keys(candidates, width), truth_keys(*truth, width)
    hits = _per_row(keys[_member(keys, targets)], width, n_rows)
    n_truth = _per_row(targets, width, n_rows)
    recommended, _ = candidates.to_dense(k)
    return {
        STRATEGY: name,
        "budget": int(candidates.lengths().max(initial=0)),
        "hit_rate": float((hits > 0).mean()),
        "recall": float((hits / n_truth).mean()),
        "ndcg": float(accuracy_per_user(recommended, *truth, k)["ndcg"].mean()),
    }


def _shares(
    names: list[str], keys: Mapping[str, np.ndarray], fused_keys: np.ndarray
) -> tuple[dict[str, float], dict[str, float]]:
    """Share of fused top-k slots each channel returned, and returned alone."""
    member = np.column_stack([_member(fused_keys, keys[n]) for n in names])
    alone = member & (member.sum(axis=1, keepdims=True) == 1)
    total = max(fused_keys.shape[0], 1)
    share = {n: float(member[:, i].sum() / total) for i, n in enumerate(names)}
    exclusive = {n: float(alone[:, i].sum() / total) for i, n in enumerate(names)}
    return share, exclusive


def overlap_matrix(channels: Mapping[str, Candidates]) -> pl.DataFrame:
    """Mean over rows of the Jaccard index of two channels' candidate sets.

    Rows where both channels are empty are skipped for that pair. Returns a square table
    with a ``strategy`` column and one column per channel (sorted names).
    """
    names = check_channels(channels, "overlap_matrix")
    width = 1 + max(int(c.items.max(initial=0)) for c in channels.values())
    keys = {n: _keys(channels[n], width) for n in names}
    return _overlap(names, keys, width, channels[names[0]].n_rows)


def _overlap(names: list[str], keys: Mapping[str, np.ndarray], width: int, n_rows: int):
    """:func:`overlap_matrix` from precomputed sorted keys."""
    sizes = {n: _per_row(keys[n], width, n_rows) for n in names}
    table: dict[str, list] = {STRATEGY: names}
    for other in names:
        column = []
        for name in names:
            common = _per_row(keys[name][_member(keys[name], keys[other])], width, n_rows)
            union = sizes[name] + sizes[other] - common
            used = union > 0
            column.append(float((common[used] / union[used]).mean()) if used.any() else 0.0)
        table[other] = column
    return pl.DataFrame(table)


def channel_diagnostics(
    channels: Mapping[str, Candidates],
    fused: Candidates,
    truth_indptr: np.ndarray,
    truth_items: np.ndarray,
    k: int = 10,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per-channel diagnostics against held-out items, plus the overlap matrix.

    Parameters
    ----------
    channels : dict of str to Candidates
        Each channel's candidates at its own budget, same rows as ``fused``.
    fused : Candidates
        The final fused lists (their top ``k`` is analysed).
    truth_indptr, truth_items : ndarray
        Held-out items per row (CSR); rows without any are skipped.
    k : int
        Cut-off for NDCG and for the fused top-K shares (default 10).

    Returns
    -------
    table : polars.DataFrame
        One row per channel and a final ``fusion`` row: ``strategy``, ``k``, ``budget``,
        ``hit_rate`` and ``recall`` at the budget (any position), ``ndcg`` at k,
        ``share`` (fraction of fused top-k slots the channel also returned),
        ``exclusive_share`` (returned by no other channel), and ``gain`` (NDCG@k minus the
        best single channel's NDCG@k; positive on the fusion row when fusion helps).
    overlap : polars.DataFrame
        :func:`overlap_matrix` of the analysed rows.
    """
    names = check_channels(channels, "channel_diagnostics")
    rows = np.flatnonzero(np.diff(np.asarray(truth_indptr)) > 0)
    subset = {n: channels[n].take(rows) for n in names}
    top = fused.take(rows).truncate(k)
    truth = take_truth(truth_indptr, truth_items, rows)
    width = 1 + max(
        [int(c.items.max(initial=0)) for c in subset.values()]
        + [int(top.items.max(initial=0)), int(np.max(truth[1], initial=0))]
    )
    records = [_channel_row(n, subset[n], truth, width, k) for n in names]
    records.append(_channel_row(FUSION, top, truth, width, k))
    keys = {n: _keys(subset[n], width) for n in names}
    share, exclusive = _shares(names, keys, _keys(top, width))
    best = max(record["ndcg"] for record in records[:-1])
    for record in records:
        name = record[STRATEGY]
        record[K] = k
        record["share"] = share.get(name, 1.0)
        record["exclusive_share"] = exclusive.get(name, float("nan"))
        record["gain"] = record["ndcg"] - best
    columns = [STRATEGY, K, "budget", "hit_rate", "recall", "ndcg", "share",
               "exclusive_share", "gain"]
    return pl.DataFrame(records).select(columns), _overlap(names, keys, width, top.n_rows)


__all__ = ["FUSION", "channel_diagnostics", "overlap_matrix"]
