"""Evaluation stage: accuracy and beyond-accuracy metrics, segments and uncertainty.

:func:`evaluate` turns every strategy's lists into one tidy table (schema
:data:`TABLE_SCHEMA`) plus per-user values and paired tests; :func:`cost_rows` adds fit time,
latency percentiles and memory in the same shape. The metric functions are public so that
tuning code can call them directly.
"""

from recfusion.evaluation._accuracy import ACCURACY_METRICS, accuracy_per_user, relevance
from recfusion.evaluation._beyond import (
    AGGREGATE_METRICS,
    BEYOND_METRICS,
    PER_USER_BEYOND,
    CatalogueStats,
    coverage,
    exposure,
    gini,
    intra_list_diversity,
    personalisation,
)
from recfusion.evaluation._evaluate import (
    COST_METRICS,
    PAIRED_SCHEMA,
    TABLE_SCHEMA,
    EvaluationResult,
    cost_rows,
    evaluate,
)

__all__ = sorted(
    [
        "ACCURACY_METRICS",
        "AGGREGATE_METRICS",
        "BEYOND_METRICS",
        "COST_METRICS",
        "CatalogueStats",
        "EvaluationResult",
        "PAIRED_SCHEMA",
        "PER_USER_BEYOND",
        "TABLE_SCHEMA",
        "accuracy_per_user",
        "cost_rows",
        "coverage",
        "evaluate",
        "exposure",
        "gini",
        "intra_list_diversity",
        "personalisation",
        "relevance",
    ]
)
