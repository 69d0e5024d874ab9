"""Item metadata and user attribute files, and their alignment to index order.

A metadata file has one row per id (its id column is named by ``data.item_id_col`` or
``data.user_id_col``) and any other columns, all kept as strings except the configured list
columns (``data.list_columns``), which are split on ``data.list_separator`` (on a space in
RecBole atomic files) into lists of strings. A repeated id keeps its first row; the rest are
counted and logged. Ids only present in a metadata file join the id space after the logged
ones (cold-start items or users).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import polars as pl

from recfusion.config import DataConfig
from recfusion.data._parse import check_ids, drop_blank_lines, split_lists
from recfusion.data._readers import (
    ROW,
    ReadSpec,
    check_columns,
    fail,
    has_known_extension,
    read_header,
    read_table,
    resolve_spec,
)

logger = logging.getLogger(__name__)


def metadata_spec(path: Path, config: DataConfig, role: str) -> ReadSpec:
    """Layout of a metadata file: like the log when the extensions match, else by extension."""
    same = config.interactions is not None and path.suffix == Path(config.interactions).suffix
    if same:
        return resolve_spec(path, config.format, config.delimiter, role)
    layout = "auto" if has_known_extension(path) else config.format
    return resolve_spec(path, layout, None, role)


def read_metadata(
    spec: ReadSpec, id_column: str, key: str, canonical: str, config: DataConfig
) -> tuple[pl.DataFrame, int]:
    """All columns of a metadata file keyed by ``canonical``; returns (frame, duplicate ids).

    ``key`` is the config key naming the id column (for messages).
    """
    header = read_header(spec)
    check_columns(spec, header, {key: id_column})
    if canonical in header and canonical != id_column:
        raise fail(
            spec,
            f"column '{canonical}' would clash with the id column '{id_column}' renamed to it",
            f"rename or remove the column '{canonical}', or set {key} = '{canonical}'",
        )
    frame = read_table(spec, header)
    frame = drop_blank_lines(frame, spec, header)
    check_ids(frame, spec, id_column, key)
    before = frame.height
    frame = frame.unique(subset=[id_column], keep="first", maintain_order=True)
    duplicates = before - frame.height
    if duplicates:
        logger.warning("%s: %d repeated ids ignored (first row kept)", spec.path, duplicates)
    separator = " " if spec.layout == "atomic" else config.list_separator
    frame = split_lists(frame.drop(ROW), config.list_columns, separator)
    return frame.rename({id_column: canonical}), duplicates


def id_space(logged: pl.Series, extra: pl.DataFrame | None, canonical: str) -> np.ndarray:
    """The logged ids (already distinct, in index order), then ids only in ``extra``."""
    if extra is not None:
        only = extra[canonical].filter(~extra[canonical].is_in(logged.implode()))
        logged = pl.concat([logged.rename(canonical), only])
    return np.asarray(logged.to_list(), dtype=object)


def align(ids: np.ndarray, metadata: pl.DataFrame | None, canonical: str) -> pl.DataFrame | None:
    """Metadata rows in index order (row i describes ``ids[i]``), null where unknown."""
    if metadata is None:
        return None
    base = pl.DataFrame({canonical: pl.Series(ids.tolist(), dtype=pl.String)})
    return base.join(metadata, on=canonical, how="left", maintain_order="left")


__all__ = ["align", "id_space", "metadata_spec", "read_metadata"]
