"""Matplotlib plumbing for deterministic charts: style, colours, PNG bytes.

Figures are built with :class:`matplotlib.figure.Figure` directly (never pyplot), so no
global backend or figure registry is touched and rendering always goes through Agg.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator

import matplotlib.style
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from recfusion.report._tidy import display_name, is_external, is_fused

DPI = 110
STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.labelsize": 9,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "path.simplify": False,
}
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
    "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#ad494a", "#637939", "#8c6d31",
)  # fmt: skip
EXTERNAL_HATCH = "///"


@contextlib.contextmanager
def plotting_style() -> Iterator[None]:
    """Matplotlib defaults plus :data:`STYLE`, whatever the user's matplotlibrc says."""
    with matplotlib.style.context(["default", STYLE]):
        yield


def new_figure(width: float, height: float) -> Figure:
    """A white figure of ``width`` x ``height`` inches with constrained layout."""
    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def png_bytes(figure: Figure) -> bytes:
    """Render ``figure`` to PNG bytes without a Software or date tag (reruns are identical)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def colours(strategies: tuple[str, ...] | list[str]) -> dict[str, str]:
    """One fixed colour per strategy, by its position in the canonical order."""
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(strategies)}


def line_style(strategy: str) -> dict[str, object]:
    """Line keywords: dashed for external baselines, thicker for fusion outputs."""
    if is_external(strategy):
        return {"linestyle": "--", "linewidth": 1.4, "marker": "s"}
    if is_fused(strategy):
        return {"linestyle": "-", "linewidth": 2.4, "marker": "o"}
    return {"linestyle": "-", "linewidth": 1.4, "marker": "o"}


def external_legend_patch() -> Patch:
    """Legend entry explaining the hatch of external baselines."""
    return Patch(
        facecolor="white", edgecolor="#444444", hatch=EXTERNAL_HATCH, label="external baseline"
    )


def safe(text: object) -> str:
    """Text matplotlib shows literally: ``$`` escaped (no mathtext), no hidden ``_`` label."""
    shown = str(text).replace("$", r"\$")
    return f" {shown}" if shown.startswith("_") else shown


def chart_name(strategy: str) -> str:
    """Strategy name for a chart: external baselines marked, safe for matplotlib."""
    return safe(display_name(strategy))
