"""Helpers shared by the serving and bundle tests (this module holds no tests).

A tiny fuser (a weighted sum over channels) stands in for :mod:`recfusion.fusion`'s fusers
so bundles can be built with ``Popularity`` channels only; :func:`install_fuser` teaches
``recfusion.fusion.load_fuser`` to rebuild it and defers to the real loader otherwise.
Run as a script, this module installs the same hook and then runs the ``recfusion`` CLI, so
subprocess servers can load these bundles too.
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path
from typing import Any

import numpy as np

import recfusion.fusion as fusion
from recfusion.data import Candidates, Histories, Interactions
from recfusion.pipeline import Recommender
from recfusion.recall import Popularity

#: The toy log's ids: every kind of character an id may hold (slash, comma, quote, emoji).
USERS = ["ü/ß 🎬", "u2", "u,3"]
ITEMS = ["a", "b/c", "ü/ß 🎬", 'd"q', "e"]
# (user, item, timestamp); per-item distinct users: a=3, b/c=2, ü/ß 🎬=2, d"q=1, e=0.
ROWS = [
    ("ü/ß 🎬", "a", 1.0), ("ü/ß 🎬", "b/c", 2.0),
    ("u2", "a", 1.0), ("u2", "ü/ß 🎬", 2.0), ("u2", 'd"q', 3.0),
    ("u,3", "a", 1.0), ("u,3", "b/c", 2.0), ("u,3", "ü/ß 🎬", 3.0),
]


class SumFuser:
    """Fuses channels by a weighted sum of raw scores; ties by lower item index."""

    kind = "test-sum"

    def __init__(self, weights: dict[str, float] | None = None) -> None:
        self.weights = dict(weights or {})

    def __call__(self, channels: dict[str, Candidates], histories: Histories) -> Candidates:
        n_rows = histories.n_rows
        totals: list[dict[int, float]] = [{} for _ in range(n_rows)]
        for name, candidates in channels.items():
            weight = self.weights.get(name, 1.0)
            for row in range(n_rows):
                items, scores = candidates.row(row)
                for item, score in zip(items.tolist(), scores.tolist()):
                    totals[row][item] = totals[row].get(item, 0.0) + weight * score
        width = max([len(t) for t in totals] + [1])
        dense_items = np.full((n_rows, width), -1, dtype=np.int32)
        dense_scores = np.zeros((n_rows, width), dtype=np.float32)
        for row, total in enumerate(totals):
            ranked = sorted(total.items(), key=lambda pair: (-pair[1], pair[0]))
            for col, (item, score) in enumerate(ranked):
                dense_items[row, col], dense_scores[row, col] = item, score
        return Candidates.from_dense(dense_items, dense_scores)

    def save(self, directory: Path) -> list[Path]:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "fuser.json"
        path.write_text(json.dumps({"kind": self.kind, "weights": self.weights}), "utf-8")
        return [path]

    @classmethod
    def load(cls, directory: Path) -> SumFuser:
        return cls(json.loads((directory / "fuser.json").read_text("utf-8"))["weights"])


def _loader(original: Any) -> Any:
    def load_fuser(directory: Path, *args: Any, **kwargs: Any) -> Any:
        meta = Path(directory) / "fuser.json"
        if meta.is_file() and json.loads(meta.read_text("utf-8")).get("kind") == SumFuser.kind:
            return SumFuser.load(Path(directory))
        if original is None:
            raise RuntimeError(f"no fuser loader for {directory}")
        return original(directory, *args, **kwargs)

    load_fuser.wraps_sum_fuser = True  # type: ignore[attr-defined]
    return load_fuser


def install_fuser(monkeypatch: Any | None = None) -> None:
    """Make ``recfusion.fusion.load_fuser`` rebuild :class:`SumFuser` bundles."""
    original = getattr(fusion, "load_fuser", None)
    if getattr(original, "wraps_sum_fuser", False):
        return
    if monkeypatch is None:
        fusion.load_fuser = _loader(original)  # type: ignore[attr-defined]
    else:
        monkeypatch.setattr(fusion, "load_fuser", _loader(original), raising=False)


def toy_log() -> Interactions:
    """The log of :data:`ROWS` over :data:`USERS` and :data:`ITEMS`."""
    users = {u: i for i, u in enumerate(USERS)}
    items = {v: i for i, v in enumerate(ITEMS)}
    return Interactions.from_arrays(
        np.array(USERS, dtype=object), np.array(ITEMS, dtype=object),
        users=[users[r[0]] for r in ROWS], items=[items[r[1]] for r in ROWS],
        timestamps=[r[2] for r in ROWS],
    )


def random_log(n_users: int = 40, n_items: int = 25, seed: int = 3) -> Interactions:
    """A random log with skewed item popularity and string ids."""
    rng = np.random.default_rng(seed)
    count = n_users * 6
    users = rng.integers(0, n_users, count)
    items = np.minimum(rng.zipf(1.6, count) - 1, n_items - 1)
    return Interactions.from_arrays(
        np.array([f"user-{i}" for i in range(n_users)], dtype=object),
        np.array([f"item-{i}" for i in range(n_items)], dtype=object),
        users=users, items=items, timestamps=rng.uniform(0, 1000, count),
    )


def build_recommender(log: Interactions, *, two_channels: bool = False) -> Recommender:
    """A fitted Recommender: Popularity channel(s), a SumFuser and a popularity filler."""
    strategies: dict[str, Any] = {"popularity": Popularity(name="popularity").fit(log)}
    weights = {"popularity": 1.0}
    if two_channels:
        strategies["recent"] = Popularity(name="recent", half_life=200.0).fit(log)
        weights["recent"] = 3.0
    return Recommender(
        strategies=strategies,
        filler=Popularity(name="filler").fit(log),
        fuser=SumFuser(weights),
        candidates={name: 50 for name in strategies},
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    """Install the fuser hook, then run the ``recfusion`` CLI with this process's argv."""
    install_fuser()
    from recfusion.cli import app

    app(args=sys.argv[1:], prog_name="recfusion")


if __name__ == "__main__":
    main()
