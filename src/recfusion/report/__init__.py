"""Report stage: benchmark CSV, PNG charts and a self-contained HTML report.

The input is the tidy benchmark table of :mod:`recfusion.evaluation` (columns ``strategy,
metric, k, value, ci_low, ci_high, segment``) plus optional :class:`ReportExtras`.
:func:`write_report` writes everything; the other functions write one output each, and
:func:`results_table` is the short console summary the CLI prints.
"""

from recfusion.report._charts import write_charts
from recfusion.report._console import results_table
from recfusion.report._csv import write_benchmark_csv
from recfusion.report._extras import PAIRED_COLUMNS, ReportExtras, RunInfo
from recfusion.report._html import write_html
from recfusion.report._writer import write_report

__all__ = sorted(
    [
        "PAIRED_COLUMNS",
        "ReportExtras",
        "RunInfo",
        "results_table",
        "write_benchmark_csv",
        "write_charts",
        "write_html",
        "write_report",
    ]
)
