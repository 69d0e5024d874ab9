"""Interaction logs as Spark DataFrames: from an in-memory log or from Parquet files.

Every function of :mod:`recfusion.spark` reads a *log frame* with these columns:

``user_id``
    User index (int) when built from :class:`~recfusion.data.Interactions`, or the opaque
    user id (string) when read from a file.
``item_id``
    Item index (int) or opaque item id (string), likewise. Ties between items are broken
    by this column's order: lower index, or lower id string.
``timestamp``
    Event time (double), in the unit of the source.
``seq``
    Input order, any orderable type: breaks ties between equal timestamps of one user.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from recfusion.columns import ITEM_ID, TIMESTAMP, USER_ID, WEIGHT
from recfusion.config import ColumnsConfig
from recfusion.data._types import Interactions
from recfusion.errors import InputError

logger = logging.getLogger(__name__)

#: Column of a log frame holding the input order (ties between equal timestamps).
SEQ = "seq"

_FILE = "_file"
_ROW = "_row"


def interactions_to_spark(spark: SparkSession, interactions: Interactions) -> DataFrame:
    """Turn an in-memory log into a log frame over the same integer id spaces.

    Parameters
    ----------
    spark : SparkSession
    interactions : Interactions
        Rows are already sorted by (user, timestamp, input order); ``seq`` is the row
        position in that order, so Spark breaks ties exactly as the local engines do.

    Returns
    -------
    DataFrame
        Columns ``user_id`` int, ``item_id`` int, ``timestamp`` double, ``weight`` float,
        ``seq`` long; one row per interaction.
    """
    table = pa.table(
        {
            USER_ID: pa.array(interactions.users, type=pa.int32()),
            ITEM_ID: pa.array(interactions.items, type=pa.int32()),
            TIMESTAMP: pa.array(interactions.timestamps, type=pa.float64()),
            WEIGHT: pa.array(interactions.weights, type=pa.float32()),
            SEQ: pa.array(np.arange(interactions.n_interactions, dtype=np.int64)),
        }
    )
    return spark.createDataFrame(table)


def read_parquet_log(
    spark: SparkSession, path: str | os.PathLike[str], columns: ColumnsConfig
) -> DataFrame:
    """Read an interaction log from Parquet where it lives (local path, HDFS, S3, ...).

    Parameters
    ----------
    spark : SparkSession
    path : str or path-like
        A Parquet file or a directory of Parquet files, as Spark addresses it.
    columns : ColumnsConfig
        Source column names: ``user`` and ``item`` (read as strings), optional
        ``timestamp`` (numbers or Parquet timestamps, read as seconds) and ``weight``.

    Returns
    -------
    DataFrame
        A log frame with string ``user_id`` and ``item_id``, double ``timestamp``, float
        ``weight`` (1.0 without a weight column) and ``seq`` = (file path, row in file).
        Without a timestamp column the time is the row's position in the whole log, files
        taken in path order, as the local reader does for a file without times.

    Raises
    ------
    InputError
        When a named column is missing, or a user, item or timestamp is null or unreadable.
    """
    path = os.fspath(path)
    raw = spark.read.parquet(path)
    _check_columns(raw.columns, columns, path)
    frame = raw.select(
        F.col(columns.user).cast("string").alias(USER_ID),
        F.col(columns.item).cast("string").alias(ITEM_ID),
        _timestamp_column(raw, columns.timestamp),
        _weight_column(columns.weight),
        F.col("_metadata.file_path").alias(_FILE),
        F.col("_metadata.row_index").alias(_ROW),
    )
    if columns.timestamp is None:
        frame = _positions_as_time(frame)
    frame = frame.select(USER_ID, ITEM_ID, TIMESTAMP, WEIGHT, F.struct(_FILE, _ROW).alias(SEQ))
    _check_not_null(frame, columns, path)
    logger.info("spark log frame over %s: columns %s", path, columns.model_dump())
    return frame


def _check_columns(present: list[str], columns: ColumnsConfig, path: str) -> None:
    """Raise InputError naming every configured column absent from the file."""
    wanted = [columns.user, columns.item, columns.timestamp, columns.weight]
    missing = [name for name in wanted if name is not None and name not in present]
    if missing:
        raise InputError(
            f"spark reader: {path}: column(s) {missing} not found; the file has columns "
            f"{present}; hint: set data.columns (--user-col/--item-col/--time-col)"
        )


def _timestamp_column(raw: DataFrame, name: str | None) -> F.Column:
    """The event time as double seconds (null when absent, filled in later)."""
    if name is None:
        return F.lit(None).cast("double").alias(TIMESTAMP)
    kind = raw.schema[name].dataType.typeName()
    column = F.col(name)
    if kind in ("timestamp", "timestamp_ntz", "date"):
        column = F.unix_micros(column.cast("timestamp")) / 1e6
    return column.try_cast("double").alias(TIMESTAMP)


def _weight_column(name: str | None) -> F.Column:
    """The interaction strength as float, 1.0 without a weight column."""
    column = F.lit(1.0) if name is None else F.col(name)
    return column.try_cast("float").alias(WEIGHT)


def _positions_as_time(frame: DataFrame) -> DataFrame:
    """Set ``timestamp`` to each row's position in the log, files in path order."""
    sizes = frame.groupBy(_FILE).count()
    before = Window.orderBy(_FILE).rowsBetween(Window.unboundedPreceding, -1)
    offsets = sizes.select(
        _FILE, F.coalesce(F.sum("count").over(before), F.lit(0)).alias("_offset")
    )
    joined = frame.drop(TIMESTAMP).join(F.broadcast(offsets), _FILE)
    return joined.withColumn(TIMESTAMP, (F.col("_offset") + F.col(_ROW)).cast("double"))


def _check_not_null(frame: DataFrame, columns: ColumnsConfig, path: str) -> None:
    """Raise InputError on the first row with a null user, item or timestamp."""
    bad = F.col(USER_ID).isNull() | F.col(ITEM_ID).isNull() | F.col(TIMESTAMP).isNull()
    rows = frame.where(bad).select(SEQ).limit(1).collect()
    if rows:
        where = rows[0][SEQ]
        raise InputError(
            f"spark reader: {where[_FILE]} row {where[_ROW]}: null or unreadable value in "
            f"user column {columns.user!r}, item column {columns.item!r} or timestamp "
            f"column {columns.timestamp!r}; expected a non-null id and a numeric time; "
            "hint: drop or fix such rows before reading"
        )
