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
from recfusion.fusion._fuser import LearnedFuser, MMRFuser, ScoreFuser, load_fuser
from recfusion.fusion._ltr import LearnedFusion
from recfusion.fusion._merge import FusionPlan, rrf_fusion, weighted_fusion
from recfusion.fusion._mmr import ItemSimilarity, diversity_curve
from recfusion.fusion._mmr import mmr_rerank, similarity_from_side
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
        "LearnedFuser",
        "LearnedFusion",
        "MMRFuser",
        "NORMALIZATIONS",
        "ParetoResult",
        "RowFiller",
        "ScoreFuser",
        "SegmentPopularity",
        "TuningResult",
        "catalogue_coverage",
        "category_matrix",
        "channel_diagnostics",
        "diversity_curve",
        "finalize",
        "load_fuser",
        "mmr_rerank",
        "normalize",
        "overlap_matrix",
        "rrf_fusion",
        "similarity_from_side",
        "tune_pareto",
        "tune_weights",
        "weighted_fusion",
    ]
)
