"""Number formatting shared by the CSV, the console table and the HTML page."""

from __future__ import annotations

import math

#: Significant digits kept in benchmark_report.csv: enough for any metric, few enough that
#: last-bit noise from summation order never reaches the file.
CSV_DIGITS = 10


def csv_float(value: float | None) -> str | None:
    """Reproducible text of a float for CSV: 10 significant digits, None for null."""
    if value is None:
        return None
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    text = format(value, f".{CSV_DIGITS}g")
    if math.isinf(float(text)):
        return repr(value)  # rounding the largest floats up would overflow to inf
    return "0" if text == "-0" else text


def number(value: float | None) -> str:
    """Short human text of a number: 4 decimals below 1, fewer for larger values."""
    if value is None or not math.isfinite(value):
        return "–"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.3f}"
    if magnitude == 0 or magnitude >= 1e-3:
        return f"{value:.4f}"
    return f"{value:.2e}"


def signed(value: float) -> str:
    """Number with an explicit sign, for differences."""
    text = number(value)
    return text if text.startswith(("-", "–")) else f"+{text}"


def p_value(value: float | None) -> str:
    """p-value text: ``<0.001`` for tiny values, three decimals otherwise."""
    if value is None or not math.isfinite(value):
        return "–"
    return "<0.001" if value < 1e-3 else f"{value:.3f}"


def percent(fraction: float) -> str:
    """Signed percentage of a fraction, e.g. ``+12.3%``."""
    if not math.isfinite(fraction):
        return "–"
    return f"{fraction * 100:+.1f}%"


def decimals_for(values: list[float]) -> int:
    """Decimals that suit a whole column: 0 for whole numbers, else by the largest value."""
    finite = [value for value in values if value is not None and math.isfinite(value)]
    if not finite:
        return 4
    if all(float(value).is_integer() for value in finite):
        return 0
    largest = max(abs(value) for value in finite)
    return 0 if largest >= 1000 else 1 if largest >= 100 else 3 if largest >= 1 else 4


def fixed(value: float | None, decimals: int) -> str:
    """``value`` with ``decimals`` decimals and thousands separators; a dash when missing."""
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:,.{decimals}f}"
