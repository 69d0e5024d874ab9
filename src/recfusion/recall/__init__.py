"""Recall strategies: each module implements one strategy behind :class:`Strategy`."""

from recfusion.recall._als import ALS
from recfusion.recall._ann import VectorIndex
from recfusion.recall._base import SideInfo, Strategy, mask_seen, top_n_dense
from recfusion.recall._content import MetadataVectors, SuppliedVectors, metadata_vectors
from recfusion.recall._embedding import (
    ColdStartCount,
    EmbeddingStrategy,
    cold_start_items,
    count_cold_start,
)
from recfusion.recall._item2vec import Item2Vec
from recfusion.recall._itemcf import ItemCF
from recfusion.recall._popularity import Popularity
from recfusion.recall._registry import STRATEGIES, build_strategy, register

__all__ = sorted(
    [
        "ALS",
        "ColdStartCount",
        "EmbeddingStrategy",
        "Item2Vec",
        "ItemCF",
        "MetadataVectors",
        "Popularity",
        "STRATEGIES",
        "SideInfo",
        "Strategy",
        "SuppliedVectors",
        "VectorIndex",
        "build_strategy",
        "cold_start_items",
        "count_cold_start",
        "mask_seen",
        "metadata_vectors",
        "register",
        "top_n_dense",
    ]
)
