"""Spark engine: popularity and ItemCF neighbour tables computed with PySpark DataFrames.

Results equal the local engines' (``recall.Popularity`` and the numba ItemCF kernel) on the
same log; use it when the log does not fit one machine. Needs the ``spark`` extra
(``pip install recfusion[spark]``) and a Java runtime. ``python -m recfusion.spark.job``
is the ``spark-submit`` entry point.
"""

from __future__ import annotations

try:
    import pyspark  # noqa: F401
except ImportError as error:  # pragma: no cover - depends on the environment
    from recfusion.errors import MissingDependencyError

    raise MissingDependencyError(
        "recfusion.spark: the optional dependency 'pyspark' is not installed; "
        "hint: pip install 'recfusion[spark]' (a Java 17+ runtime is needed too)"
    ) from error

from recfusion.spark._frames import SEQ, interactions_to_spark, read_parquet_log
from recfusion.spark._neighbours import (
    NEIGHBOUR_ID,
    SIMILARITY,
    neighbour_frame,
    spark_neighbours,
)
from recfusion.spark._popularity import popularity_frame, spark_popularity
from recfusion.spark._session import LOCAL_DEFAULTS, get_spark

__all__ = sorted(
    [
        "LOCAL_DEFAULTS",
        "NEIGHBOUR_ID",
        "SEQ",
        "SIMILARITY",
        "get_spark",
        "interactions_to_spark",
        "neighbour_frame",
        "popularity_frame",
        "read_parquet_log",
        "spark_neighbours",
        "spark_popularity",
    ]
)
