"""ItemCF neighbour tables computed with Spark DataFrames.

Implements the definition of :mod:`recfusion.recall._itemcf_kernel` (deduplicate each
user's history keeping every item's latest occurrence, weight ordered position pairs by
direction, position gap, time gap and history length, normalise by item user counts, keep
the best ``neighbours`` per item) so the result equals the local numba engine's: same
neighbours in the same order, similarities within float rounding (about 1e-12).

Plan: a window by user numbers each user's deduplicated rows, a self-join by user (and by
position bucket when a window bounds the gap) forms the pairs, ``groupBy`` sums them (once
per position order, then per ordered item pair), a join with per-item user counts
normalises, and a rank window keeps the top of each item. Only that top table leaves the
cluster.

Cost is the number of pairs, ``sum_u L_u * min(L_u, 2 W)``; one user with a very long
history and no window makes one task do ``L_u ** 2`` work, so set a window on such logs.
"""

from __future__ import annotations

import logging
import time
from typing import Protocol

import numpy as np
import pyarrow as pa
from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import IntegralType

from recfusion.columns import ITEM_ID, RANK, TIMESTAMP, USER_ID
from recfusion.errors import ConfigError, InputError
from recfusion.recall._itemcf_kernel import NeighbourTable
from recfusion.spark._frames import SEQ

logger = logging.getLogger(__name__)

#: Column of a neighbour frame holding the neighbour item.
NEIGHBOUR_ID = "neighbour_id"
#: Column of a neighbour frame holding sim(item, neighbour).
SIMILARITY = "similarity"

_POS, _LEN, _BUCKET, _SPAN = "_pos", "_len", "_bucket", "_span"


class NeighbourSettings(Protocol):
    """What :func:`neighbour_frame` reads from its ``params`` (``ItemCFConfig`` fits)."""

    forward_weight: float
    backward_weight: float
    position_decay: float
    time_decay: float
    user_damping: bool
    window: int | None
    neighbours: int


def neighbour_frame(log: DataFrame, params: NeighbourSettings) -> DataFrame:
    """The top-``neighbours`` table of a log frame, as a DataFrame (nothing is collected).

    Parameters
    ----------
    log : DataFrame
        A log frame (``user_id``, ``item_id``, ``timestamp``, ``seq``); see
        :mod:`recfusion.spark._frames`.
    params : ItemCFConfig, NeighbourParams or any object with the same fields
        ``forward_weight``, ``backward_weight``, ``position_decay``, ``time_decay``,
        ``user_damping``, ``window`` (and ``max_pairs_window`` when present: the smaller of
        the two bounds the gap) and ``neighbours``.

    Returns
    -------
    DataFrame
        Columns ``item_id``, ``neighbour_id`` (same type as the log's ``item_id``),
        ``similarity`` double > 0 and ``rank`` int (1 = best; ties by lower neighbour).
    """
    return _ranked(_deduplicated(log), log, params)


def _ranked(rows: DataFrame, log: DataFrame, params: NeighbourSettings) -> DataFrame:
    """The neighbour frame from deduplicated, numbered rows."""
    window, keep = _check_params(params)
    pairs = _pair_weights(rows, log, params, window)
    sums = pairs.groupBy(ITEM_ID, NEIGHBOUR_ID).agg(F.sum("_w").alias("_c"))
    counts = rows.groupBy(ITEM_ID).agg(F.count(F.lit(1)).cast("double").alias("_n"))
    other = counts.select(F.col(ITEM_ID).alias(NEIGHBOUR_ID), F.col("_n").alias("_m"))
    sims = sums.join(counts, ITEM_ID).join(other, NEIGHBOUR_ID).select(
        ITEM_ID, NEIGHBOUR_ID, (F.col("_c") / F.sqrt(F.col("_n") * F.col("_m"))).alias(SIMILARITY)
    )
    best = Window.partitionBy(ITEM_ID).orderBy(F.desc(SIMILARITY), F.asc(NEIGHBOUR_ID))
    ranked = sims.where(F.col(SIMILARITY) > 0).withColumn(RANK, F.row_number().over(best))
    return ranked.where(F.col(RANK) <= keep)


def spark_neighbours(log: DataFrame, n_items: int, params: NeighbourSettings) -> NeighbourTable:
    """Neighbour table of a log frame with integer item indices, collected to the driver.

    Parameters
    ----------
    log : DataFrame
        A log frame from :func:`interactions_to_spark` (``item_id`` holds indices).
    n_items : int
        Size of the item id space; the table has ``n_items`` rows.
    params : ItemCFConfig, NeighbourParams or alike
        See :func:`neighbour_frame`.

    Returns
    -------
    NeighbourTable
        Equal to ``compute_neighbours(train, params)`` of the local engine on the same log.
    """
    if not isinstance(log.schema[ITEM_ID].dataType, IntegralType):
        raise InputError(
            f"spark_neighbours: column {ITEM_ID!r} must hold integer item indices, received "
            f"{log.schema[ITEM_ID].dataType.simpleString()}; hint: build the frame with "
            "interactions_to_spark, or use neighbour_frame for string ids"
        )
    started = time.perf_counter()
    _check_params(params)
    # Persisted: the pair join reads the numbered rows twice and the user counts once more.
    rows = _deduplicated(log).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        table = _ranked(rows, log, params).select(ITEM_ID, NEIGHBOUR_ID, SIMILARITY).toArrow()
    finally:
        rows.unpersist()
    result = _as_table(table, n_items, int(params.neighbours))
    logger.info(
        "spark neighbours: %d entries over %d items collected in %.2f s",
        result.neighbours.shape[0],
        n_items,
        time.perf_counter() - started,
    )
    return result


def _as_table(table: pa.Table, n_items: int, keep: int) -> NeighbourTable:
    """The collected (item, neighbour, similarity) rows as a checked NeighbourTable."""
    items = table.column(ITEM_ID).to_numpy().astype(np.int64)
    if items.size and (items.min() < 0 or items.max() >= n_items):
        raise InputError(
            f"spark_neighbours: item indices must lie in [0, {n_items}), received values "
            f"from {items.min()} to {items.max()}; hint: pass the log's n_items"
        )
    return NeighbourTable.from_triples(
        items,
        table.column(NEIGHBOUR_ID).to_numpy().astype(np.int64),
        table.column(SIMILARITY).to_numpy().astype(np.float64),
        n_items,
        keep,
    )


def _check_params(params: NeighbourSettings) -> tuple[int | None, int]:
    """The effective window (None = unbounded) and the list length, validated."""
    bounds = [getattr(params, name, None) for name in ("window", "max_pairs_window")]
    bounds = [int(bound) for bound in bounds if bound is not None]
    window = min(bounds) if bounds else None
    keep = int(params.neighbours)
    if (window is not None and window < 1) or keep < 1:
        raise ConfigError(
            f"spark neighbours: window and neighbours must be >= 1, received window={window} "
            f"and neighbours={keep}; hint: leave window unset to count every pair"
        )
    return window, keep


def _deduplicated(log: DataFrame) -> DataFrame:
    """Each user's latest row per item, numbered 0..L-1 in time order, with L."""
    by_user = log.select(USER_ID, ITEM_ID, TIMESTAMP, SEQ).repartition(USER_ID)
    latest = Window.partitionBy(USER_ID, ITEM_ID).orderBy(F.desc(TIMESTAMP), F.desc(SEQ))
    kept = by_user.withColumn("_r", F.row_number().over(latest)).where(F.col("_r") == 1)
    in_time = Window.partitionBy(USER_ID).orderBy(F.asc(TIMESTAMP), F.asc(SEQ))
    whole = Window.partitionBy(USER_ID)
    return kept.select(
        USER_ID,
        ITEM_ID,
        TIMESTAMP,
        (F.row_number().over(in_time) - 1).alias(_POS),
        F.count(F.lit(1)).over(whole).alias(_LEN),
    )


def _pair_weights(
    rows: DataFrame, log: DataFrame, params: NeighbourSettings, window: int | None
) -> DataFrame:
    """Ordered pair sums (item_id, neighbour_id, _w): C of the definition before the norm.

    Each position pair p < q gives a forward term to C[x_p, x_q] and a backward term to
    C[x_q, x_p], each ``((dir * pos) * time) * damp`` as the local kernel multiplies. Both
    are first summed per (x_p, x_q), which halves the rows of the big aggregation.
    """
    span = log.agg((F.max(TIMESTAMP) - F.min(TIMESTAMP)).alias(_SPAN))
    first, second = _join_sides(rows, window)
    joined = first.join(second, [USER_ID, _BUCKET]).where(F.col("_q") > F.col("_p"))
    if window is not None:
        joined = joined.where(F.col("_q") - F.col("_p") <= window)
    position = _position_factor(float(params.position_decay))
    time_factor = _time_factor(float(params.time_decay))
    damp = (1.0 / F.log1p(F.col(_LEN).cast("double"))) if params.user_damping else F.lit(1.0)
    terms = [
        (F.lit(float(weight)) * position * time_factor * damp).alias(name)
        for name, weight in (("_f", params.forward_weight), ("_b", params.backward_weight))
    ]
    sums = (
        joined.crossJoin(F.broadcast(span))
        .select("_i", "_j", *terms)
        .groupBy("_i", "_j")
        .agg(F.sum("_f").alias("_f"), F.sum("_b").alias("_b"))
    )
    both = F.array(_oriented("_i", "_j", "_f"), _oriented("_j", "_i", "_b"))
    return sums.select(F.explode(both).alias("_e")).select("_e.*")


def _oriented(item: str, neighbour: str, weight: str) -> Column:
    """One (item_id, neighbour_id, _w) struct from the named columns."""
    return F.struct(
        F.col(item).alias(ITEM_ID), F.col(neighbour).alias(NEIGHBOUR_ID), F.col(weight).alias("_w")
    )


def _position_factor(position_decay: float) -> Column:
    """position_decay ** (q - p - 1)."""
    if position_decay == 1.0:
        return F.lit(1.0)
    gap = (F.col("_q") - F.col("_p") - 1).cast("double")
    return F.pow(F.lit(position_decay), gap)


def _time_factor(time_decay: float) -> Column:
    """exp(-time_decay * |t_q - t_p| / span), 1 when time_decay or span is 0."""
    if time_decay == 0.0:
        return F.lit(1.0)
    gap = F.abs(F.col("_tq") - F.col("_tp"))
    decayed = F.exp(-F.lit(time_decay) * gap / F.col(_SPAN))
    return F.when(F.col(_SPAN) > 0, decayed).otherwise(F.lit(1.0))


def _join_sides(rows: DataFrame, window: int | None) -> tuple[DataFrame, DataFrame]:
    """The two sides of the pair join, keyed by (user, bucket).

    Without a window the bucket is constant (every pair of a user meets). With window W the
    later side sits in bucket ``q // W`` and the earlier side in ``p // W`` and the next one,
    so each row meets at most 2 W candidates instead of the whole history.
    """
    first = rows.select(
        USER_ID,
        F.col(ITEM_ID).alias("_i"),
        F.col(TIMESTAMP).alias("_tp"),
        F.col(_POS).alias("_p"),
        _LEN,
    )
    second = rows.select(
        USER_ID, F.col(ITEM_ID).alias("_j"), F.col(TIMESTAMP).alias("_tq"), F.col(_POS).alias("_q")
    )
    if window is None:
        return first.withColumn(_BUCKET, F.lit(0)), second.withColumn(_BUCKET, F.lit(0))
    own = F.floor(F.col("_p") / window).cast("long")
    first = first.withColumn(_BUCKET, F.explode(F.array(own, own + 1)))
    second = second.withColumn(_BUCKET, F.floor(F.col("_q") / window).cast("long"))
    return first, second
