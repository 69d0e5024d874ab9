"""Data stage: containers, readers, built-in datasets and splits."""

from recfusion.data._types import Candidates, Histories, Interactions, lookup_table

__all__ = sorted(["Candidates", "Histories", "Interactions", "lookup_table"])
