"""write_report: benchmark_report.csv, charts/ and report.html in one output directory."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import polars as pl

from recfusion import _io
from recfusion.report._charts import write_charts
from recfusion.report._csv import write_benchmark_csv
from recfusion.report._extras import ReportExtras
from recfusion.report._html import write_html
from recfusion.report._tidy import normalise

logger = logging.getLogger(__name__)

CSV_NAME = "benchmark_report.csv"
HTML_NAME = "report.html"
CHARTS_NAME = "charts"


def write_report(
    out_dir: Path, table: pl.DataFrame, extras: ReportExtras | None = None
) -> dict[str, Path]:
    """Write the benchmark CSV, the charts and the HTML report into ``out_dir``.

    Parameters
    ----------
    out_dir : Path
        Output directory, created when missing. Existing files of the same names are
        replaced; the ``charts`` folder is replaced as a whole (no stale charts remain).
    table : polars.DataFrame
        The tidy benchmark table (see :func:`write_benchmark_csv`).
    extras : ReportExtras, optional
        Optional material for further charts and sections.

    Returns
    -------
    dict of str to Path
        ``"csv"`` (benchmark_report.csv), ``"html"`` (report.html), ``"charts"`` (the folder) and
        ``"chart:<name>"`` for every PNG written.

    Examples
    --------
    >>> paths = write_report(Path("runs/ml100k"), result.table, ReportExtras(paired=result.paired))
    >>> paths["html"]  # doctest: +SKIP
    PosixPath('runs/ml100k/report.html')
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    normalise(table)
    extras = extras or ReportExtras()
    csv_path = out_dir / CSV_NAME
    write_benchmark_csv(table, csv_path)
    charts_dir = out_dir / CHARTS_NAME
    with _io.atomic_directory(charts_dir) as staging:
        names = [path.name for path in write_charts(table, extras, staging)]
    charts = [charts_dir / name for name in names]
    html_path = out_dir / HTML_NAME
    write_html(table, extras, charts, html_path)
    elapsed = time.perf_counter() - started
    logger.info("report: wrote %s (%d charts) in %.2f s", out_dir, len(charts), elapsed)
    paths = {"csv": csv_path, "html": html_path, "charts": charts_dir}
    return paths | {f"chart:{path.stem}": path for path in charts}
