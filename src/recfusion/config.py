"""Validated configuration of a recfusion run.

One pydantic model per component, all with ``extra="forbid"`` so that a misspelt key fails
with its full path. A config round-trips through TOML: :func:`load_config` reads a file,
:meth:`RunConfig.to_toml` writes one.
"""

from __future__ import annotations

import difflib
import tomllib
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from recfusion.errors import ConfigError


class StrictModel(BaseModel):
    """Base of every config section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ColumnsConfig(StrictModel):
    """Names of the source columns that hold each canonical field."""

    user: str = "user_id"
    item: str = "item_id"
    timestamp: str | None = Field(
        default=None,
        description="Event time column; None means each user's rows are in time order.",
    )
    weight: str | None = Field(default=None, description="Optional interaction strength.")


class DataConfig(StrictModel):
    """Where the interactions and optional side information come from."""

    dataset: Literal["movielens-100k"] | None = Field(
        default=None, description="Built-in dataset; exclusive with `interactions`."
    )
    interactions: Path | None = None
    format: Literal["auto", "csv", "tsv", "parquet", "atomic"] = "auto"
    delimiter: str | None = Field(default=None, description="CSV delimiter; guessed if None.")
    columns: ColumnsConfig = ColumnsConfig()
    items: Path | None = Field(default=None, description="Optional item metadata file.")
    item_id_col: str = "item_id"
    users: Path | None = Field(default=None, description="Optional user attributes file.")
    user_id_col: str = "user_id"
    list_columns: list[str] = Field(
        default_factory=lambda: ["genres"],
        description="Metadata columns holding several values, split into lists.",
    )
    list_separator: str = Field(
        default="|", min_length=1, description="Separator of list columns (atomic files: ' ')."
    )
    item_vectors: Path | None = Field(
        default=None, description="Optional supplied item embeddings (CSV, Parquet or .npy)."
    )

    @model_validator(mode="after")
    def _one_source(self) -> DataConfig:
        if (self.dataset is None) == (self.interactions is None):
            raise ValueError(
                "set exactly one of data.dataset (a built-in dataset such as "
                "'movielens-100k') or data.interactions (a file path)"
            )
        return self


class SplitConfig(StrictModel):
    """How test (and validation) interactions are held out."""

    method: Literal["leave_last_out", "time"] = "leave_last_out"
    cutoff: float | None = Field(
        default=None,
        description="For method='time': events at or after this timestamp are test; "
        "None picks the timestamp that leaves the last 10% of events for test.",
    )
    test_fraction: float = Field(default=0.1, gt=0, lt=1)


class PopularityConfig(StrictModel):
    kind: Literal["popularity"] = "popularity"
    enabled: bool = True
    window: float | None = Field(default=None, gt=0)
    half_life: float | None = Field(default=None, gt=0)


class ItemCFConfig(StrictModel):
    """Time- and position-aware item-based collaborative filtering.

    Setting ``forward_weight = backward_weight = 1``, ``position_decay = 1``,
    ``time_decay = 0`` and ``user_damping = false`` gives plain cosine co-occurrence (for
    users with more than ``max_pairs_window + 1`` distinct items, also unset that cap).
    The exact definition is in ``recfusion.recall._itemcf_kernel``.
    """

    kind: Literal["itemcf"] = "itemcf"
    enabled: bool = True
    forward_weight: float = Field(default=1.0, ge=0, description="Pair i before j.")
    backward_weight: float = Field(default=0.7, ge=0, description="Pair j before i.")
    position_decay: float = Field(
        default=0.8, gt=0, le=1, description="Factor per extra step between positions."
    )
    time_decay: float = Field(
        default=1.0, ge=0, description="exp(-time_decay * gap / span of the training log)."
    )
    user_damping: bool = Field(default=True, description="Divide by log(1 + history length).")
    window: int | None = Field(
        default=None, gt=0, description="Only pairs at most this many positions apart."
    )
    max_pairs_window: int | None = Field(
        default=1000,
        gt=0,
        description="Cost cap: pairs further apart are skipped even when window is None, so "
        "work grows linearly past this history length; None disables the cap.",
    )
    neighbours: int = Field(default=200, gt=0, description="Neighbours kept per item.")
    recent_items: int = Field(default=20, gt=0, description="History items used to score.")
    recency_decay: float = Field(
        default=0.9, gt=0, le=1, description="Weight factor per step back in the history."
    )


class EmbeddingConfig(StrictModel):
    """Settings shared by the vector strategies (query from history, FAISS index)."""

    enabled: bool = True
    recent_items: int = Field(
        default=20, gt=0, description="Last history items (with a vector) in the query."
    )
    recency_decay: float = Field(
        default=0.8, gt=0, le=1, description="Query weight factor per step back in history."
    )
    exact_threshold: int = Field(
        default=20000, ge=0, description="Exact search up to this many items, HNSW above."
    )
    hnsw_m: int = Field(default=32, gt=1, description="HNSW graph degree.")
    hnsw_ef_construction: int = Field(default=80, gt=0, description="HNSW build breadth.")
    hnsw_ef_search: int = Field(default=256, gt=0, description="HNSW search breadth.")
    threads: int | None = Field(
        default=None, gt=0, description="FAISS/implicit threads; None = min(cores, 8)."
    )


class ALSConfig(EmbeddingConfig):
    """Implicit ALS (``implicit``); confidence of an observed pair is 1 + alpha * weight."""

    kind: Literal["als"] = "als"
    factors: int = Field(default=64, gt=0)
    regularization: float = Field(default=1.0, ge=0)
    iterations: int = Field(default=15, gt=0)
    alpha: float = Field(default=2.0, ge=0)
    seed: int = 42
    query: Literal["solve", "mean"] = Field(
        default="mean",
        description="'mean': recency-weighted mean of item vectors, cosine; 'solve': the "
        "row's ALS user factor by least squares, inner product.",
    )


class Item2VecConfig(EmbeddingConfig):
    """item2vec: gensim word2vec over each user's time-ordered items."""

    kind: Literal["item2vec"] = "item2vec"
    vector_size: int = Field(default=64, gt=0)
    window: int = Field(default=50, gt=0)
    epochs: int = Field(default=10, gt=0)
    negative: int = Field(default=5, gt=0)
    sample: float = Field(default=1e-4, ge=0, description="Frequent-item down-sampling.")
    ns_exponent: float = Field(default=-0.5, description="Negative sampling exponent.")
    skip_gram: bool = True
    workers: int = Field(default=1, gt=0, description="Only 1 is reproducible.")
    seed: int = 42


class ContentConfig(EmbeddingConfig):
    """Nearest neighbours over supplied item vectors (``data.item_vectors``)."""

    kind: Literal["content"] = "content"


class MetadataConfig(EmbeddingConfig):
    """Nearest neighbours over metadata vectors: genres, title TF-IDF, year bucket."""

    kind: Literal["metadata"] = "metadata"
    genre_weight: float = Field(default=1.0, ge=0)
    title_weight: float = Field(default=0.3, ge=0)
    year_weight: float = Field(default=0.5, ge=0)
    year_bucket: int = Field(default=5, gt=0, description="Years per bucket.")
    title_terms: int = Field(default=1000, ge=0, description="Title vocabulary size.")


StrategyConfig = Annotated[
    Union[
        PopularityConfig, ItemCFConfig, ALSConfig, Item2VecConfig, ContentConfig, MetadataConfig
    ],
    Field(discriminator="kind"),
]


def _default_strategies() -> dict[str, Any]:
    return {
        "popularity": PopularityConfig(),
        "itemcf": ItemCFConfig(),
        "als": ALSConfig(),
        "item2vec": Item2VecConfig(),
    }


class FusionConfig(StrictModel):
    """How channel candidates are merged into one top-K list."""

    method: Literal["weighted", "rrf", "learned"] = "weighted"
    normalization: Literal["minmax", "rank", "reciprocal", "zscore", "none"] = "minmax"
    weights: dict[str, float] = Field(
        default_factory=dict, description="Per-channel weight; channels not listed get 1."
    )
    candidates: int = Field(default=100, gt=0, description="Candidates taken per channel.")
    budgets: dict[str, int] = Field(
        default_factory=dict, description="Per-channel candidate budget overriding `candidates`."
    )
    k_rrf: float = Field(default=60.0, ge=0, description="RRF constant: weight / (k_rrf + rank).")
    tune_trials: int = Field(
        default=60, ge=0, description="Optuna trials tuning weights on validation; 0 = off."
    )
    pareto_trials: int = Field(
        default=40, ge=0, description="NSGA-II trials for the accuracy/coverage front; 0 = off."
    )
    compare_methods: bool = Field(
        default=True,
        description="Also evaluate every other fusion method (fixed weights, RRF, tuned, "
        "learned, MMR) side by side in the report.",
    )
    tune_budgets: bool = Field(default=True, description="Also tune each channel's budget.")
    tune_metric: Literal["recall", "precision", "hit_rate", "ndcg", "mrr", "map"] = "ndcg"
    tune_k: int = Field(default=10, gt=0, description="Cut-off of the tuned metric.")
    ltr_trees: int = Field(default=100, gt=0, description="Boosting rounds of learned fusion.")
    ltr_learning_rate: float = Field(default=0.05, gt=0, le=1)
    ltr_leaves: int = Field(default=15, gt=1)
    mmr_lambda: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="MMR trade-off of the submitted fusion (1 = relevance only, no "
        "re-ranking); None = pick it on the validation split from a grid (1 included).",
    )
    mmr_similarity: Literal["genres", "vectors"] = "genres"
    mmr_candidates: int = Field(default=50, gt=0, description="Fused items MMR picks from.")
    cold_start: Literal["popularity", "segment"] = Field(
        default="segment",
        description="Users with no history: popularity within their segment (user "
        "attributes such as age band, gender, occupation) when the data has user "
        "attributes, else global popularity.",
    )

    @model_validator(mode="after")
    def _non_negative_weights(self) -> FusionConfig:
        bad = {name: value for name, value in self.weights.items() if not value >= 0}
        if bad:
            raise ValueError(f"weights must be >= 0; received {bad}")
        return self


class EvaluationConfig(StrictModel):
    k: int = Field(default=5, gt=0, description="Length of the submitted lists.")
    ks: list[Annotated[int, Field(gt=0)]] = Field(
        default_factory=lambda: [5, 10, 20], min_length=1, description="Cut-offs of every metric."
    )
    latency_users: int = Field(
        default=200, ge=0, description="Users timed one by one for latency percentiles."
    )
    n_bootstrap: int = Field(default=1000, ge=0, description="Bootstrap samples for CIs.")
    external_baselines: bool = Field(
        default=True,
        description="Also evaluate implicit's ALS (regularisation picked on validation) and "
        "BM25 item-item, marked as external.",
    )


class RunConfig(StrictModel):
    """Everything a `recfusion run` needs."""

    data: DataConfig
    split: SplitConfig = SplitConfig()
    strategies: dict[str, StrategyConfig] = Field(default_factory=_default_strategies)
    fusion: FusionConfig = FusionConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    engine: Literal["local", "spark"] = Field(
        default="local",
        description="Where popularity and the ItemCF neighbour tables are computed; "
        "'spark' needs `pip install recfusion[spark]` and a Java runtime.",
    )
    seed: int = Field(default=42, ge=0, le=2**32 - 1, description="Seed of every random step.")

    def to_toml(self) -> str:
        return tomli_w.dumps(self.model_dump(mode="json", exclude_none=True))


def parse_config(raw: dict[str, Any], source: str = "config") -> RunConfig:
    """Validate a raw mapping; errors name the key path and suggest a close key."""
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source)) from None


def load_config(path: Path) -> RunConfig:
    """Read and validate a TOML config file."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    return parse_config(raw, source=str(path))


def _describe(exc: ValidationError, source: str) -> str:
    lines = [f"{source}: {exc.error_count()} invalid setting(s)"]
    for error in exc.errors():
        location = _without_union_tag(tuple(error["loc"]))
        path = ".".join(str(part) for part in location) or "(top level)"
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = f"unknown key{_suggest(location)}"
        elif "input" in error and error["type"] != "missing":
            message = f"{message}; received {error['input']!r}"
        lines.append(f"  {path}: {message}")
    return "\n".join(lines)


def _strategy_models() -> dict[str, Any]:
    members = typing.get_args(typing.get_args(StrategyConfig)[0])
    return {member.model_fields["kind"].default: member for member in members}


def _without_union_tag(location: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop the kind tag pydantic inserts after ``strategies.NAME`` in error paths."""
    if len(location) >= 3 and location[0] == "strategies" and location[2] in _strategy_models():
        return (*location[:2], *location[3:])
    return location


def _suggest(location: tuple[Any, ...]) -> str:
    """' (did you mean X?)' when a known key of the same section is close."""
    model: Any = RunConfig
    if len(location) == 3 and location[0] == "strategies":
        names = {key for member in _strategy_models().values() for key in member.model_fields}
        close = difflib.get_close_matches(str(location[-1]), sorted(names), n=1)
        return f" (did you mean {close[0]!r}?)" if close else ""
    for part in location[:-1]:
        field = model.model_fields.get(str(part)) if hasattr(model, "model_fields") else None
        annotation = getattr(field, "annotation", None)
        model = annotation if isinstance(annotation, type) else None
        if model is None:
            return ""
    if not hasattr(model, "model_fields"):
        return ""
    close = difflib.get_close_matches(str(location[-1]), list(model.model_fields), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


__all__ = sorted(
    [
        "ALSConfig",
        "ColumnsConfig",
        "ContentConfig",
        "DataConfig",
        "EmbeddingConfig",
        "EvaluationConfig",
        "FusionConfig",
        "Item2VecConfig",
        "ItemCFConfig",
        "MetadataConfig",
        "PopularityConfig",
        "RunConfig",
        "SplitConfig",
        "StrategyConfig",
        "load_config",
        "parse_config",
    ]
)
