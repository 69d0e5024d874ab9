"""Evaluation stage: accuracy and beyond-accuracy metrics, segments and uncertainty."""

from recfusion.evaluation._accuracy import ACCURACY_METRICS, accuracy_per_user, relevance

__all__ = sorted(["ACCURACY_METRICS", "accuracy_per_user", "relevance"])
