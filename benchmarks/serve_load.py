"""Bounded load run of the HTTP API on loopback, plus the in-process cost of one answer.

Starts ``recfusion serve`` as a subprocess on a free 127.0.0.1 port, then sends a fixed
number of requests from a few client threads (each with its own keep-alive connection):
first to ``GET /v1/users/{id}/recommendations?k=10`` for random known users, then the same
number to ``GET /healthz`` of the same server. Prints requests/second and p50/p99 latency
of both and their ratios (healthz is the peer: the cost of HTTP, routing and middleware
alone). Then loads the bundle in this process and times single recommendations, with the
popularity fallback as the in-process peer. Stops by itself (request count and a time cap)
and kills only the server it started.

Run from the repository root::

    # a bundle made by `recfusion train --data movielens-100k --out model/`
    .venv/bin/python benchmarks/serve_load.py --model model/
    # quick runs without `recfusion train`: ML-100K with the default config's strategies
    # (or only Popularity) and the test suite's plain sum fuser (the server then runs
    # through tests/test_serving_support.py, which teaches load_fuser that fuser)
    .venv/bin/python benchmarks/serve_load.py --build interim
    .venv/bin/python benchmarks/serve_load.py --build popularity
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SUPPORT = ROOT / "tests" / "test_serving_support.py"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", type=Path, help="Existing bundle directory.")
    source.add_argument(
        "--build", choices=["pipeline", "interim", "popularity"],
        help="Build an ML-100K bundle first: the full pipeline (recfusion train); the "
        "default config's strategies (interim) or Popularity only, both with the test "
        "suite's sum fuser instead of the real fusion.",
    )
    parser.add_argument("--requests", type=int, default=3000, help="Per endpoint.")
    parser.add_argument("--clients", type=int, default=4, help="Concurrent client threads.")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--max-seconds", type=float, default=120.0, help="Cap per phase.")
    parser.add_argument("--samples", type=int, default=3000, help="In-process timings.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kernel-threads", type=int, default=1,
                        help="Threads per call in numba/OpenMP/BLAS kernels (both processes).")
    return parser.parse_args()


def use_test_fuser() -> None:
    """Let this process load bundles built with the tests' SumFuser."""
    sys.path.insert(0, str(SUPPORT.parent))
    from test_serving_support import install_fuser

    install_fuser()


def build_bundle(kind: str, out: Path) -> Path:
    """An ML-100K bundle fitted on all interactions."""
    from recfusion.config import parse_config
    from recfusion.data import load_dataset
    from recfusion.serving import save_bundle, train_bundle

    config = parse_config({"data": {"dataset": "movielens-100k"}})
    if kind == "pipeline":
        return train_bundle(config, out)
    from test_serving_support import SumFuser

    from recfusion.pipeline import Recommender, fit_filler, fit_strategies

    dataset = load_dataset(config.data)
    log = dataset.interactions
    if kind == "interim":
        strategies, _seconds = fit_strategies(config, log, dataset.side)
    else:
        strategies, _seconds = fit_strategies(
            parse_config({"data": {"dataset": "movielens-100k"},
                          "strategies": {"popularity": {"kind": "popularity"}}}),
            log, dataset.side,
        )
    recommender = Recommender(
        strategies=strategies, filler=fit_filler(log), fuser=SumFuser(),
        candidates={name: config.fusion.candidates for name in strategies},
    )
    return save_bundle(out, recommender, log, config=config, fingerprint=dataset.fingerprint)


@contextlib.contextmanager
def running_server(model: Path, events: Path, test_fuser: bool) -> Iterator[str]:
    """Start the server subprocess; yield its base URL; kill it (by pid) afterwards."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    entry = [str(SUPPORT)] if test_fuser else ["-c", "from recfusion.cli import main; main()"]
    command = [sys.executable, *entry, "serve", "--model", str(model), "--events",
               str(events), "--host", "127.0.0.1", "--port", str(port), "-q",
               "--kernel-threads", os.environ["OMP_NUM_THREADS"]]
    env = {key: value for key, value in os.environ.items() if key != "RECFUSION_API_KEY"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(process, base)
        yield base
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def wait_healthy(process: subprocess.Popen, base: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with code {process.returncode}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200:
                return
        time.sleep(0.2)
    raise SystemExit("server did not become healthy within 120 s")


def load_phase(base: str, paths: list[str], clients: int, max_seconds: float) -> dict:
    """Send every path once, split over ``clients`` threads; latencies in milliseconds."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    failures = [0] * clients
    deadline = time.monotonic() + max_seconds

    def worker(slot: int) -> None:
        with httpx.Client(base_url=base, timeout=10.0) as http:
            for path in paths[slot::clients]:
                if time.monotonic() > deadline:
                    return
                started = time.perf_counter()
                try:
                    response = http.get(path)
                except httpx.HTTPError:
                    failures[slot] += 1
                    continue
                latencies[slot].append((time.perf_counter() - started) * 1e3)
                failures[slot] += response.status_code != 200

    threads = [threading.Thread(target=worker, args=(slot,)) for slot in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    values = np.concatenate([np.asarray(v, dtype=np.float64) for v in latencies])
    if values.shape[0] == 0:
        raise SystemExit(f"no request to {paths[0]} succeeded ({sum(failures)} failures)")
    return {
        "requests": int(values.shape[0]), "failures": int(sum(failures)),
        "rps": values.shape[0] / wall, "p50": float(np.percentile(values, 50)),
        "p99": float(np.percentile(values, 99)),
    }


def in_process(model: Path, users: list[str], k: int) -> dict[str, dict[str, float]]:
    """p50/p99 (ms) of one fused recommendation and of the popularity fallback."""
    from recfusion.serving import load_bundle, popular, recommend_history, user_history

    bundle = load_bundle(model)

    def fused(user: str) -> None:
        recommend_history(bundle, user_history(bundle, user, ()), k)

    def fallback(_user: str) -> None:
        popular(bundle, k)

    results = {}
    for name, call in (("fused recommendation", fused), ("popularity fallback", fallback)):
        for user in users[:200]:
            call(user)
        timings = []
        for user in users:
            started = time.perf_counter()
            call(user)
            timings.append((time.perf_counter() - started) * 1e3)
        results[name] = {"p50": float(np.percentile(timings, 50)),
                         "p99": float(np.percentile(timings, 99))}
    return results


def report(rec: dict, health: dict, local: dict[str, dict[str, float]], args) -> None:
    print(f"\nHTTP on loopback, {args.clients} clients, {rec['requests']} requests each phase")
    print(f"{'endpoint':<36}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    for name, row in (("GET /v1/users/{id}/recommendations", rec), ("GET /healthz", health)):
        print(f"{name:<36}{row['rps']:>10.0f}{row['p50']:>10.2f}{row['p99']:>10.2f}"
              f"{row['failures']:>8}")
    print(f"ratio recommendations / healthz: req/s {rec['rps'] / health['rps']:.2f}, "
          f"p50 {rec['p50'] / health['p50']:.2f}x, p99 {rec['p99'] / health['p99']:.2f}x")
    print(f"\nin process, {args.samples} single-user calls (k={args.k})")
    for name, row in local.items():
        print(f"{name:<36}p50 {row['p50']:.3f} ms   p99 {row['p99']:.3f} ms")
    fused, peer = local["fused recommendation"], local["popularity fallback"]
    print(f"ratio fused / popularity fallback: p99 {fused['p99'] / peer['p99']:.1f}x")


def built_with_test_fuser(model: Path) -> bool:
    """True when the bundle's fuser is the test suite's SumFuser."""
    meta = model / "recommender" / "fuser" / "fuser.json"
    return meta.is_file() and '"test-sum"' in meta.read_text("utf-8")


def main() -> None:
    args = parse_args()
    # As `recfusion serve --kernel-threads 1` does, before numba and FAISS are imported, so
    # the in-process figures match the server's setup.
    for name in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                 "MKL_NUM_THREADS"):
        os.environ[name] = str(args.kernel_threads)
    test_fuser = args.build in ("interim", "popularity") or (
        args.model is not None and built_with_test_fuser(args.model)
    )
    if test_fuser:
        use_test_fuser()
    with tempfile.TemporaryDirectory(prefix="serve_load.") as scratch:
        model = args.model or build_bundle(args.build, Path(scratch) / "model")
        from recfusion.serving import load_bundle

        user_ids = load_bundle(model).user_ids.tolist()
        rng = np.random.default_rng(args.seed)
        picks = [user_ids[i] for i in rng.integers(0, len(user_ids), args.requests)]
        rec_paths = [f"/v1/users/{quote(u, safe='')}/recommendations?k={args.k}" for u in picks]
        with running_server(Path(model), Path(scratch) / "events.sqlite3", test_fuser) as base:
            load_phase(base, rec_paths[:200], args.clients, args.max_seconds)  # warm-up
            rec = load_phase(base, rec_paths, args.clients, args.max_seconds)
            health = load_phase(base, ["/healthz"] * args.requests, args.clients,
                                args.max_seconds)
        local_users = [user_ids[i] for i in rng.integers(0, len(user_ids), args.samples)]
        report(rec, health, in_process(Path(model), local_users, args.k), args)


if __name__ == "__main__":
    main()
