"""Recall strategies: each module implements one strategy behind :class:`Strategy`."""

from recfusion.recall._base import SideInfo, Strategy, mask_seen, top_n_dense
from recfusion.recall._itemcf import ItemCF
from recfusion.recall._popularity import Popularity
from recfusion.recall._registry import STRATEGIES, build_strategy, register

__all__ = sorted(
    [
        "ItemCF",
        "Popularity",
        "STRATEGIES",
        "SideInfo",
        "Strategy",
        "build_strategy",
        "mask_seen",
        "register",
        "top_n_dense",
    ]
)
