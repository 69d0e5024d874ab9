"""The headline of a run: best strategy and its gain over the best single channel."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import polars as pl

from recfusion.report._format import number, p_value, percent, signed
from recfusion.report._tidy import Benchmark, Cell, is_external, is_fused, label


@dataclass(frozen=True)
class Headline:
    """Best recfusion strategy on the main metric and its gain over the best single channel.

    ``gain`` is metric(best) - metric(single); ``gain_low``/``gain_high``/``p_value`` come
    from the paired comparison table and are NaN when it has no row pairing the two. The
    ``external_*`` fields compare ``best`` with the best external baseline the same way
    (metric(best) - metric(external)).
    """

    metric: str
    k: int | None
    best: str | None
    best_cell: Cell | None
    single: str | None
    single_cell: Cell | None
    gain: float = math.nan
    gain_low: float = math.nan
    gain_high: float = math.nan
    p_value: float = math.nan
    external: str | None = None
    external_cell: Cell | None = None
    external_gain: float = math.nan
    external_low: float = math.nan
    external_high: float = math.nan
    external_p_value: float = math.nan

    def sentence(self) -> str:
        """Plain-text summary: winner with CI, gain over the best channel and vs externals."""
        metric = label(self.metric, self.k)
        if not self.best or not self.best_cell:
            return f"No recfusion strategy has a value for {metric}."
        text = f"{self.best} has the best {metric} among recfusion strategies: "
        text += with_ci(self.best_cell) + "."
        if self.single and self.single_cell and self.single != self.best:
            text += (
                f" That is {signed(self.gain)} ({percent(self.relative_gain)}) over the best "
                f"single channel, {self.single} ({number(self.single_cell.value)})"
                f"{_interval_text(self.gain_low, self.gain_high, self.p_value)}."
            )
        elif self.single == self.best:
            text += " No fusion method beats the best single channel."
        return text + self._external_sentence()

    def _external_sentence(self) -> str:
        """`` It beats/trails the best external baseline …`` or nothing."""
        if not self.external or not self.external_cell:
            return ""
        verb = "beats" if self.external_gain > 0 else "does not beat"
        interval = _interval_text(self.external_low, self.external_high, self.external_p_value)
        return (
            f" It {verb} the best external baseline, {self.external} "
            f"({number(self.external_cell.value)}): difference {signed(self.external_gain)}"
            f"{interval}."
        )

    @property
    def relative_gain(self) -> float:
        """Gain as a fraction of the single channel's value (NaN when undefined)."""
        if self.single_cell is None or not self.single_cell.value:
            return math.nan
        return self.gain / self.single_cell.value


def headline(bench: Benchmark, paired: pl.DataFrame | None) -> Headline:
    """Compare the best non-external strategy with the best single channel on the main metric."""
    metric, k = bench.main_metric()
    own = [name for name in bench.strategies if not is_external(name)]
    singles = [name for name in own if not is_fused(name)]
    externals = [name for name in bench.strategies if is_external(name)]
    best = bench.best(metric, k, own)
    single = bench.best(metric, k, singles)
    external = bench.best(metric, k, externals)
    found = Headline(
        metric=metric,
        k=k,
        best=best,
        best_cell=bench.cell(best, metric, k) if best else None,
        single=single,
        single_cell=bench.cell(single, metric, k) if single else None,
        external=external,
        external_cell=bench.cell(external, metric, k) if external else None,
    )
    if found.best_cell is None:
        return found
    if found.single_cell is not None:
        low, high, p_value = _paired_interval(paired, metric, k, best, single)
        gain = found.best_cell.value - found.single_cell.value
        found = replace(found, gain=gain, gain_low=low, gain_high=high, p_value=p_value)
    if found.external_cell is not None:
        low, high, p_value = _paired_interval(paired, metric, k, best, external)
        gain = found.best_cell.value - found.external_cell.value
        found = replace(found, external_gain=gain, external_low=low, external_high=high,
                        external_p_value=p_value)  # fmt: skip
    return found


def _paired_interval(
    paired: pl.DataFrame | None, metric: str, k: int | None, best: str | None, other: str | None
) -> tuple[float, float, float]:
    """CI and p-value of metric(best) - metric(other) from the paired table, else NaNs.

    A paired row holds metric(strategy) - metric(best_strategy), so the row pairing
    ``other`` with ``best`` is negated and one pairing ``best`` with ``other`` is kept.
    """
    missing = (math.nan, math.nan, math.nan)
    if paired is None or best is None or other is None or best == other:
        return missing
    rows = paired.filter(pl.col("metric") == metric)
    if k is not None:
        rows = rows.filter(pl.col("k").cast(pl.Int64, strict=False) == k)
    for row in rows.iter_rows(named=True):
        low, high, p_value = (_float(row[name]) for name in ("ci_low", "ci_high", "p_value"))
        if row["best_strategy"] == best and row["strategy"] == other:
            return -high, -low, p_value
        if row["best_strategy"] == other and row["strategy"] == best:
            return low, high, p_value
    return missing


def _float(value: object) -> float:
    """Float of a table value, NaN for null."""
    return math.nan if value is None else float(value)  # type: ignore[arg-type]


def with_ci(cell: Cell) -> str:
    """``0.1103 (95% CI 0.1040–0.1166)`` or just the value."""
    if not cell.has_ci:
        return number(cell.value)
    return f"{number(cell.value)} (95% CI {number(cell.low)}–{number(cell.high)})"


def _interval_text(low: float, high: float, p: float) -> str:
    """`` (paired 95% CI [a, b], p = …)`` or a note that no paired test covers the pair."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return " (no paired test for this pair)"
    shown = p_value(p)
    relation = shown if shown.startswith("<") else f"= {shown}"
    return f" (paired 95% CI [{signed(low)}, {signed(high)}], p {relation})"
