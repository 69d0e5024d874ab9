"""Recall strategies: each module implements one strategy behind :class:`Strategy`."""

from recfusion.recall._base import SideInfo, Strategy, mask_seen, top_n_dense
from recfusion.recall._popularity import Popularity

__all__ = sorted(["Popularity", "SideInfo", "Strategy", "mask_seen", "top_n_dense"])
