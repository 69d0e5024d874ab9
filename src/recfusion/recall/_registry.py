"""Strategy registry: maps a config ``kind`` to the class that implements it."""

from __future__ import annotations

from pydantic import BaseModel

from recfusion.errors import ConfigError
from recfusion.recall._als import ALS
from recfusion.recall._base import Strategy
from recfusion.recall._content import MetadataVectors, SuppliedVectors
from recfusion.recall._item2vec import Item2Vec
from recfusion.recall._itemcf import ItemCF
from recfusion.recall._popularity import Popularity

STRATEGIES: dict[str, type[Strategy]] = {
    Popularity.kind: Popularity,
    ItemCF.kind: ItemCF,
    ALS.kind: ALS,
    Item2Vec.kind: Item2Vec,
    SuppliedVectors.kind: SuppliedVectors,
    MetadataVectors.kind: MetadataVectors,
}


def register(cls: type[Strategy]) -> type[Strategy]:
    """Add a strategy class under its ``kind`` (usable as a class decorator)."""
    STRATEGIES[cls.kind] = cls
    return cls


def build_strategy(name: str, config: BaseModel) -> Strategy:
    """Instantiate the strategy described by one ``[strategies.NAME]`` config section."""
    kind = getattr(config, "kind", None)
    if kind not in STRATEGIES:
        known = ", ".join(sorted(STRATEGIES))
        raise ConfigError(
            f"strategies.{name}.kind: unknown strategy kind {kind!r}; expected one of {known}"
        )
    params = config.model_dump(exclude={"kind", "enabled"})
    return STRATEGIES[kind](name=name, **params)


__all__ = ["STRATEGIES", "build_strategy", "register"]
