"""Saveable fusers: the objects a :class:`recfusion.pipeline.Recommender` holds.

A fuser is called as ``fuser(channels, histories) -> Candidates`` and saves its fitted
state as JSON (and LightGBM text for learned fusion), never pickle. :func:`load_fuser`
rebuilds whichever kind was saved.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recfusion import _io
from recfusion.data._types import Candidates, Histories, Interactions
from recfusion.errors import BundleError
from recfusion.fusion._ltr import LearnedFusion
from recfusion.fusion._merge import FusionPlan, Method
from recfusion.fusion._mmr import ItemSimilarity, mmr_rerank, similarity_from_side
from recfusion.fusion._normalize import Normalization
from recfusion.recall._base import SideInfo

FUSER_FILE = "fuser.json"


@dataclass(eq=False)
class ScoreFuser:
    """Weighted sum of normalised scores, or reciprocal rank fusion, with fixed settings."""

    method: Method = "weighted"
    normalization: Normalization = "minmax"
    weights: dict[str, float] = field(default_factory=dict)
    budgets: dict[str, int] = field(default_factory=dict)
    k_rrf: float = 60.0

    def __call__(self, channels: Mapping[str, Candidates], histories: Histories) -> Candidates:
        plan = FusionPlan.build(
            channels, method=self.method, normalization=self.normalization, k_rrf=self.k_rrf
        )
        return plan.fuse(self.weights, self.budgets)

    def settings(self) -> dict[str, Any]:
        return {
            "kind": "score",
            "method": self.method,
            "normalization": self.normalization,
            "weights": self.weights,
            "budgets": self.budgets,
            "k_rrf": self.k_rrf,
        }

    def save(self, directory: Path) -> list[Path]:
        path = directory / FUSER_FILE
        _io.write_text(path, json.dumps(self.settings(), indent=2, sort_keys=True))
        return [path]


@dataclass(eq=False)
class LearnedFuser:
    """LightGBM LambdaRank over channel candidates; features come from ``feature_log``."""

    model: LearnedFusion
    feature_log: Interactions
    side: SideInfo | None = None

    def __call__(self, channels: Mapping[str, Candidates], histories: Histories) -> Candidates:
        return self.model.predict(channels, histories, self.feature_log, self.side)

    def save(self, directory: Path) -> list[Path]:
        path = directory / FUSER_FILE
        _io.write_text(path, json.dumps({"kind": "learned"}, indent=2))
        return [path, *self.model.save(directory / "ranker")]


@dataclass(eq=False)
class MMRFuser:
    """Another fuser's lists, cut to ``pool`` items and re-ranked by MMR for diversity.

    The whole pool is re-ranked, so any top-k of the result equals MMR run with that k.
    """

    base: ScoreFuser | LearnedFuser
    similarity: ItemSimilarity
    lam: float
    pool: int = 50
    similarity_kind: str = "genres"

    def __call__(self, channels: Mapping[str, Candidates], histories: Histories) -> Candidates:
        fused = self.base(channels, histories).truncate(self.pool)
        return mmr_rerank(fused, self.similarity, self.lam, self.pool)

    def save(self, directory: Path) -> list[Path]:
        path = directory / FUSER_FILE
        settings = {"kind": "mmr", "lam": self.lam, "pool": self.pool,
                    "similarity": self.similarity_kind}
        _io.write_text(path, json.dumps(settings, indent=2, sort_keys=True))
        return [path, *self.base.save(directory / "base")]


def load_fuser(
    directory: Path, feature_log: Interactions | None = None, side: SideInfo | None = None
) -> ScoreFuser | LearnedFuser | MMRFuser:
    """Rebuild a saved fuser; learned fusion also needs the log its features come from.

    An MMR fuser also needs ``side`` (item categories or vectors) for its similarity.
    """
    settings = json.loads((directory / FUSER_FILE).read_text(encoding="utf-8"))
    kind = settings.pop("kind", None)
    if kind == "mmr":
        base = load_fuser(directory / "base", feature_log, side)
        similarity = similarity_from_side(side, settings["similarity"])
        return MMRFuser(base, similarity, settings["lam"], settings["pool"],
                        settings["similarity"])
    if kind == "score":
        return ScoreFuser(**settings)
    if kind == "learned":
        if feature_log is None:
            raise BundleError(
                f"{directory}: learned fusion needs the training log for its features; "
                "load it through the model bundle"
            )
        return LearnedFuser(LearnedFusion.load(directory / "ranker"), feature_log, side)
    raise BundleError(f"{directory / FUSER_FILE}: unknown fuser kind {kind!r}")


__all__ = ["LearnedFuser", "MMRFuser", "ScoreFuser", "load_fuser"]
