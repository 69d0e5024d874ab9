"""Data stage: containers, readers, built-in datasets and splits."""

from recfusion.data._types import Candidates, Histories, Interactions, lookup_table  # first

from recfusion.data._builtin import load_movielens_100k, movielens_100k_files
from recfusion.data._dataset import Dataset, LoadStats, load_dataset
from recfusion.data._readers import set_progress
from recfusion.data._split import Split, leave_last_out, split_interactions, time_split
from recfusion.data._vectors import read_item_vectors

__all__ = sorted(
    [
        "Candidates",
        "Dataset",
        "Histories",
        "Interactions",
        "LoadStats",
        "Split",
        "leave_last_out",
        "load_dataset",
        "load_movielens_100k",
        "lookup_table",
        "movielens_100k_files",
        "read_item_vectors",
        "set_progress",
        "split_interactions",
        "time_split",
    ]
)
