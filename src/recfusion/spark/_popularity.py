"""Popularity scores computed with Spark DataFrames, equal to ``recall.Popularity``."""

from __future__ import annotations

import logging
import time

import numpy as np
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import IntegralType

from recfusion.columns import ITEM_ID, SCORE, TIMESTAMP, USER_ID
from recfusion.errors import ConfigError, InputError

logger = logging.getLogger(__name__)


def popularity_frame(
    log: DataFrame, window: float | None = None, half_life: float | None = None
) -> DataFrame:
    """Popularity of every item of a log frame, as a DataFrame (nothing is collected).

    Parameters
    ----------
    log : DataFrame
        A log frame (``user_id``, ``item_id``, ``timestamp``).
    window : float or None, default None
        Count only rows at most ``window`` time units before the log's latest timestamp.
    half_life : float or None, default None
        Each user's vote for an item weighs ``0.5 ** (age / half_life)``, ``age`` being the
        time from that user's latest counted row with the item to the log's latest timestamp.

    Returns
    -------
    DataFrame
        Columns ``item_id`` and ``score`` (double): the number of distinct users, or the sum
        of their decayed votes. Items without a counted row are absent.
    """
    for name, value in (("window", window), ("half_life", half_life)):
        if value is not None and not value > 0:
            raise ConfigError(
                f"spark popularity: {name} must be > 0 or None, received {value!r}; "
                "hint: leave it unset to count every row"
            )
    latest = log.agg(F.max(TIMESTAMP).alias("_latest"))
    rows = log.crossJoin(F.broadcast(latest))
    if window is not None:
        rows = rows.where(F.col(TIMESTAMP) >= F.col("_latest") - F.lit(float(window)))
    votes = rows.groupBy(USER_ID, ITEM_ID).agg(
        F.max(TIMESTAMP).alias("_last"), F.max("_latest").alias("_latest")
    )
    vote = F.lit(1.0)
    if half_life is not None:
        age = F.col("_latest") - F.col("_last")
        vote = F.pow(F.lit(0.5), age / F.lit(float(half_life)))
    return votes.groupBy(ITEM_ID).agg(F.sum(vote).alias(SCORE))


def spark_popularity(
    log: DataFrame, n_items: int, window: float | None = None, half_life: float | None = None
) -> np.ndarray:
    """Popularity scores of a log frame with integer item indices, collected to the driver.

    Parameters
    ----------
    log : DataFrame
        A log frame from :func:`interactions_to_spark`.
    n_items : int
        Size of the item id space.
    window, half_life : float or None
        As in :func:`popularity_frame` and :class:`recfusion.recall.Popularity`.

    Returns
    -------
    ndarray of float64, shape (n_items,)
        Score of every item (0 for items without a counted row); equal, before the cast to
        float32, to what ``Popularity(window=..., half_life=...)`` learns from the same log.
    """
    if not isinstance(log.schema[ITEM_ID].dataType, IntegralType):
        raise InputError(
            f"spark_popularity: column {ITEM_ID!r} must hold integer item indices, received "
            f"{log.schema[ITEM_ID].dataType.simpleString()}; hint: build the frame with "
            "interactions_to_spark, or use popularity_frame for string ids"
        )
    started = time.perf_counter()
    table = popularity_frame(log, window, half_life).toArrow()
    items = table.column(ITEM_ID).to_numpy().astype(np.int64)
    if items.size and (items.min() < 0 or items.max() >= n_items):
        raise InputError(
            f"spark_popularity: item indices must lie in [0, {n_items}), received values "
            f"from {items.min()} to {items.max()}; hint: pass the log's n_items"
        )
    scores = np.zeros(n_items, dtype=np.float64)
    scores[items] = table.column(SCORE).to_numpy()
    logger.info(
        "spark popularity: %d scored items of %d in %.2f s",
        items.size,
        n_items,
        time.perf_counter() - started,
    )
    return scores
