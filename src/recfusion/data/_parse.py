"""Casting and cleaning of an all-string interaction table, with the drop policies.

Policies, applied in this order (each dropped row is counted under the reason shown):

1. ``blank_line``: a line with no fields at all (an empty line in a text file).
2. ``missing_timestamp``: the timestamp column exists but the value is empty.
3. ``duplicate``: a repeated (user, item, timestamp) row; the first in file order is kept.
   Without a timestamp column no row is a duplicate, because each row's position is its
   time; repeated (user, item) rows at different times are always kept.
4. ``zero_weight``: a weight of exactly 0.
5. ``negative_weight``: a negative weight is a dislike; it is not a positive interaction, so
   the row leaves the log (and never counts towards popularity).

Rejected outright (``InputError`` naming the line and value): empty or blank ids, a row
with more or fewer fields than the header, a timestamp that is neither a number nor an
ISO-8601 date/datetime, and an empty, non-numeric, NaN or infinite weight.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from recfusion.data._readers import (
    ROW,
    ReadSpec,
    fail,
    field_count_error,
    locate,
    read_header,
)

#: ISO-8601 layouts tried in turn (a space between date and time is read as ``T``).
_ISO_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M%#z",
    "%Y-%m-%dT%H:%M:%S%.f%#z",
)
DROP_REASONS = (
    "blank_line",
    "missing_timestamp",
    "duplicate",
    "zero_weight",
    "negative_weight",
)
USER = "__user"
ITEM = "__item"
TIME = "__time"
STRENGTH = "__weight"


def drop_blank_lines(frame: pl.DataFrame, spec: ReadSpec, columns: list[str]) -> pl.DataFrame:
    """Remove empty lines; raise on a row whose field count differs from the header's.

    Rows with a missing value are re-read to tell an empty line (dropped), an empty field
    (left for the caller to judge) and a short row (an error) apart.
    """
    gaps = frame.filter(pl.any_horizontal(pl.col(c).is_null() for c in columns))[ROW]
    if gaps.is_empty() or spec.layout == "parquet":
        return frame
    width = len(read_header(spec))
    places = locate(spec, gaps.to_list())
    blank = [record for record, (_, count) in places.items() if count == 0]
    for record, (_, count) in sorted(places.items()):
        if count not in (0, width):
            raise field_count_error(spec, record, count, width)
    return frame.filter(~pl.col(ROW).is_in(blank))


def check_ids(frame: pl.DataFrame, spec: ReadSpec, column: str, key: str) -> None:
    """Raise on the first empty or whitespace-only id of ``column``."""
    values = frame[column]
    bad = (values.is_null() | (values.str.strip_chars() == "")).fill_null(True)
    if not bad.any():
        return
    index = int(bad.arg_true()[0])
    raise fail(
        spec,
        "the id is empty; every row needs a non-empty id",
        f"fill in the id or delete the row; check that {key} names the id column",
        record=int(frame[ROW][index]),
        column=column,
        value=values[index],
    )


def parse_timestamps(frame: pl.DataFrame, spec: ReadSpec, column: str) -> pl.Series:
    """Seconds (float64) from numbers or ISO-8601 strings; null where the cell is empty.

    The first non-empty value decides the kind: numbers are taken as written (any unit);
    dates and datetimes become seconds since 1970-01-01 UTC, and values without an offset
    are read as UTC. A cell of the other kind, or unparsable, is an error.
    """
    raw = frame[column].str.strip_chars().replace("", None)
    numbers = raw.cast(pl.Float64, strict=False)
    present = raw.is_not_null()
    if not present.any():
        return numbers
    first = int(present.arg_true()[0])
    if numbers[first] is not None:
        bad = present & (numbers.is_null() | ~numbers.is_finite()).fill_null(True)
        expected = f"a finite number, as the column's first value {raw[first]!r} is one"
        parsed = numbers
    else:
        parsed = _parse_iso(raw)
        bad = present & parsed.is_null()
        expected = (
            "a number or an ISO-8601 date or datetime such as 2020-01-31, "
            "2020-01-31T12:00:00 or 2020-01-31 12:00:00+01:00"
        )
    if bad.any():
        index = int(bad.arg_true()[0])
        raise fail(
            spec,
            f"the timestamp cannot be read; expected {expected}",
            "fix the value, or check that data.columns.timestamp names the time column",
            record=int(frame[ROW][index]),
            column=column,
            value=raw[index],
        )
    return parsed


def _parse_iso(raw: pl.Series) -> pl.Series:
    """Seconds since the epoch for ISO-8601 strings (null where none of the layouts fit)."""
    text = raw.str.replace(r"^(\d{4}-\d{2}-\d{2}) ", "${1}T")
    attempts = [
        text.str.to_datetime(layout, strict=False, time_zone="UTC", time_unit="us")
        for layout in _ISO_FORMATS
    ]
    combined = pl.select(pl.coalesce(attempts)).to_series()
    return (combined.dt.epoch("us") / 1_000_000).cast(pl.Float64)


def parse_weights(frame: pl.DataFrame, spec: ReadSpec, column: str) -> pl.Series:
    """Weights as float64; an empty, non-numeric, NaN or infinite value is an error."""
    raw = frame[column].str.strip_chars()
    numbers = raw.cast(pl.Float64, strict=False)
    bad = (numbers.is_null() | ~numbers.is_finite()).fill_null(True)
    if not bad.any():
        return numbers
    index = int(bad.arg_true()[0])
    problem = "is empty" if raw[index] is None else "is not a finite number"
    raise fail(
        spec,
        f"the weight {problem}; expected a number such as 1 or 4.5",
        "fix or delete the row, or unset data.columns.weight to give every row weight 1",
        record=int(frame[ROW][index]),
        column=column,
        value=raw[index],
    )


def policy_mask(frame: pl.DataFrame, timed: bool) -> tuple[np.ndarray, dict[str, int]]:
    """Rows kept by the drop policies, and the rows dropped per reason (in policy order).

    ``frame`` holds integer ``USER`` and ``ITEM`` codes, ``TIME`` (float, null when
    missing) and ``STRENGTH`` columns. All flags are computed in one pass, then applied in
    the documented order so that each dropped row is counted under its first reason.
    """
    every = np.ones(frame.height, dtype=bool)
    flags = {
        "missing_timestamp": frame[TIME].is_not_null().to_numpy() if timed else every,
        "duplicate": _first_distinct(frame) if timed else every,
        "zero_weight": (frame[STRENGTH] != 0).to_numpy(),
        "negative_weight": (frame[STRENGTH] >= 0).to_numpy(),
    }
    keep = every.copy()
    dropped: dict[str, int] = {}
    for reason, passes in flags.items():
        dropped[reason] = int((keep & ~passes).sum())
        keep &= passes
    return keep, dropped


def _first_distinct(frame: pl.DataFrame) -> np.ndarray:
    """True on the first row of each (user, item, time); hashes first, exact only if needed."""
    key = pl.struct(USER, ITEM, TIME)
    if frame.select(key.hash()).to_series().n_unique() == frame.height:
        return np.ones(frame.height, dtype=bool)
    return frame.select(key.is_first_distinct()).to_series().to_numpy()


def split_lists(frame: pl.DataFrame, columns: list[str], separator: str) -> pl.DataFrame:
    """Turn string ``columns`` into lists of stripped, non-empty strings split on ``separator``."""
    present = [c for c in columns if c in frame.columns and frame.schema[c] == pl.String]
    parts = [
        pl.col(c)
        .str.split(separator)
        .list.eval(pl.element().str.strip_chars())
        .list.eval(pl.element().filter(pl.element() != ""))
        for c in present
    ]
    return frame.with_columns(parts) if parts else frame


__all__ = [
    "DROP_REASONS",
    "ITEM",
    "STRENGTH",
    "TIME",
    "USER",
    "check_ids",
    "drop_blank_lines",
    "parse_timestamps",
    "parse_weights",
    "policy_mask",
    "split_lists",
]
