"""Charts drawn from the optional extras: popularity bias, latency, overlap, tuning curves."""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from recfusion.report._extras import ReportExtras
from recfusion.report._plot import PALETTE, chart_name, line_style, new_figure, safe

CDF_POINTS = 513
TOP_FEATURES = 20


def _colour(palette: dict, name: str, index: int) -> str:
    """The strategy's colour, or a palette colour for names absent from the table."""
    return palette.get(name, PALETTE[index % len(PALETTE)])


def _finite(values: Any) -> np.ndarray:
    """Float array of the finite entries of ``values``."""
    array = np.asarray(values, dtype=np.float64).ravel()
    return array[np.isfinite(array)]


def popularity_bias(extras: ReportExtras, palette: dict) -> Figure | None:
    """CDF of the training popularity of recommended items against the catalogue's."""
    recommended = extras.recommended_popularity or {}
    series = [(name, _finite(values)) for name, values in recommended.items()]
    series = [(name, values) for name, values in series if values.size]
    if not series:
        return None
    figure = new_figure(8.5, 4.8)
    axes = figure.add_subplot()
    catalogue = _finite(extras.catalogue_popularity if extras.catalogue_popularity is not None
                        else [])  # fmt: skip
    if catalogue.size:
        _draw_cdf(axes, catalogue, f"catalogue items (median {_median(catalogue)})",
                  color="black", linestyle=":", linewidth=2.4)  # fmt: skip
    for index, (name, values) in enumerate(series):
        style = line_style(name) | {"marker": None}
        _draw_cdf(axes, values, f"{chart_name(name)} (median {_median(values)})",
                  color=_colour(palette, name, index), **style)  # fmt: skip
    axes.set_xscale("symlog", linthresh=1.0)
    axes.set_xlim(left=0)
    axes.set_ylim(0, 1.01)
    axes.set_xlabel("training popularity of the item (interactions; symlog scale)")
    axes.set_ylabel("share at or below x (cumulative)")
    axes.set_title("Popularity bias: recommended slots vs catalogue items (CDF)")
    axes.legend(loc="lower right")
    return figure


def _median(values: np.ndarray) -> str:
    """Formatted median of a non-empty array."""
    return f"{float(np.median(values)):.4g}"


def _draw_cdf(axes: Axes, values: np.ndarray, text: str, **style: Any) -> None:
    """Empirical CDF of ``values`` drawn through fixed quantiles (size-independent)."""
    shares = np.linspace(0.0, 1.0, CDF_POINTS)
    points = np.quantile(values, shares, method="inverted_cdf")
    axes.step(points, shares, where="post", label=text, **style)


def latency_distribution(extras: ReportExtras, palette: dict) -> Figure | None:
    """Box plots of per-request latency in milliseconds, one per strategy."""
    samples = extras.latency_samples_ms or {}
    series = [(name, _finite(values)) for name, values in samples.items()]
    series = [(name, values) for name, values in series if values.size]
    if not series:
        return None
    figure = new_figure(8.0, 1.6 + 0.45 * len(series))
    axes = figure.add_subplot()
    boxes = axes.boxplot([values for _, values in series], patch_artist=True,
                         tick_labels=[chart_name(name) for name, _ in series],
                         flierprops={"markersize": 2, "alpha": 0.5},
                         medianprops={"color": "black"}, **_horizontal())  # fmt: skip
    for index, (box, (name, _)) in enumerate(zip(boxes["boxes"], series)):
        box.set_facecolor(_colour(palette, name, index))
        box.set_alpha(0.75)
    if min(float(values.min()) for _, values in series) > 0:
        axes.set_xscale("log")
    axes.set_xlabel("latency per request (milliseconds; log scale when all are positive)")
    axes.set_title("Latency distribution per strategy (box: quartiles; whiskers: 1.5 IQR)")
    axes.grid(axis="y", visible=False)
    return figure


def _horizontal() -> dict[str, Any]:
    """Keyword for horizontal box plots on both older and newer matplotlib."""
    if "orientation" in inspect.signature(Axes.boxplot).parameters:
        return {"orientation": "horizontal"}
    return {"vert": False}


def channel_overlap(extras: ReportExtras) -> Figure | None:
    """Heatmap of the Jaccard overlap between the channels' candidate sets."""
    if extras.overlap_names is None or extras.overlap_jaccard is None:
        return None
    names = [chart_name(str(name)) for name in extras.overlap_names]
    matrix = np.asarray(extras.overlap_jaccard, dtype=np.float64)
    if not names:
        return None
    side = 2.8 + 0.75 * len(names)
    figure = new_figure(side + 1.2, side)
    axes = figure.add_subplot()
    image = axes.imshow(matrix, vmin=0.0, vmax=1.0, cmap="Blues")
    for (row, column), value in np.ndenumerate(matrix):
        text = "–" if not math.isfinite(value) else f"{value:.2f}"
        colour = "white" if math.isfinite(value) and value > 0.6 else "black"
        axes.text(column, row, text, ha="center", va="center", fontsize=8, color=colour)
    axes.set_xticks(range(len(names)), names, rotation=40, ha="right")
    axes.set_yticks(range(len(names)), names)
    axes.grid(False)
    figure.colorbar(image, ax=axes, label="Jaccard overlap of candidate sets (0–1)")
    axes.set_title("Channel overlap (1 = identical candidates)")
    return figure


def mmr_tradeoff(extras: ReportExtras) -> Figure | None:
    """NDCG against diversity as the MMR lambda varies, points labelled by lambda."""
    frame = extras.mmr_tradeoff
    if frame is None or frame.height == 0:
        return None
    rows = frame.select("lambda", "ndcg", "diversity").drop_nulls().sort("lambda")
    figure = new_figure(7.0, 4.6)
    axes = figure.add_subplot()
    axes.plot(rows["diversity"], rows["ndcg"], marker="o", color=PALETTE[0], linewidth=1.6)
    for lam, ndcg, diversity in rows.iter_rows():
        axes.annotate(f"λ={lam:g}", (diversity, ndcg), xytext=(5, 4),
                      textcoords="offset points", fontsize=8)  # fmt: skip
    axes.set_xlabel("intra-list diversity (higher = more varied lists)")
    axes.set_ylabel("NDCG (higher is better)")
    axes.set_title("MMR re-ranking: accuracy vs diversity as λ varies")
    axes.margins(x=0.15, y=0.15)
    return figure


def pareto_front(extras: ReportExtras) -> Figure | None:
    """Tuning trials on the accuracy/diversity Pareto front, joined in diversity order."""
    frame = extras.pareto_front
    if frame is None or frame.height == 0:
        return None
    accuracy = _pick_column(frame, "accuracy", ("ndcg", "recall", "map", "hit"))
    diversity = _pick_column(frame, "diversity", ("diversity", "coverage", "novelty"))
    if accuracy is None or diversity is None:
        return None
    rows = frame.select(diversity, accuracy).drop_nulls().sort(diversity)
    figure = new_figure(7.0, 4.6)
    axes = figure.add_subplot()
    axes.plot(rows[diversity], rows[accuracy], marker="o", color=PALETTE[2], linewidth=1.6,
              drawstyle="steps-post", label="Pareto-optimal trials")  # fmt: skip
    axes.set_xlabel(f"{safe(diversity)} (higher = more varied)")
    axes.set_ylabel(f"{safe(accuracy)} (higher is better)")
    axes.set_title("Fusion tuning: Pareto front of accuracy vs diversity")
    axes.legend(loc="upper right")
    axes.margins(x=0.1, y=0.15)
    return figure


def _pick_column(frame: pl.DataFrame, exact: str, hints: tuple[str, ...]) -> str | None:
    """Numeric column named ``exact``, else the first whose name contains a hint."""
    numeric = [name for name, dtype in frame.schema.items() if dtype.is_numeric()]
    if exact in numeric:
        return exact
    return next((name for hint in hints for name in numeric if hint in name.lower()), None)


def ltr_importance(extras: ReportExtras) -> Figure | None:
    """Bars of the learning-to-rank fuser's feature importances (top 20)."""
    frame = extras.feature_importances
    if frame is None or frame.height == 0:
        return None
    rows = frame.select("feature", "importance").drop_nulls()
    rows = rows.sort(["importance", "feature"], descending=[True, False]).head(TOP_FEATURES)
    names = [safe(name) for name in rows["feature"].to_list()][::-1]
    figure = new_figure(7.5, 1.4 + 0.32 * len(names))
    axes = figure.add_subplot()
    axes.barh(np.arange(len(names)), rows["importance"].to_list()[::-1], color=PALETTE[4])
    axes.set_yticks(np.arange(len(names)), names)
    axes.set_xlabel("importance (as reported by the ranker, e.g. total gain)")
    axes.set_title("Learning-to-rank fuser: feature importances")
    axes.grid(axis="y", visible=False)
    return figure


def flatten_weights(weights: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """(dotted name, value) pairs of a possibly nested weights mapping, in its order."""
    pairs: list[tuple[str, Any]] = []
    for key, value in weights.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            pairs += flatten_weights(value, f"{name} / ")
        else:
            pairs.append((name, value))
    return pairs


def fusion_weights(extras: ReportExtras) -> Figure | None:
    """Bars of the numeric fusion weights, one panel per fusion method (nested mapping).

    A method with a single numeric parameter (such as the RRF constant) is left to the
    table, since one bar says nothing a number does not.
    """
    groups = [(title, pairs) for title, pairs in _weight_groups(extras.fusion_weights or {})
              if len(pairs) > 1]  # fmt: skip
    if not groups:
        return None
    longest = max(len(pairs) for _, pairs in groups)
    figure = new_figure(3.8 * len(groups) + 1.6, 1.6 + 0.34 * longest)
    panels = figure.subplots(1, len(groups), squeeze=False)[0]
    for axes, (title, pairs) in zip(panels, groups):
        positions = np.arange(len(pairs))
        axes.barh(positions, [value for _, value in pairs][::-1], color=PALETTE[1])
        axes.set_yticks(positions, [safe(name) for name, _ in pairs][::-1])
        axes.set_title(safe(title))
        axes.set_xlabel("weight (unitless)")
        axes.grid(axis="y", visible=False)
    figure.suptitle("Fusion weights chosen", weight="bold")
    return figure


def _weight_groups(weights: Mapping[str, Any]) -> list[tuple[str, list[tuple[str, float]]]]:
    """(method, numeric (name, value) pairs): top-level numbers form the group "weights"."""
    groups: list[tuple[str, list[tuple[str, float]]]] = []
    top = [(str(key), value) for key, value in weights.items() if not isinstance(value, Mapping)]
    for title, pairs in [("weights", top)] + [
        (str(key), flatten_weights(value)) for key, value in weights.items()
        if isinstance(value, Mapping)
    ]:  # fmt: skip
        numeric = [(name, float(value)) for name, value in pairs
                   if isinstance(value, (int, float)) and not isinstance(value, bool)]  # fmt: skip
        if numeric:
            groups.append((title, numeric))
    return groups
