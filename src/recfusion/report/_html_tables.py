"""HTML tables of the report. Every string placed in the page passes through :func:`esc`."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from recfusion.columns import ALL_USERS
from recfusion.report._format import decimals_for, fixed, number, p_value, signed
from recfusion.report._tidy import DIRECTION, Benchmark, Cell, is_external, is_fused, label

MAX_FRAME_ROWS = 200
Column = tuple[str, int | None]


def esc(text: object) -> str:
    """HTML-escaped text of any value (quotes included, safe inside attributes)."""
    return html.escape(str(text), quote=True)


def strategy_cell(name: str, tag: str = "th", scope: str = "row") -> str:
    """Header (or data) cell of a strategy with a badge for externals and fusion outputs."""
    badge = ""
    if is_external(name):
        badge = ' <span class="badge ext">external</span>'
    elif is_fused(name):
        badge = ' <span class="badge fused">fusion</span>'
    scope_attribute = f' scope="{scope}"' if tag == "th" else ""
    return f'<{tag}{scope_attribute} class="name">{esc(name)}{badge}</{tag}>'


def value_cell(cell: Cell | None, best: bool, decimals: int, first_of_group: bool = False) -> str:
    """Numeric cell: value, ± half the CI width, the exact interval as a tooltip."""
    group = " grp" if first_of_group else ""
    if cell is None or not math.isfinite(cell.value):
        return f'<td class="num missing{group}">–</td>'
    classes = ("num best" if best else "num") + group
    shown = esc(fixed(cell.value, decimals))
    if not cell.has_ci:
        return f'<td class="{classes}">{shown}</td>'
    half = fixed((cell.high - cell.low) / 2, max(decimals, 1))
    tooltip = f"95% CI [{number(cell.low)}, {number(cell.high)}]"
    return (
        f'<td class="{classes}" title="{esc(tooltip)}">{shown}'
        f'<span class="pm">±{esc(half)}</span></td>'
    )


def _decimals(cells: Sequence[Cell | None]) -> int:
    """Common decimals of a column of cells."""
    return decimals_for([cell.value for cell in cells if cell is not None])


def best_flags(cells: Sequence[Cell | None], metric: str) -> list[bool]:
    """Which cells hold the best value for ``metric`` (ties all count; none if < 2 values)."""
    sign = DIRECTION.get(metric, 0)
    values = [cell.value for cell in cells if cell is not None and math.isfinite(cell.value)]
    if sign == 0 or len(values) < 2:
        return [False] * len(cells)
    top = max(sign * value for value in values)
    return [cell is not None and sign * cell.value == top for cell in cells]


def metric_matrix(bench: Benchmark, columns: list[Column], caption: str) -> str:
    """Strategies as rows, (metric, k) as columns, over all users; best per column marked."""
    columns = [column for column in columns if _has_column(bench, column)]
    if not columns:
        return ""
    grid = [[bench.cell(name, m, k) for m, k in columns] for name in bench.strategies]
    flags = [best_flags([row[j] for row in grid], columns[j][0]) for j in range(len(columns))]
    starts = [j == 0 or columns[j - 1][0] != columns[j][0] for j in range(len(columns))]
    places = [_decimals([row[j] for row in grid]) for j in range(len(columns))]
    body = [
        "<tr>" + strategy_cell(name)
        + "".join(value_cell(row[j], flags[j][i], places[j], starts[j])
                  for j in range(len(columns)))
        + "</tr>"
        for i, (name, row) in enumerate(zip(bench.strategies, grid))
    ]  # fmt: skip
    return _table(caption, _matrix_header(columns), body)


def _has_column(bench: Benchmark, column: Column) -> bool:
    """True when at least one strategy has a value for this (metric, k)."""
    return any(bench.cell(name, *column) is not None for name in bench.strategies)


def _matrix_header(columns: list[Column]) -> str:
    """One header row; a second row of k values when a metric spans several cut-offs."""
    groups: list[tuple[str, list[int | None]]] = []
    for metric, k in columns:
        if groups and groups[-1][0] == metric:
            groups[-1][1].append(k)
        else:
            groups.append((metric, [k]))
    if all(len(ks) == 1 for _, ks in groups):
        cells = "".join(
            f'<th scope="col" class="grp">{esc(_arrowed(m, ks[0]))}</th>' for m, ks in groups
        )
        return f'<tr><th scope="col">strategy</th>{cells}</tr>'
    top = "".join(
        f'<th scope="colgroup" class="grp" colspan="{len(ks)}">{esc(_arrowed(m, None))}</th>'
        for m, ks in groups
    )
    bottom = "".join(
        f'<th scope="col" class="k{" grp" if i == 0 else ""}">@{esc(k)}</th>'
        for _, ks in groups
        for i, k in enumerate(ks)
    )
    return f'<tr><th scope="col" rowspan="2">strategy</th>{top}</tr><tr>{bottom}</tr>'


def _arrowed(metric: str, k: int | None) -> str:
    """Metric label with ↑ (higher is better) or ↓ (lower is better)."""
    arrow = {1: " ↑", -1: " ↓"}.get(DIRECTION.get(metric, 0), "")
    return f"{label(metric, k)}{arrow}"


def segments_matrix(
    bench: Benchmark, metric: str, k: int | None, sizes: Mapping[str, int] | None
) -> str:
    """Segments as rows, strategies as columns, for one metric@k; best per row marked."""
    segments = [ALL_USERS] + [name for name in bench.segments if name != ALL_USERS]
    names = [name for name in bench.strategies
             if any(bench.cell(name, metric, k, segment) for segment in segments)]  # fmt: skip
    if len(segments) < 2 or not names:
        return ""
    size_header = '<th scope="col">users</th>' if sizes else ""
    header = f'<tr><th scope="col">segment</th>{size_header}'
    header += "".join(strategy_cell(name, "th", "col") for name in names) + "</tr>"
    grid = [[bench.cell(name, metric, k, segment) for name in names] for segment in segments]
    places = _decimals([cell for row in grid for cell in row])
    body = []
    for segment, cells in zip(segments, grid):
        size = f'<td class="num">{esc(_count(sizes, segment))}</td>' if sizes else ""
        flags = best_flags(cells, metric)
        row = "".join(value_cell(c, f, places) for c, f in zip(cells, flags))
        body.append(f'<tr><th scope="row" class="name">{esc(segment)}</th>{size}{row}</tr>')
    return _table(f"{label(metric, k)} by user segment (best per row highlighted)", header, body)


def _count(sizes: Mapping[str, int] | None, segment: str) -> str:
    """Formatted user count of a segment, or a dash."""
    if not sizes or segment not in sizes:
        return "–"
    return f"{int(sizes[segment]):,}"


def paired_table(paired: pl.DataFrame | None) -> str:
    """Paired bootstrap comparisons against the best strategy; significant rows marked."""
    if paired is None or paired.height == 0:
        return ""
    header = (
        '<tr><th scope="col">metric</th><th scope="col">strategy</th>'
        '<th scope="col">compared with</th><th scope="col">mean difference</th>'
        '<th scope="col">95% CI</th><th scope="col">p-value</th>'
        '<th scope="col">CI excludes 0</th></tr>'
    )
    body = [_paired_row(row) for row in paired.iter_rows(named=True)]
    caption = "Paired bootstrap tests: mean of metric(strategy) − metric(best), same users"
    return _table(caption, header, body)


def _paired_row(row: dict[str, Any]) -> str:
    """One paired comparison as a table row."""
    k = row["k"]
    metric = label(str(row["metric"]), None if k is None else int(k))
    low, high = _maybe(row["ci_low"]), _maybe(row["ci_high"])
    interval = f"[{signed(low)}, {signed(high)}]" if math.isfinite(low + high) else "–"
    apart = math.isfinite(low + high) and (low > 0 or high < 0)
    row_class = ' class="self"' if row["strategy"] == row["best_strategy"] else ""
    return (
        f"<tr{row_class}><td>{esc(metric)}</td>"
        f"{strategy_cell(str(row['strategy']), 'td')}<td>{esc(row['best_strategy'])}</td>"
        f'<td class="num">{esc(signed(_maybe(row["mean_diff"])))}</td>'
        f'<td class="num">{esc(interval)}</td>'
        f'<td class="num">{esc(p_value(_maybe(row["p_value"])))}</td>'
        f'<td class="{"yes" if apart else "no"}">{"yes" if apart else "no"}</td></tr>'
    )


def _maybe(value: object) -> float:
    """Float of a table value, NaN for null or non-numbers."""
    try:
        return math.nan if value is None else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def frame_table(frame: pl.DataFrame | None, caption: str) -> str:
    """Any DataFrame as a table (first 200 rows), numbers formatted, text escaped."""
    if frame is None or frame.height == 0:
        return ""
    header = "<tr>" + "".join(f'<th scope="col">{esc(c)}</th>' for c in frame.columns) + "</tr>"
    shown = frame.head(MAX_FRAME_ROWS)
    places = [_column_decimals(shown[name].to_list()) for name in shown.columns]
    body = [
        "<tr>" + "".join(_plain_cell(value, d) for value, d in zip(row, places)) + "</tr>"
        for row in shown.iter_rows()
    ]
    if frame.height > MAX_FRAME_ROWS:
        caption += f" (first {MAX_FRAME_ROWS} of {frame.height} rows)"
    return _table(caption, header, body)


def mapping_table(
    pairs: Sequence[tuple[object, object]], headers: tuple[str, str], caption: str
) -> str:
    """Two-column table of (name, value) pairs."""
    if not pairs:
        return ""
    header = "<tr>" + "".join(f'<th scope="col">{esc(text)}</th>' for text in headers) + "</tr>"
    places = _column_decimals([value for _, value in pairs])
    body = [f"<tr><td>{esc(key)}</td>{_plain_cell(value, places)}</tr>" for key, value in pairs]
    return _table(caption, header, body)


def _column_decimals(values: list[object]) -> int:
    """Common decimals of the numbers in a column of generic values."""
    numbers = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return decimals_for(numbers)


def _plain_cell(value: object, decimals: int) -> str:
    """Cell of a generic value: numbers right-aligned and formatted, the rest escaped."""
    if isinstance(value, bool) or value is None:
        return f"<td>{esc('–' if value is None else value)}</td>"
    if isinstance(value, int):
        return f'<td class="num">{esc(f"{value:,}")}</td>'
    if isinstance(value, float):
        return f'<td class="num">{esc(fixed(value, decimals))}</td>'
    return f"<td>{esc(value)}</td>"


def _table(caption: str, header: str, body: list[str]) -> str:
    """A scrollable table with caption, header rows and body rows."""
    return (
        f'<div class="table-wrap"><table><caption>{esc(caption)}</caption>'
        f"<thead>{header}</thead><tbody>{''.join(body)}</tbody></table></div>"
    )
