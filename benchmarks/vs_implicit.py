"""ItemCF speed and accuracy against the implicit library, measured in one process.

For each dataset, every model is fitted on a leave-last-out split (each user's latest
new-item interaction held out, ``recfusion.data.leave_last_out``) and then recommends
``--k`` items to every evaluated user. Reported per model: fit and recommend-all seconds,
wall clock and process CPU time (all threads), each the best of ``--repeat`` runs; peak
resident memory above the level at the model's start (MB, fit and recommend together,
first run); Recall@k and NDCG@k. On a shared machine CPU time is the steadier figure.

Models: recfusion ItemCF in plain-cosine mode and in full mode (config defaults),
recfusion Popularity, implicit's CosineRecommender, BM25Recommender and
AlternatingLeastSquares. Ratio rows divide the recfusion figures by CosineRecommender's.

Threads: numba, implicit and BLAS all get ``--threads`` threads (default 1), set through
``NUMBA_NUM_THREADS``, ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` and ``MKL_NUM_THREADS``
before numpy loads, and through each implicit model's ``num_threads``.

Memory: Python's tracemalloc does not see numba or C++ allocations, so peak RSS is read
from ``/proc/self/status`` (VmHWM) after resetting it through ``/proc/self/clear_refs``;
where that reset is refused, a thread samples VmRSS every 2 ms instead.

Numba compiles (or loads from its cache) before timing starts; neighbour lists have the
same length on both sides (recfusion ``neighbours = N``, implicit ``K = N + 1`` because
implicit keeps each item as its own first neighbour).

Usage::

    python benchmarks/vs_implicit.py --datasets ml-100k beauty synth-1m --threads 1
    python benchmarks/vs_implicit.py --datasets synth-5m --repeat 1
    python benchmarks/vs_implicit.py --datasets synth-20m --repeat 1 \
        --models itemcf-plain itemcf-full cosine
"""

from __future__ import annotations

import argparse
import os
import sys


#: Short names of the compared models, in table order.
MODEL_KEYS = ("itemcf-plain", "itemcf-full", "popularity", "cosine", "bm25", "als")


def _parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets", nargs="+", default=["ml-100k", "beauty"],
        help="ml-100k, beauty, or synth-SIZE such as synth-1m, synth-5m, synth-20m",
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--neighbours", type=int, default=200)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--models", nargs="+", default=list(MODEL_KEYS),
        help=f"subset of {', '.join(MODEL_KEYS)} (cosine is the peer of the ratio rows)",
    )
    parser.add_argument("--data-dir", default=None, help="folder holding amazon-yelp-sequences")
    parser.add_argument("--out", default=None, help="also write the tables to this .md file")
    return parser.parse_args(argv)


ARGS = _parse_args() if __name__ == "__main__" else None
if ARGS is not None:
    for _variable in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                      "MKL_NUM_THREADS"):
        os.environ[_variable] = str(ARGS.threads)

import ctypes  # noqa: E402  (thread counts must be set before numpy loads)
import gc  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

from recfusion._io import write_text  # noqa: E402
from recfusion.data import Interactions, leave_last_out, load_movielens_100k  # noqa: E402
from recfusion.recall import ItemCF, Popularity  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import generate  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
PLAIN = {
    "forward_weight": 1.0, "backward_weight": 1.0, "position_decay": 1.0, "time_decay": 0.0,
    "user_damping": False, "window": None, "max_pairs_window": None, "recency_decay": 1.0,
    "recent_items": 10**9,
}
PEER = "implicit Cosine"
OURS = ("recfusion ItemCF plain", "recfusion ItemCF full", "recfusion Popularity")


# ---------------------------------------------------------------- data


def load(name: str, data_dir: Path) -> Interactions:
    """The named benchmark log."""
    if name == "ml-100k":
        return load_movielens_100k().interactions
    if name == "beauty":
        return read_sequences(data_dir / "amazon-yelp-sequences" / "Beauty.txt")
    if name.startswith("synth-"):
        return generate(_size(name[len("synth-"):]), seed=0)
    raise SystemExit(f"vs_implicit: unknown dataset {name!r}; use ml-100k, beauty, synth-1m")


def _size(text: str) -> int:
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1].lower(), 1)
    return int(float(text.rstrip("kKmM")) * scale)


def read_sequences(path: Path) -> Interactions:
    """One line per user, ``user item1 item2 ...`` in time order; input order is the time."""
    users, items = [], []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            tokens = line.split()
            users.extend([tokens[0]] * (len(tokens) - 1))
            items.extend(tokens[1:])
    user_ids, user_codes = np.unique(np.array(users), return_inverse=True)
    item_ids, item_codes = np.unique(np.array(items), return_inverse=True)
    return Interactions.from_arrays(
        user_ids.astype(object), item_ids.astype(object), user_codes, item_codes
    )


# ---------------------------------------------------------------- measurement


class PeakMemory:
    """Peak RSS growth (MB) over a block: kernel high-water mark, else a sampling thread."""

    def __init__(self) -> None:
        self.peak_mb = float("nan")
        self._stop = threading.Event()
        self._sampled = 0

    def __enter__(self) -> PeakMemory:
        gc.collect()
        _trim_heap()
        self._start = _status_kb("VmRSS")
        self._reset = _reset_high_water()
        if not self._reset:
            self._sampled = self._start
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.002):
            self._sampled = max(self._sampled, _status_kb("VmRSS"))

    def __exit__(self, *exc: object) -> None:
        if self._reset:
            peak = _status_kb("VmHWM")
        else:
            self._stop.set()
            self._thread.join()
            peak = max(self._sampled, _status_kb("VmRSS"))
        self.peak_mb = (peak - self._start) / 1024


def _status_kb(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_high_water() -> bool:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _trim_heap() -> None:
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


@dataclass
class Result:
    fit_s: float
    fit_cpu: float
    recommend_s: float
    recommend_cpu: float
    peak_mb: float
    recall: float
    ndcg: float


@dataclass(frozen=True)
class Task:
    """What every model receives: train log, its binary matrix, evaluated users, targets."""

    train: Interactions
    user_items: sp.csr_matrix
    users: np.ndarray
    targets: np.ndarray
    k: int


def make_task(log: Interactions, k: int) -> Task:
    split = leave_last_out(log)
    users = split.test.users.astype(np.int32)
    user_items = sp.csr_matrix(split.train.binary_matrix(), dtype=np.float32)
    return Task(split.train, user_items, users, split.test.items, k)


def accuracy(task: Task, lists: np.ndarray) -> tuple[float, float]:
    """Recall@k and NDCG@k with one held-out item per user (lists: (n_users, k), -1 pads)."""
    hits = lists[:, : task.k] == task.targets[:, None]
    rank = np.argmax(hits, axis=1)
    found = hits.any(axis=1)
    gains = np.where(found, 1.0 / np.log2(rank + 2.0), 0.0)
    return float(found.mean()), float(gains.mean())


def _timed(action: Callable[[], object]) -> tuple[object, float, float]:
    """Run ``action``; returns (its result, wall seconds, process CPU seconds)."""
    wall, cpu = time.perf_counter(), time.process_time()
    value = action()
    return value, time.perf_counter() - wall, time.process_time() - cpu


def measure(run: Callable[[], tuple[Callable, Callable]], task: Task, repeat: int) -> Result:
    """Best-of-``repeat`` fit and recommend times, first-run memory, accuracy."""
    fits, recs, peak, lists = [], [], float("nan"), None
    for attempt in range(repeat):
        with PeakMemory() as memory:
            fit, recommend = run()
            fits.append(_timed(fit)[1:])
            lists, *rec_times = _timed(recommend)
            recs.append(tuple(rec_times))
        if attempt == 0:
            peak = memory.peak_mb
    best_fit = [min(times) for times in zip(*fits)]
    best_rec = [min(times) for times in zip(*recs)]
    return Result(*best_fit, *best_rec, peak, *accuracy(task, lists))


# ---------------------------------------------------------------- models


def recfusion_model(make: Callable[[], object], task: Task):
    """(fit, recommend) closures for a recfusion strategy."""
    model = make()

    def fit() -> None:
        model.fit(task.train)

    def recommend() -> np.ndarray:
        return model.recommend(task.train.histories(task.users), task.k).to_dense(task.k)[0]

    return fit, recommend


def implicit_model(make: Callable[[], object], task: Task):
    """(fit, recommend) closures for an implicit model."""
    model = make()

    def fit() -> None:
        model.fit(task.user_items, show_progress=False)

    def recommend() -> np.ndarray:
        ids, _ = model.recommend(task.users, task.user_items[task.users], N=task.k)
        return np.asarray(ids)

    return fit, recommend


def models(args: argparse.Namespace, task: Task) -> dict[str, Callable]:
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.nearest_neighbours import BM25Recommender, CosineRecommender

    size, threads = args.neighbours, args.threads
    table = {
        "itemcf-plain": ("recfusion ItemCF plain", lambda: recfusion_model(
            lambda: ItemCF(neighbours=size, **PLAIN), task)),
        "itemcf-full": ("recfusion ItemCF full", lambda: recfusion_model(
            lambda: ItemCF(neighbours=size), task)),
        "popularity": ("recfusion Popularity", lambda: recfusion_model(Popularity, task)),
        "cosine": (PEER, lambda: implicit_model(
            lambda: CosineRecommender(K=size + 1, num_threads=threads), task)),
        "bm25": ("implicit BM25", lambda: implicit_model(
            lambda: BM25Recommender(K=size + 1, num_threads=threads), task)),
        "als": ("implicit ALS", lambda: implicit_model(
            lambda: AlternatingLeastSquares(factors=64, iterations=15, regularization=0.05,
                                            num_threads=threads, random_state=0), task)),
    }
    unknown = sorted(set(args.models) - set(table))
    if unknown:
        raise SystemExit(f"vs_implicit: unknown model(s) {unknown}; choose from {MODEL_KEYS}")
    return dict(table[key] for key in MODEL_KEYS if key in args.models)


def warm_up() -> None:
    """Compile or load every numba kernel once, outside the timed region."""
    log = generate(2_000, seed=1)
    for params in ({}, PLAIN):
        model = ItemCF(**params).fit(log)
        model.recommend(log.histories(), 5)


# ---------------------------------------------------------------- report


def render(name: str, log: Interactions, task: Task, results: dict[str, Result],
           threads: int) -> str:
    k = task.k
    lines = [
        f"### {name}: {log.n_users:,} users, {log.n_items:,} items, "
        f"{task.train.n_interactions:,} train interactions, {task.users.shape[0]:,} evaluated "
        f"users, {threads} thread(s)",
        "",
        f"| model | fit s | fit cpu s | recommend-all s | recommend cpu s | peak MB "
        f"| Recall@{k} | NDCG@{k} |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, result in results.items():
        figures = _figures(result)
        cells = [f"{value:.3f}" for value in figures[:4]] + [f"{figures[4]:.1f}"]
        cells += [f"{value:.4f}" for value in figures[5:]]
        lines.append(f"| {label} | {' | '.join(cells)} |")
    peer = results.get(PEER)
    for label in OURS[:2]:
        if peer is None or label not in results:
            continue
        pairs = zip(_figures(results[label]), _figures(peer))
        cells = " | ".join(f"{mine / theirs:.2f}x" if theirs > 0 else "n/a"
                           for mine, theirs in pairs)
        lines.append(f"| ratio {label.split(' ', 1)[1]} / Cosine | {cells} |")
    return "\n".join(lines) + "\n"


def _figures(result: Result) -> list[float]:
    return [result.fit_s, result.fit_cpu, result.recommend_s, result.recommend_cpu,
            result.peak_mb, result.recall, result.ndcg]


def main() -> None:
    args = ARGS or _parse_args()
    import numba

    numba.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message="Method expects CSR input")
    data_dir = Path(args.data_dir) if args.data_dir else DEFAULT_DATA
    warm_up()
    sections = [f"numba {numba.__version__} threads={numba.get_num_threads()}, "
                f"threading layer {numba.threading_layer()}\n"]
    for name in args.datasets:
        log = load(name, data_dir)
        task = make_task(log, args.k)
        results = {}
        for label, run in models(args, task).items():
            results[label] = measure(run, task, args.repeat)
        sections.append(render(name, log, task, results, args.threads))
        print(sections[-1], flush=True)
    if args.out:
        write_text(Path(args.out), "\n".join(sections))


if __name__ == "__main__":
    main()
