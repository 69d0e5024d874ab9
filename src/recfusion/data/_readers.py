"""Low-level table reading: format detection, all-string columnar reads and error locations.

Every file is read with polars as all-string columns (no type inference), so ids keep
exactly the characters written (leading zeros, case, Unicode form) and only the columns
that are needed are materialised. Values are cast later by :mod:`recfusion.data._parse`.

Supported layouts
-----------------
* Delimited text (``csv``/``tsv``): UTF-8 with or without a byte-order mark, LF or CRLF line
  ends, ``"``-quoted fields (a quoted field may hold the delimiter or a line break). A
  one-character delimiter is read by the polars CSV reader; a longer (or non-ASCII)
  delimiter such as ``::`` is split literally, without quoting.
* RecBole atomic files (``atomic``; extensions ``.inter``, ``.item``, ``.user``): tab
  separated, no quoting, header fields ``name:type``; the ``:type`` suffix is removed.
* Parquet: columns are cast to strings; temporal columns become seconds since the epoch.

Error locations are 1-based lines as a text editor shows them (the header is line 1) for
text files and 1-based data rows for Parquet. They are computed by re-reading the file with
the Python ``csv`` module, only when an error or a short row has to be reported.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import difflib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from recfusion.errors import InputError

#: Name of the 0-based record index column added to every table read.
ROW = "__row"

#: Files at least this large show a status spinner while they are read.
PROGRESS_MIN_BYTES = 32 * 1024 * 1024

_EXTENSIONS = {
    ".csv": "csv",
    ".txt": "csv",
    ".dat": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".inter": "atomic",
    ".item": "atomic",
    ".user": "atomic",
}
_SNIFF_DELIMITERS = (",", "\t", ";", "|")
_LINE_COLUMN = "__line"
_progress_enabled = os.environ.get("RECFUSION_PROGRESS", "1") not in {"0", "false", "no"}


@dataclass(frozen=True)
class ReadSpec:
    """How to read one file: its path, layout and the role it plays (for messages)."""

    path: Path
    layout: str  # "csv", "parquet" or "atomic"
    separator: str
    role: str

    @property
    def quoting(self) -> bool:
        return self.layout == "csv"

    @property
    def split_lines(self) -> bool:
        """Delimiters polars cannot take (several characters or non-ASCII) are split by hand."""
        return self.layout != "parquet" and len(self.separator.encode("utf-8")) != 1


def set_progress(enabled: bool) -> None:
    """Switch the status spinner shown while large files are read on or off.

    It is on by default; the environment variable ``RECFUSION_PROGRESS=0`` turns it off.
    """
    global _progress_enabled
    _progress_enabled = bool(enabled)


@contextlib.contextmanager
def reading_status(path: Path) -> Iterator[None]:
    """Show a rich status line while a large file is read (no-op for small files)."""
    size = path.stat().st_size
    if not _progress_enabled or size < PROGRESS_MIN_BYTES:
        yield
        return
    from rich.console import Console

    console = Console(stderr=True)
    with console.status(f"reading {path.name} ({size / 1e6:.0f} MB)"):
        yield


def fail(
    spec: ReadSpec,
    problem: str,
    fix: str,
    *,
    record: int | None = None,
    column: str | None = None,
    value: object = None,
) -> InputError:
    """Build the one-shape InputError: file, location, column, value, problem and fix."""
    where = [f"{spec.role} file '{spec.path}'"]
    if record is not None:
        where.append(location_text(spec, record))
    if column is not None:
        where.append(f"column '{column}'")
    text = ", ".join(where)
    if value is not None:
        text += f": value {value!r}"
    return InputError(f"data loader: {text}: {problem}. Fix: {fix}")


def resolve_spec(
    path: Path, layout: str = "auto", delimiter: str | None = None, role: str = "interactions"
) -> ReadSpec:
    """Decide layout and delimiter of ``path``; checks that the file exists and is not empty."""
    path = Path(path)
    probe = ReadSpec(path, "csv", ",", role)
    _check_exists(probe)
    if layout == "auto":
        layout = _layout_from_extension(probe)
    if layout == "tsv":
        layout, delimiter = "csv", delimiter or "\t"
    if layout == "atomic":
        delimiter = delimiter or "\t"
    if delimiter == "":
        raise fail(probe, "the delimiter is empty", "set data.delimiter to e.g. ',' or '\\t'")
    if layout == "parquet":
        return ReadSpec(path, "parquet", "", role)
    _check_not_empty(probe)
    return ReadSpec(path, layout, delimiter or sniff_delimiter(path), role)


def _check_exists(spec: ReadSpec) -> None:
    if spec.path.is_file():
        return
    parent = spec.path.parent if spec.path.parent.is_dir() else None
    names = [p.name for p in parent.iterdir()] if parent else []
    close = difflib.get_close_matches(spec.path.name, names, n=1)
    hint = f"did you mean '{parent / close[0]}'?" if close and parent else "check the path"
    raise fail(spec, "the file does not exist or is not a regular file", hint)


def _check_not_empty(spec: ReadSpec) -> None:
    with open(spec.path, "rb") as handle:
        start = handle.read(4096)
    if not start.removeprefix(codecs.BOM_UTF8).strip():
        raise fail(
            spec,
            "the file is empty; expected a header line and at least one data line",
            "check that the export finished and the right file is configured",
        )


def _layout_from_extension(spec: ReadSpec) -> str:
    suffix = spec.path.suffix.lower()
    if suffix in _EXTENSIONS:
        return _EXTENSIONS[suffix]
    known = ", ".join(sorted(_EXTENSIONS))
    raise fail(
        spec,
        f"unknown file extension '{suffix}'; expected one of {known}",
        "rename the file or set data.format to 'csv', 'tsv', 'parquet' or 'atomic'",
    )


def has_known_extension(path: Path) -> bool:
    """True when the layout of ``path`` can be told from its extension."""
    return Path(path).suffix.lower() in _EXTENSIONS


def sniff_delimiter(path: Path) -> str:
    """The most frequent of , TAB ; | outside quotes in the header line (',' if none)."""
    with open(path, "rb") as handle:
        head = handle.readline(65536).decode("utf-8-sig", errors="replace")
    counts = dict.fromkeys(_SNIFF_DELIMITERS, 0)
    quoted = False
    for char in head:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(_SNIFF_DELIMITERS, key=lambda char: counts[char])
    return best if counts[best] else ","


def read_header(spec: ReadSpec) -> list[str]:
    """Column names of the file (atomic ``:type`` suffixes removed)."""
    try:
        if spec.layout == "parquet":
            return list(pl.scan_parquet(spec.path).collect_schema().names())
        if spec.split_lines:
            return _split_header(_first_line(spec.path), spec)
        return [name for name in _scan_text(spec).collect_schema().names() if name != ROW]
    except pl.exceptions.PolarsError as exc:
        raise translate(spec, exc) from None


def atomic_types(spec: ReadSpec) -> dict[str, str]:
    """Declared RecBole types by column name (``token``, ``token_seq``, ``float``...)."""
    fields = _first_line(spec.path).split(spec.separator)
    pairs = (field.partition(":") for field in fields)
    return {name: kind for name, _, kind in pairs}


def _first_line(path: Path) -> str:
    with open(path, "rb") as handle:
        return handle.readline().decode("utf-8-sig", errors="replace").rstrip("\r\n")


def _split_header(line: str, spec: ReadSpec) -> list[str]:
    names = line.split(spec.separator)
    return [_strip_type(name) for name in names] if spec.layout == "atomic" else names


def _strip_type(name: str) -> str:
    return name.partition(":")[0]


def _scan_text(spec: ReadSpec) -> pl.LazyFrame:
    renamer = (lambda names: [_strip_type(n) for n in names]) if spec.layout == "atomic" else None
    return pl.scan_csv(
        spec.path,
        separator=spec.separator,
        quote_char='"' if spec.quoting else None,
        infer_schema=False,
        row_index_name=ROW,
        with_column_names=renamer,
        raise_if_empty=False,
    )


def check_columns(spec: ReadSpec, header: list[str], wanted: dict[str, str]) -> None:
    """Raise when a configured column is absent; ``wanted`` maps config key to column name."""
    _check_unique_header(spec)
    for key, name in wanted.items():
        if name in header:
            continue
        _check_glued_header(spec, header)
        close = difflib.get_close_matches(name, header, n=1, cutoff=0.5)
        folded = [col for col in header if col.casefold() == name.casefold()]
        guess = (folded or close or [None])[0]
        hint = f"set {key} = '{guess}'" if guess else f"set {key} to one of the columns"
        shown = ", ".join(repr(col) for col in header[:20])
        raise fail(
            spec,
            f"column '{name}' ({key}) is missing; the header has {shown}",
            hint + (" (closest existing name)" if guess else ""),
        )


def _check_unique_header(spec: ReadSpec) -> None:
    """A header naming a column twice is ambiguous (polars would silently rename one)."""
    if spec.layout == "parquet" or spec.split_lines:
        return
    with open(spec.path, encoding="utf-8-sig", errors="replace", newline="") as handle:
        names = next(csv.reader(handle, delimiter=spec.separator, quotechar='"'), [])
    names = [_strip_type(name) for name in names] if spec.layout == "atomic" else names
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise fail(
            spec,
            f"the header names column(s) {', '.join(repr(n) for n in repeated)} more than once",
            "give every column a distinct name in the header line",
        )


def _check_glued_header(spec: ReadSpec, header: list[str]) -> None:
    """A one-column header holding another delimiter means the delimiter is wrong."""
    if len(header) != 1 or spec.layout == "parquet":
        return
    glued = [char for char in _SNIFF_DELIMITERS if char in header[0]]
    if glued:
        raise fail(
            spec,
            f"the header {header[0]!r} is read as one column with delimiter "
            f"{spec.separator!r}; it looks delimited by {glued[0]!r}",
            f"set data.delimiter = {glued[0]!r} (or leave it unset to guess it)",
        )


def read_table(spec: ReadSpec, columns: list[str]) -> pl.DataFrame:
    """The given columns as strings plus the 0-based record index ``ROW``."""
    with reading_status(spec.path):
        try:
            if spec.layout == "parquet":
                return _read_parquet(spec, columns)
            if spec.split_lines:
                return _read_split_lines(spec, columns)
            frame = _scan_text(spec).select(ROW, *columns).collect()
            _check_no_extra_fields(spec)
            return frame
        except pl.exceptions.PolarsError as exc:
            raise translate(spec, exc) from None


def _check_no_extra_fields(spec: ReadSpec) -> None:
    """Reject records with more fields than the header, which a projected read ignores.

    A streaming pass that touches every column (its output is empty) makes polars check
    each record's field count; its error goes through :func:`translate`, which finds the
    line.
    """
    all_empty = pl.all_horizontal(pl.exclude(ROW).is_null())
    _scan_text(spec).filter(all_empty).select(ROW).collect(engine="streaming")


def _read_parquet(spec: ReadSpec, columns: list[str]) -> pl.DataFrame:
    frame = pl.scan_parquet(spec.path, row_index_name=ROW).select(ROW, *columns).collect()
    casts = [_parquet_to_string(name, frame.schema[name]) for name in columns]
    return frame.with_columns(casts)


def _parquet_to_string(name: str, dtype: pl.DataType) -> pl.Expr:
    column = pl.col(name)
    if dtype == pl.Date:
        column, dtype = column.cast(pl.Datetime("us")), pl.Datetime("us")
    if isinstance(dtype, pl.Datetime):
        return (column.dt.epoch("us") / 1_000_000).cast(pl.String)
    if isinstance(dtype, (pl.List, pl.Array)):
        return column.cast(pl.List(pl.String))
    return column.cast(pl.String)


def _read_split_lines(spec: ReadSpec, columns: list[str]) -> pl.DataFrame:
    header = read_header(spec)
    lines = pl.scan_csv(
        spec.path,
        has_header=False,
        separator="\x1f",
        quote_char=None,
        infer_schema=False,
        new_columns=[_LINE_COLUMN],
        skip_rows=1,
        row_index_name=ROW,
    ).collect()
    parts = pl.col(_LINE_COLUMN).str.split(spec.separator)
    counts = lines.select(parts.list.len().fill_null(0)).to_series()
    bad = ((counts != len(header)) & lines[_LINE_COLUMN].is_not_null()).arg_true()
    if bad.len():
        record = int(lines[ROW][bad[0]])
        raise field_count_error(spec, record, int(counts[bad[0]]), len(header))
    picks = [parts.list.get(header.index(n)).replace("", None).alias(n) for n in columns]
    return lines.select(ROW, *picks)


def field_count_error(spec: ReadSpec, record: int, found: int, expected: int) -> InputError:
    """The mismatched-field-count error for one record."""
    return fail(
        spec,
        f"the line has {found} fields but the header has {expected}",
        "quote fields that contain the delimiter, or check data.delimiter "
        f"(now {spec.separator!r})",
        record=record,
    )


def translate(spec: ReadSpec, exc: Exception) -> InputError:
    """Turn a polars read failure into an InputError with a location where one is found."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    detail = str(exc).lower()
    if spec.layout == "parquet":
        return fail(
            spec,
            f"the file is not readable Parquet ({text})",
            "re-export it as Parquet, or set data.format if it is a text file",
        )
    if "utf-8" in detail or "utf8" in detail:
        return fail(
            spec,
            f"line {first_invalid_utf8_line(spec.path)} is not valid UTF-8; expected UTF-8 text",
            "convert the file to UTF-8, e.g. iconv -f latin1 -t utf-8 in.csv > out.csv",
        )
    located = _located_parse_error(spec, detail)
    return located or fail(
        spec, f"the file could not be parsed ({text})", "check data.delimiter and data.format"
    )


def _located_parse_error(spec: ReadSpec, detail: str) -> InputError | None:
    """An unclosed quote or a field-count mismatch, found by re-reading the file."""
    if "escaped" in detail or "quote" in detail:
        record = first_open_quote(spec)
        if record is not None:
            return fail(
                spec,
                "a quoted field starting on this line is never closed",
                'close the quote, and write a quote inside a quoted field as ""',
                record=record,
            )
    if "field" in detail:
        mismatch = first_field_mismatch(spec)
        if mismatch is not None:
            return field_count_error(spec, *mismatch)
    return None


def iter_records(spec: ReadSpec) -> Iterator[tuple[int, int, list[str]]]:
    """Yield (record index, first line number, fields) for every data record, in order."""
    with open(spec.path, encoding="utf-8-sig", newline="") as handle:
        if spec.quoting and not spec.split_lines:
            reader = csv.reader(handle, delimiter=spec.separator)
            next(reader, None)
            previous = reader.line_num
            for record, fields in enumerate(reader):
                yield record, previous + 1, fields
                previous = reader.line_num
            return
        next(handle, None)
        for record, line in enumerate(handle):
            text = line.rstrip("\r\n")
            yield record, record + 2, text.split(spec.separator) if text else []


def locate(spec: ReadSpec, records: Iterable[int]) -> dict[int, tuple[int, int]]:
    """Map record indices to (line number, field count); parquet rows map to (row, -1)."""
    wanted = sorted(set(int(r) for r in records))
    if spec.layout == "parquet":
        return {record: (record + 1, -1) for record in wanted}
    found: dict[int, tuple[int, int]] = {}
    if not wanted:
        return found
    pending = iter(wanted)
    target = next(pending)
    for record, line, fields in iter_records(spec):
        if record == target:
            found[record] = (line, len(fields))
            target = next(pending, -1)
            if target < 0:
                break
    return found


def location_text(spec: ReadSpec, record: int) -> str:
    """'line N' for text files, 'row N' for Parquet (both 1-based)."""
    number = locate(spec, [record]).get(record, (record + 2, -1))[0]
    return f"row {number}" if spec.layout == "parquet" else f"line {number}"


def first_field_mismatch(spec: ReadSpec) -> tuple[int, int, int] | None:
    """(record, fields found, fields expected) of the first record whose width differs."""
    expected = len(read_header(spec))
    for record, _, fields in iter_records(spec):
        if fields and len(fields) != expected:
            return record, len(fields), expected
    return None


def first_open_quote(spec: ReadSpec) -> int | None:
    """Record index of the first record that runs on to the end of the file inside quotes."""
    last = None
    for record, _, fields in iter_records(spec):
        last = (record, fields)
    if last is not None and any("\n" in field for field in last[1]):
        return last[0]
    return None


def first_invalid_utf8_line(path: Path) -> int:
    """1-based line of the first byte sequence that is not UTF-8 (0 when all is valid)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines = 1
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return lines + chunk.count(b"\n", 0, max(exc.start, 0))
            lines += chunk.count(b"\n")
    return 0


__all__ = [
    "ROW",
    "ReadSpec",
    "atomic_types",
    "check_columns",
    "fail",
    "has_known_extension",
    "locate",
    "read_header",
    "read_table",
    "reading_status",
    "resolve_spec",
    "set_progress",
    "sniff_delimiter",
]
