"""Reader of supplied item vectors (embeddings computed outside recfusion).

Accepted layouts, chosen by file suffix:

* ``.csv`` / ``.tsv`` / ``.txt``: first column the item id, then ``D`` numbers per line; a
  header line is detected (its number columns do not parse as numbers) and skipped.
* ``.parquet``: an id column (``item_id``, else the first column) plus either one list
  column of length ``D`` or ``D`` numeric columns.
* ``.npy``: an (n, D) float array, with the ids one per line in a text file beside it
  named like the array with suffix ``.txt`` (``vectors.npy`` + ``vectors.txt``) or
  ``.ids.txt``.

Every value must be a finite number, every row must have ``D`` values and every id must be
distinct; otherwise :class:`~recfusion.errors.InputError` names the file, row, column and
value. Text files are located by 1-based line number (header included, id column = column
1); Parquet and ``.npy`` rows and ``.npy`` columns are counted from 0.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from recfusion.columns import ITEM_ID
from recfusion.errors import InputError

logger = logging.getLogger(__name__)

TEXT_SUFFIXES = (".csv", ".tsv", ".txt")


def read_item_vectors(
    path: Path, item_lookup: dict[str, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Read supplied vectors and align them to the catalogue, extended by new items.

    Parameters
    ----------
    path : Path
        A vector file in one of the layouts of this module.
    item_lookup : dict of str to int
        The catalogue: item id -> item index (``Interactions.item_lookup``).

    Returns
    -------
    new_ids : ndarray of str, shape (n_new,)
        Ids in the file that are not in the catalogue, in file order: cold-start items.
        The caller appends them to the catalogue, so they get indices
        ``len(item_lookup)``, ``len(item_lookup) + 1``, ...
    matrix : ndarray of float32, shape (len(item_lookup) + n_new, D)
        Row ``i`` is the vector of item index ``i`` in the extended catalogue; rows of
        catalogue items absent from the file are NaN ("no vector").
    """
    ids, vectors = load_vector_file(path)
    new_ids = new_vector_ids(ids, item_lookup)
    extended = dict(item_lookup)
    for offset, item_id in enumerate(new_ids.tolist()):
        extended[item_id] = len(item_lookup) + offset
    matrix = np.full((len(extended), vectors.shape[1]), np.nan, dtype=np.float32)
    matrix[[extended[item_id] for item_id in ids.tolist()]] = vectors
    logger.info(
        "item vectors %s: %d rows of dim %d, %d catalogue items without a vector, "
        "%d new (cold-start) items", path, ids.shape[0], vectors.shape[1],
        len(item_lookup) - (ids.shape[0] - new_ids.shape[0]), new_ids.shape[0],
    )
    return new_ids, matrix


def new_vector_ids(ids: np.ndarray, item_lookup: dict[str, int]) -> np.ndarray:
    """Ids of ``ids`` absent from ``item_lookup``, in their order (object array of str)."""
    return np.array([i for i in ids.tolist() if i not in item_lookup], dtype=object)


def load_vector_file(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Ids (object array of str, shape (n,)) and vectors (float32, shape (n, D)) of a file.

    Raises
    ------
    InputError
        Missing file, unknown suffix, ragged rows, non-numeric, missing, NaN or infinite
        values, empty or duplicate ids.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"item vectors: file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES:
        ids, vectors = _read_text(path)
    elif suffix == ".parquet":
        ids, vectors = _read_parquet(path)
    elif suffix == ".npy":
        ids, vectors = _read_npy(path)
    else:
        raise InputError(
            f"item vectors: file {path} has suffix {suffix!r}; expected one of .csv, .tsv, "
            ".txt, .parquet or .npy (with an id list beside it)"
        )
    return ids, vectors


def _read_text(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Parse a delimited text file: id, then D numbers per line."""
    with open(path, encoding="utf-8", newline="") as handle:
        first = handle.readline()
        delimiter = "\t" if "\t" in first and "," not in first else ","
        handle.seek(0)
        rows = list(csv.reader(handle, delimiter=delimiter))
    lines = np.arange(1, len(rows) + 1)
    keep = [i for i, row in enumerate(rows) if any(cell.strip() for cell in row)]
    rows, lines = [rows[i] for i in keep], lines[keep]
    if rows and not _is_numeric_row(rows[0]):
        rows, lines = rows[1:], lines[1:]
    if not rows:
        raise InputError(f"item vectors: file {path} holds no vector rows")
    dim = len(rows[0]) - 1
    for row, line in zip(rows, lines):
        if len(row) - 1 != dim or dim == 0:
            raise InputError(
                f"item vectors: file {path} line {line} (id {row[0]!r}) has "
                f"{len(row) - 1} values; expected {dim} like the first row, and at least 1"
            )
    ids = np.array([row[0].strip() for row in rows], dtype=object)
    _check_ids(path, ids, lambda row: f"line {lines[row]}")
    cells = [row[1:] for row in rows]
    vectors = _parse_numbers(path, cells, lines, ids)
    return ids, vectors


def _is_numeric_row(row: list[str]) -> bool:
    """True when every cell after the first parses as a float (a data row, not a header)."""
    try:
        [float(cell) for cell in row[1:]]
    except ValueError:
        return False
    return len(row) > 1


def _parse_numbers(
    path: Path, cells: list[list[str]], lines: np.ndarray, ids: np.ndarray
) -> np.ndarray:
    """Convert text cells to float32, naming the first bad cell on failure."""
    try:
        values = np.array(cells, dtype=np.float64)
    except ValueError:
        for row, line, item_id in zip(cells, lines, ids):
            for column, cell in enumerate(row, start=2):
                try:
                    float(cell)
                except ValueError:
                    raise InputError(
                        f"item vectors: file {path} line {line} (id {item_id!r}) column "
                        f"{column} holds {cell!r}; expected a number (no missing values)"
                    ) from None
        raise
    _check_finite(path, values, ids, lambda row: f"line {lines[row]}", lambda c: f"{c + 2}")
    return values.astype(np.float32)


def _check_finite(
    path: Path,
    values: np.ndarray,
    ids: np.ndarray,
    where: Callable[[int], str],
    column_name: Callable[[int], str],
) -> None:
    """Raise on the first NaN (or missing) or infinite value, naming its row and column."""
    bad = ~np.isfinite(values)
    if not bad.any():
        return
    row, column = (int(i) for i in np.argwhere(bad)[0])
    value = float(values[row, column])
    shown = "nan (NaN or a missing value)" if np.isnan(value) else str(value)
    raise InputError(
        f"item vectors: file {path} {where(row)} (id {ids[row]!r}) column "
        f"{column_name(column)} holds {shown}; expected a finite number "
        f"({int(bad.sum())} bad value(s) in total)"
    )


def _read_parquet(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Parse a Parquet file: an id column plus a list column or D numeric columns."""
    frame = pl.read_parquet(path)
    id_col = ITEM_ID if ITEM_ID in frame.columns else frame.columns[0]
    ids = _id_strings(path, frame[id_col])
    _check_ids(path, ids, lambda row: f"row {row}")
    rest = frame.drop(id_col)
    if rest.width == 1 and isinstance(rest.dtypes[0], (pl.List, pl.Array)):
        values = _list_column(path, rest.to_series(), ids)
        labels = [f"{rest.columns[0]!r} element {c}" for c in range(values.shape[1])]
    else:
        values = _numeric_columns(path, rest, ids)
        labels = [repr(name) for name in rest.columns]
    _check_finite(path, values, ids, lambda row: f"row {row}", labels.__getitem__)
    return ids, values.astype(np.float32)


def _id_strings(path: Path, column: pl.Series) -> np.ndarray:
    """Ids as strings; a null id is an error naming its row."""
    nulls = column.is_null().arg_true()
    if nulls.len():
        raise InputError(
            f"item vectors: file {path} row {nulls[0]} column {column.name!r} has no id; "
            "expected an item id in every row"
        )
    return np.array(column.cast(pl.String).to_list(), dtype=object)


def _list_column(path: Path, column: pl.Series, ids: np.ndarray) -> np.ndarray:
    """A list column of equal-length numeric lists as an (n, D) float64 array."""
    if isinstance(column.dtype, pl.Array):
        column = column.cast(pl.List(column.dtype.inner))
    lengths = column.list.len().fill_null(0).to_numpy()
    dim = int(lengths[0]) if lengths.shape[0] else 0
    bad = np.flatnonzero(lengths != dim)
    if bad.shape[0] or dim == 0:
        row = int(bad[0]) if bad.shape[0] else 0
        raise InputError(
            f"item vectors: file {path} row {row} (id {ids[row]!r}) column {column.name!r} "
            f"holds {int(lengths[row])} values; expected {dim} like the first row, and at "
            "least 1"
        )
    flat = column.explode().cast(pl.Float64, strict=False).to_numpy()
    return np.asarray(flat, dtype=np.float64).reshape(-1, dim)


def _numeric_columns(path: Path, frame: pl.DataFrame, ids: np.ndarray) -> np.ndarray:
    """D numeric columns as an (n, D) float64 array (nulls become NaN)."""
    for name, dtype in frame.schema.items():
        if not dtype.is_numeric():
            raise InputError(
                f"item vectors: file {path} column {name!r} has type {dtype}; expected "
                "numbers (or a single list column of numbers)"
            )
    if frame.width == 0:
        raise InputError(f"item vectors: file {path} has an id column but no vector columns")
    return frame.cast(pl.Float64).fill_null(np.nan).to_numpy().astype(np.float64)


def _read_npy(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Parse an .npy matrix plus its id list file."""
    values = np.load(path, allow_pickle=False)
    if values.ndim != 2 or values.shape[1] == 0 or not np.issubdtype(values.dtype, np.number):
        raise InputError(
            f"item vectors: file {path} holds an array of shape {values.shape} and type "
            f"{values.dtype}; expected a 2-d numeric array (n_items, D)"
        )
    id_path = _npy_id_file(path)
    ids = np.array(
        [line.strip() for line in id_path.read_text(encoding="utf-8").splitlines()
         if line.strip()],
        dtype=object,
    )
    if ids.shape[0] != values.shape[0]:
        raise InputError(
            f"item vectors: id file {id_path} lists {ids.shape[0]} ids but {path} has "
            f"{values.shape[0]} rows; expected one id per row"
        )
    _check_ids(id_path, ids, lambda row: f"line {row + 1}")
    values = values.astype(np.float64)
    _check_finite(path, values, ids, lambda row: f"row {row}", str)
    return ids, values.astype(np.float32)


def _npy_id_file(path: Path) -> Path:
    """The id list beside an .npy file: NAME.txt or NAME.ids.txt."""
    for candidate in (path.with_suffix(".txt"), path.with_suffix(".ids.txt")):
        if candidate.is_file():
            return candidate
    raise InputError(
        f"item vectors: no id list for {path}; expected {path.with_suffix('.txt')} or "
        f"{path.with_suffix('.ids.txt')} with one item id per line"
    )


def _check_ids(path: Path, ids: np.ndarray, where: Callable[[int], str]) -> None:
    """Raise on an empty or duplicated id, naming both rows of a duplicate."""
    first_seen: dict[str, int] = {}
    for row, item_id in enumerate(ids.tolist()):
        if not item_id:
            raise InputError(
                f"item vectors: file {path} {where(row)} has an empty id; expected an item id"
            )
        if item_id in first_seen:
            raise InputError(
                f"item vectors: file {path} has duplicate id {item_id!r} at "
                f"{where(first_seen[item_id])} and {where(row)}; expected each id once"
            )
        first_seen[item_id] = row


__all__ = ["load_vector_file", "new_vector_ids", "read_item_vectors"]
