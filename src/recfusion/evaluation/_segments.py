"""User segments for per-segment results: activity level and user attributes.

A segment is a label and the row positions (into the evaluated users) of its members.
Labels read ``"all"``, ``"activity=cold"``, ``"activity=light"``, ``"activity=heavy"`` and
``"<attribute>=<value>"`` (for example ``"gender=F"``, ``"age_band=25-34"``). Empty segments
are left out.

Activity is the number of training interactions of the user: cold when at most
``thresholds[0]`` (default 5), heavy when above ``thresholds[1]`` (default 50), light in
between. Fixed thresholds keep a label meaning the same across datasets and runs.

Attributes come from ``side.users`` (one row per user index). With ``columns=None`` every
string, categorical or boolean column other than ``user_id`` with 2 to ``max_levels``
distinct non-null values becomes a segment family (for MovieLens: ``gender`` and
``age_band``; ``occupation`` has 21 values and is skipped unless named explicitly). Users
whose attribute is null belong to no segment of that attribute. Values of an attribute are
listed in an Enum's declared order, otherwise by their first number (``"<18"`` just before
18, so age bands read in age order), then alphabetically.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
import polars as pl

from recfusion.columns import ALL_USERS, USER_ID
from recfusion.errors import InputError

ACTIVITY = "activity"
DEFAULT_THRESHOLDS = (5, 50)
DEFAULT_MAX_LEVELS = 12


def activity_segments(
    history_lengths: np.ndarray, thresholds: tuple[int, int] = DEFAULT_THRESHOLDS
) -> dict[str, np.ndarray]:
    """Cold / light / heavy row positions from the evaluated users' training lengths."""
    cold_max, light_max = thresholds
    if not 0 <= cold_max < light_max:
        raise InputError(
            f"evaluation segments: activity thresholds must satisfy 0 <= cold < light; "
            f"received {thresholds}; hint: the default is {DEFAULT_THRESHOLDS}"
        )
    groups = {
        "cold": history_lengths <= cold_max,
        "light": (history_lengths > cold_max) & (history_lengths <= light_max),
        "heavy": history_lengths > light_max,
    }
    return {f"{ACTIVITY}={name}": np.flatnonzero(mask) for name, mask in groups.items()}


def attribute_segments(
    user_frame: pl.DataFrame | None,
    users: np.ndarray,
    columns: Sequence[str] | None = None,
    max_levels: int = DEFAULT_MAX_LEVELS,
) -> dict[str, np.ndarray]:
    """``"column=value"`` row positions for the evaluated ``users`` (user indices)."""
    if user_frame is None:
        return {}
    if int(users.max(initial=-1)) >= user_frame.height:
        raise InputError(
            f"evaluation segments: side.users has {user_frame.height} rows but user index "
            f"{int(users.max())} was evaluated; hint: side.users needs one row per user index"
        )
    names = _attribute_columns(user_frame, max_levels) if columns is None else list(columns)
    segments: dict[str, np.ndarray] = {}
    for name in names:
        segments.update(_one_attribute(user_frame, name, users))
    return segments


def _attribute_columns(user_frame: pl.DataFrame, max_levels: int) -> list[str]:
    """Categorical-looking columns with a small number of distinct values."""
    chosen = []
    for name, dtype in user_frame.schema.items():
        if name == USER_ID:
            continue
        if not (dtype in (pl.String, pl.Boolean, pl.Categorical) or isinstance(dtype, pl.Enum)):
            continue
        levels = user_frame.get_column(name).drop_nulls().n_unique()
        if 2 <= levels <= max_levels:
            chosen.append(name)
    return chosen


def _one_attribute(user_frame: pl.DataFrame, name: str, users: np.ndarray) -> dict[str, np.ndarray]:
    """Segments of one attribute column, values in sorted order."""
    if name not in user_frame.columns:
        raise InputError(
            f"evaluation segments: side.users has no column {name!r}; "
            f"available: {user_frame.columns}"
        )
    column = user_frame.get_column(name)
    values = column.cast(pl.String).to_numpy()[users]
    present = np.array([value is not None for value in values], dtype=bool)
    levels = sorted({str(value) for value in values[present]}, key=_natural_key)
    if isinstance(column.dtype, pl.Enum):
        declared = column.dtype.categories.to_list()
        levels = [level for level in declared if level in set(levels)]
    labels = np.where(present, values.astype(str), "")
    return {f"{name}={level}": np.flatnonzero(present & (labels == level)) for level in levels}


def _natural_key(label: str) -> tuple[float, str]:
    """Order labels by their first number ("<18" just before 18), then alphabetically."""
    match = re.search(r"\d+(\.\d+)?", label)
    if match is None:
        return (math.inf, label)
    number = float(match.group())
    return (number - 0.5 if label.lstrip().startswith("<") else number, label)


def build_segments(
    history_lengths: np.ndarray,
    users: np.ndarray,
    user_frame: pl.DataFrame | None,
    columns: Sequence[str] | None = None,
    thresholds: tuple[int, int] = DEFAULT_THRESHOLDS,
) -> dict[str, np.ndarray]:
    """Every non-empty segment of the evaluated users, ``"all"`` first."""
    segments = {ALL_USERS: np.arange(users.shape[0])}
    segments.update(activity_segments(history_lengths, thresholds))
    segments.update(attribute_segments(user_frame, users, columns))
    return {label: rows for label, rows in segments.items() if rows.shape[0] > 0}


__all__ = ["activity_segments", "attribute_segments", "build_segments"]
