"""Fusion stage: merge channel candidates into one top-K list per query row.

Score fusion (:func:`weighted_fusion`, :func:`rrf_fusion`) over per-row normalised scores,
weights tuned on the validation split (:func:`tune_weights`, :func:`tune_pareto`), learned
fusion (:class:`LearnedFusion`), diversity re-ranking (:func:`mmr_rerank`), cold-start
popularity by user segment (:class:`SegmentPopularity`), channel diagnostics, and
:func:`finalize`, which every path ends with: no seen item, exactly k distinct items.
"""

from recfusion.fusion._coldstart import AGE_BANDS, RowFiller, SegmentPopularity
from recfusion.fusion._diagnostics import channel_diagnostics, overlap_matrix
from recfusion.fusion._features import category_matrix
from recfusion.fusion._finalize import Filler, finalize
from recfusion.fusion._ltr import LearnedFusion
from recfusion.fusion._merge import FusionPlan, make_fuse, rrf_fusion, weighted_fusion
from recfusion.fusion._mmr import ItemSimilarity, diversity_curve, intra_list_diversity
from recfusion.fusion._mmr import mmr_rerank
from recfusion.fusion._normalize import NORMALIZATIONS, normalize
from recfusion.fusion._tuning import (
    ParetoResult,
    TuningResult,
    catalogue_coverage,
    tune_pareto,
    tune_weights,
)

__all__ = sorted(
    [
        "AGE_BANDS",
        "Filler",
        "FusionPlan",
        "ItemSimilarity",
        "LearnedFusion",
        "NORMALIZATIONS",
        "ParetoResult",
        "RowFiller",
        "SegmentPopularity",
        "TuningResult",
        "catalogue_coverage",
        "category_matrix",
        "channel_diagnostics",
        "diversity_curve",
        "finalize",
        "intra_list_diversity",
        "make_fuse",
        "mmr_rerank",
        "normalize",
        "overlap_matrix",
        "rrf_fusion",
        "tune_pareto",
        "tune_weights",
        "weighted_fusion",
    ]
)
