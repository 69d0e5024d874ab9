"""benchmark_report.csv: the tidy table, sorted and formatted so reruns give identical bytes."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import polars as pl

from recfusion import _io
from recfusion.columns import ALL_USERS, CI_HIGH, CI_LOW, K, METRIC, SEGMENT, STRATEGY, VALUE
from recfusion.report._format import csv_float
from recfusion.report._tidy import normalise

logger = logging.getLogger(__name__)

COLUMNS = (STRATEGY, METRIC, K, VALUE, CI_LOW, CI_HIGH, SEGMENT)


def benchmark_csv_text(table: pl.DataFrame) -> str:
    """CSV text of the tidy table; see :func:`write_benchmark_csv` for the layout."""
    tidy = normalise(table)
    ordered = tidy.with_columns((pl.col(SEGMENT) != ALL_USERS).alias("_later")).sort(
        ["_later", SEGMENT, STRATEGY, METRIC, K], nulls_last=False
    )
    floats = [VALUE, CI_LOW, CI_HIGH]
    text = ordered.select(
        [
            pl.col(name).map_elements(csv_float, return_dtype=pl.String, skip_nulls=False)
            if name in floats
            else pl.col(name)
            for name in COLUMNS
        ]
    )
    return text.write_csv(line_terminator="\n", null_value="", quote_style="necessary")


def write_benchmark_csv(table: pl.DataFrame, path: Path) -> None:
    """Write the tidy benchmark table to ``path`` atomically, byte-identical on reruns.

    Parameters
    ----------
    table : polars.DataFrame
        Columns ``strategy, metric, k, value, ci_low, ci_high, segment`` (``k``, the CI
        bounds and ``segment`` may be absent; they default to null, null and ``"all"``).
    path : Path
        Target file; its directory is created when missing.

    Notes
    -----
    Columns appear in the order above. Rows are sorted by segment (``all`` first, then by
    name), strategy, metric and k (no cut-off first). Floats keep 10 significant digits;
    a missing value is an empty field and a k of 0 is written as empty (no cut-off).
    """
    started = time.perf_counter()
    text = benchmark_csv_text(table)
    _io.write_text(Path(path), text)
    logger.info(
        "report: wrote %s (%d rows) in %.2f s",
        path,
        text.count("\n") - 1,
        time.perf_counter() - started,
    )
