"""Cost measurements: peak extra memory while a block runs, and per-call latency."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def resident_bytes() -> int:
    """Current resident set size of this process (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


@dataclass
class MemoryPeak:
    """Peak resident memory above the level at entry, in MiB (sampled every 5 ms)."""

    extra_mb: float = 0.0


@contextlib.contextmanager
def peak_memory(interval: float = 0.005) -> Iterator[MemoryPeak]:
    """Sample RSS in a background thread while the block runs.

    Covers memory allocated by compiled code (numba, FAISS, implicit) that tracemalloc does
    not see. Short spikes between two samples can be missed.
    """
    result = MemoryPeak()
    start = resident_bytes()
    peak = [start]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(interval):
            peak[0] = max(peak[0], resident_bytes())

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield result
    finally:
        stop.set()
        thread.join()
        peak[0] = max(peak[0], resident_bytes())
        result.extra_mb = (peak[0] - start) / 2**20


def latencies_ms(call: Callable[[int], object], rows: int) -> np.ndarray:
    """Milliseconds taken by ``call(row)`` for each row in ``range(rows)``, one at a time."""
    timings = np.empty(rows, dtype=np.float64)
    for row in range(rows):
        started = time.perf_counter()
        call(row)
        timings[row] = (time.perf_counter() - started) * 1000.0
    return timings


__all__ = ["MemoryPeak", "latencies_ms", "peak_memory", "resident_bytes"]
