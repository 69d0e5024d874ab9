"""The one vocabulary of recfusion: column names and terms used by every stage.

Every reader, strategy, fuser, metric and report refers to these constants, never to
string literals, so a rename happens in exactly one place.
"""

from __future__ import annotations

USER_ID = "user_id"
ITEM_ID = "item_id"
TIMESTAMP = "timestamp"
WEIGHT = "weight"
SCORE = "score"
RANK = "rank"
STRATEGY = "strategy"
METRIC = "metric"
K = "k"
VALUE = "value"
CI_LOW = "ci_low"
CI_HIGH = "ci_high"
SEGMENT = "segment"

#: Segment label used for rows of the benchmark report that cover every evaluated user.
ALL_USERS = "all"

__all__ = sorted(
    [
        "ALL_USERS",
        "CI_HIGH",
        "CI_LOW",
        "ITEM_ID",
        "K",
        "METRIC",
        "RANK",
        "SCORE",
        "SEGMENT",
        "STRATEGY",
        "TIMESTAMP",
        "USER_ID",
        "VALUE",
        "WEIGHT",
    ]
)
