"""Holding out test interactions: leave-last-out per user, or a global time cut.

Both splits keep the input's id spaces (no renumbering) and guarantee, for every user, that
no test interaction is earlier than one of the user's training interactions, and that no
(user, item) pair is in both train and test. Event order is (timestamp, input order): on
equal timestamps the row read later is the later event, as stored by
:class:`~recfusion.data.Interactions`.

The validation split is carved from the training part the same way:
``split_interactions(split.train, config, validation=True)``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from recfusion.config import SplitConfig
from recfusion.data._types import Interactions
from recfusion.errors import InputError

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Split:
    """Train and test logs over the input's user and item id spaces.

    Parameters
    ----------
    train, test : Interactions
        Disjoint subsets of the input rows.
    dropped : int
        Input rows in neither part (see each split function for which rows).
    cutoff : float or None
        The time cut of :func:`time_split`; None for leave-last-out.
    """

    train: Interactions
    test: Interactions
    dropped: int = 0
    cutoff: float | None = None


def leave_last_out(interactions: Interactions) -> Split:
    """Hold out each user's latest interaction with an item new to that user.

    The target of a user is their last interaction, in (timestamp, input order), whose item
    they had not interacted with before. Usually that is simply the last interaction; when
    the user's last events re-visit items seen earlier, those later re-visits would either
    share the target's pair with train or come after it, so they are dropped (counted in
    ``Split.dropped``) and the latest new-item interaction is the target. The user's rows
    before the target are training rows.

    A user whose only new-item interaction is their first one (for example a user with a
    single interaction) keeps every row in training and is not evaluated.

    Parameters
    ----------
    interactions : Interactions
        The log to split, shape (n_interactions,).

    Returns
    -------
    Split
        ``test`` has at most one row per user.
    """
    rows = np.arange(interactions.n_interactions)
    target = _latest_new_item_rows(interactions)
    starts = interactions.user_indptr[:-1]
    evaluated = target > starts
    row_target = target[interactions.users]
    row_evaluated = evaluated[interactions.users]
    test_mask = row_evaluated & (rows == row_target)
    train_mask = ~row_evaluated | (rows < row_target)
    dropped = int((~(train_mask | test_mask)).sum())
    split = Split(interactions.select(train_mask), interactions.select(test_mask), dropped)
    _check_evaluable(split, "leave_last_out", "no user has an interaction with a second item")
    _log_split("leave-last-out", split)
    return split


def _latest_new_item_rows(interactions: Interactions) -> np.ndarray:
    """Per user, the row of their latest first-time (user, item) interaction (-1 if none)."""
    keys = interactions.users.astype(np.int64) * interactions.n_items + interactions.items
    _, first_rows = np.unique(keys, return_index=True)
    target = np.full(interactions.n_users, -1, dtype=np.int64)
    np.maximum.at(target, interactions.users[first_rows], first_rows)
    return target


def time_split(
    interactions: Interactions, cutoff: float | None = None, test_fraction: float = 0.1
) -> Split:
    """Train on events before ``cutoff``, test on events at or after it.

    Parameters
    ----------
    interactions : Interactions
        The log to split.
    cutoff : float or None
        Time cut in the unit of the timestamps. None picks ``sorted_timestamps[n - n_test]``
        with ``n_test = max(1, round(n * test_fraction))`` (halves round up), so about
        ``test_fraction`` of the events are test (more when several events share the
        cutoff timestamp).
    test_fraction : float
        Used only when ``cutoff`` is None; in (0, 1).

    Notes
    -----
    Test rows whose (user, item) pair is already in train are removed, and a pair repeated
    within the test period keeps only its first event; both are counted in
    ``Split.dropped``. Test rows of users without training rows are kept: they are
    cold-start users, served from an empty history.
    """
    if cutoff is None:
        cutoff = quantile_cutoff(interactions.timestamps, test_fraction)
    before = interactions.timestamps < cutoff
    train = interactions.select(before)
    later = interactions.select(~before)
    keep = _new_pairs(later, train)
    split = Split(train, later.select(keep), int((~keep).sum()), float(cutoff))
    _check_evaluable(split, "time", f"cutoff {cutoff} leaves no training or no test events")
    _log_split(f"time split at {cutoff}", split)
    return split


def quantile_cutoff(timestamps: np.ndarray, test_fraction: float) -> float:
    """Timestamp leaving about ``test_fraction`` of the events at or after it."""
    if not 0 < test_fraction < 1:
        raise InputError(
            f"time split: test_fraction must be in (0, 1), received {test_fraction}. "
            "Fix: set split.test_fraction to e.g. 0.1"
        )
    count = timestamps.shape[0]
    if count == 0:
        raise InputError("time split: the log is empty. Fix: check the data stage counts")
    n_test = max(1, math.floor(count * test_fraction + 0.5))
    return float(np.sort(timestamps, kind="stable")[count - n_test])


def _new_pairs(later: Interactions, train: Interactions) -> np.ndarray:
    """Mask of ``later`` rows whose pair is absent from ``train`` and first within ``later``."""
    width = np.int64(later.n_items)
    train_keys = train.users.astype(np.int64) * width + train.items
    later_keys = later.users.astype(np.int64) * width + later.items
    first = np.zeros(later.n_interactions, dtype=bool)
    first[np.unique(later_keys, return_index=True)[1]] = True
    return first & ~np.isin(later_keys, train_keys)


def split_interactions(
    interactions: Interactions, config: SplitConfig, *, validation: bool = False
) -> Split:
    """Split with the method of ``config`` (``leave_last_out`` or ``time``).

    With ``validation=True`` (carving validation out of a training part) a time split
    ignores ``config.cutoff``, which lies after every training event, and uses the
    ``test_fraction`` quantile of the given log instead.
    """
    if config.method == "leave_last_out":
        return leave_last_out(interactions)
    cutoff = None if validation else config.cutoff
    return time_split(interactions, cutoff, config.test_fraction)


def _check_evaluable(split: Split, method: str, reason: str) -> None:
    if split.train.n_interactions and split.test.n_interactions:
        return
    raise InputError(
        f"split ({method}): {reason}: {split.train.n_interactions} train and "
        f"{split.test.n_interactions} test rows; expected both to be non-empty. "
        "Fix: use more data, another split.method, or another split.cutoff"
    )


def _log_split(label: str, split: Split) -> None:
    evaluated = np.flatnonzero(
        (split.test.history_lengths() > 0) & (split.train.history_lengths() > 0)
    )
    logger.info(
        "%s: %d train rows, %d test rows, %d dropped, %d users with train and test",
        label,
        split.train.n_interactions,
        split.test.n_interactions,
        split.dropped,
        evaluated.shape[0],
    )


__all__ = ["Split", "leave_last_out", "quantile_cutoff", "split_interactions", "time_split"]
