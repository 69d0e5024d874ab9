"""Built-in datasets, read from files that ship inside installed packages.

``movielens-100k`` is MovieLens-100K (GroupLens) as RecBole's atomic files ``ml-100k.inter``,
``ml-100k.item`` and ``ml-100k.user`` inside the recbole 1.2.1 wheel. They are found through
the package metadata; recbole itself is never imported (it is installed without its
dependencies and would fail to import).

MovieLens-100K as loaded
------------------------
* 100,000 ratings by 943 users of 1,682 movies, timestamps in Unix seconds.
* Implicit feedback: every rating is an interaction of weight 1.0, whatever its star value
  (a 1-star rating counts as much as a 5-star one). The stars are not kept.
* ``side.items``: ``item_id``, ``title`` (as RecBole writes it, without the year),
  ``year`` (Int32, null when the source has none, as for item 267), ``genres`` (list of
  strings such as ``["Animation", "Children's", "Comedy"]``; MovieLens' own ``unknown``
  genre is kept as written).
* ``side.users``: ``user_id``, ``age`` (Int32, years), ``age_band`` (the MovieLens-1M bands
  ``<18``, ``18-24``, ``25-34``, ``35-44``, ``45-49``, ``50-55``, ``56+``), ``gender``
  (``M``/``F``), ``occupation`` and ``zip_code`` (strings, kept as written).
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
from pathlib import Path

import polars as pl

from recfusion.columns import ITEM_ID, USER_ID
from recfusion.config import ColumnsConfig, DataConfig
from recfusion.data._dataset import Dataset, load_files
from recfusion.errors import InputError, MissingDependencyError

MOVIELENS_100K = "movielens-100k"

#: Upper ages (inclusive) of the age bands, and the band labels.
AGE_BAND_EDGES = (17, 24, 34, 44, 49, 55)
AGE_BAND_LABELS = ("<18", "18-24", "25-34", "35-44", "45-49", "50-55", "56+")

_INSTALL_HINT = (
    "install the wheel that carries the files with `pip install --no-deps recbole==1.2.1` "
    "(or run `make install`); recfusion never downloads data"
)
_PREFIX = "recbole/dataset_example/ml-100k/ml-100k."


def movielens_100k_files() -> dict[str, Path]:
    """Paths of the ``inter``, ``item`` and ``user`` files, found via package metadata.

    Raises
    ------
    MissingDependencyError
        recbole is not installed, or its wheel lacks one of the files.
    """
    try:
        distribution = importlib.metadata.distribution("recbole")
    except importlib.metadata.PackageNotFoundError:
        raise MissingDependencyError(
            f"data loader: built-in dataset {MOVIELENS_100K!r} needs the recbole package, "
            f"which is not installed. Fix: {_INSTALL_HINT}"
        ) from None
    files = distribution.files or []
    listed = {str(f)[len(_PREFIX) :]: f for f in files if str(f).startswith(_PREFIX)}
    found = {kind: Path(str(distribution.locate_file(listed[kind]))) for kind in listed}
    missing = [kind for kind in ("inter", "item", "user") if not found.get(kind, Path()).is_file()]
    if missing:
        raise MissingDependencyError(
            f"data loader: built-in dataset {MOVIELENS_100K!r}: recbole "
            f"{distribution.version} lacks ml-100k.{', ml-100k.'.join(missing)}; expected "
            f"recbole 1.2.1. Fix: {_INSTALL_HINT}"
        )
    return {kind: found[kind] for kind in ("inter", "item", "user")}


def load_movielens_100k() -> Dataset:
    """MovieLens-100K from the recbole wheel (see the module docstring for what is kept).

    Returns
    -------
    Dataset
        100,000 interactions, 943 users and 1,682 items; name ``"movielens-100k"``.
    """
    files = movielens_100k_files()
    config = DataConfig(
        interactions=files["inter"],
        format="atomic",
        columns=ColumnsConfig(user="user_id", item="item_id", timestamp="timestamp"),
        items=files["item"],
        item_id_col="item_id",
        users=files["user"],
        user_id_col="user_id",
        list_columns=["class"],
    )
    dataset = load_files(config, name=MOVIELENS_100K)
    side = dataclasses.replace(
        dataset.side, items=_tidy_items(dataset.side.items), users=_tidy_users(dataset.side.users)
    )
    return dataclasses.replace(dataset, side=side)


def load_builtin(name: str) -> Dataset:
    """Load a built-in dataset by its config name."""
    if name == MOVIELENS_100K:
        return load_movielens_100k()
    raise InputError(
        f"data loader: unknown built-in dataset {name!r}; expected {MOVIELENS_100K!r}. "
        "Fix: set data.dataset to a built-in name or data.interactions to a file"
    )


def _tidy_items(items: pl.DataFrame | None) -> pl.DataFrame | None:
    """Rename RecBole's item fields and type the year."""
    if items is None:
        return None
    return items.select(
        pl.col(ITEM_ID),
        pl.col("movie_title").alias("title"),
        pl.col("release_year").cast(pl.Int32, strict=False).alias("year"),
        pl.col("class").alias("genres"),
    )


def _tidy_users(users: pl.DataFrame | None) -> pl.DataFrame | None:
    """Type the age and add the age band."""
    if users is None:
        return None
    age = pl.col("age").cast(pl.Int32, strict=False)
    return users.select(
        pl.col(USER_ID),
        age.alias("age"),
        _age_band(age).alias("age_band"),
        pl.col("gender"),
        pl.col("occupation"),
        pl.col("zip_code"),
    )


def _age_band(age: pl.Expr) -> pl.Expr:
    """Label of the band whose upper edge is the first one at or above ``age``."""
    band = pl.when(age <= AGE_BAND_EDGES[0]).then(pl.lit(AGE_BAND_LABELS[0]))
    for edge, label in zip(AGE_BAND_EDGES[1:], AGE_BAND_LABELS[1:-1]):
        band = band.when(age <= edge).then(pl.lit(label))
    return band.when(age.is_not_null()).then(pl.lit(AGE_BAND_LABELS[-1]))


__all__ = [
    "AGE_BAND_EDGES",
    "AGE_BAND_LABELS",
    "MOVIELENS_100K",
    "load_builtin",
    "load_movielens_100k",
    "movielens_100k_files",
]
