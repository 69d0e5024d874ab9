"""Request counters and latency histograms in the Prometheus text exposition format (0.0.4)."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable

#: Upper bounds of the latency histogram buckets, in seconds.
LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _Histogram:
    """Cumulative-on-render bucket counts, a sum and a count."""

    __slots__ = ("counts", "count", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(LATENCY_BUCKETS) + 1)
        self.count = 0
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.count += 1
        self.total += seconds


class Metrics:
    """Thread-safe request metrics of one server process.

    ``observe`` records one finished request; ``render`` returns the exposition text with
    ``recfusion_http_requests_total{endpoint,method,status}`` and
    ``recfusion_http_request_duration_seconds{endpoint}`` plus any registered gauges.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, int], int] = {}
        self._latency: dict[str, _Histogram] = {}
        self._gauges: dict[str, tuple[str, Callable[[], list[tuple[dict[str, str], float]]]]] = {}

    def observe(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        """Count one request and add its duration (seconds) to the endpoint's histogram."""
        key = (endpoint, method, status)
        with self._lock:
            self._requests[key] = self._requests.get(key, 0) + 1
            histogram = self._latency.get(endpoint)
            if histogram is None:
                histogram = self._latency[endpoint] = _Histogram()
            histogram.observe(seconds)

    def gauge(
        self, name: str, help_text: str, read: Callable[[], list[tuple[dict[str, str], float]]]
    ) -> None:
        """Register a gauge whose samples ``read()`` returns as (labels, value) at render."""
        self._gauges[name] = (help_text, read)

    def render(self) -> str:
        """The whole exposition text, ending with a newline."""
        with self._lock:
            requests = sorted(self._requests.items())
            latency = sorted(
                (name, list(h.counts), h.count, h.total) for name, h in self._latency.items()
            )
        lines = [
            "# HELP recfusion_http_requests_total HTTP requests by endpoint, method and status.",
            "# TYPE recfusion_http_requests_total counter",
        ]
        for (endpoint, method, status), count in requests:
            labels = _labels({"endpoint": endpoint, "method": method, "status": str(status)})
            lines.append(f"recfusion_http_requests_total{labels} {count}")
        lines += _histogram_lines(latency)
        for name, (help_text, read) in sorted(self._gauges.items()):
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
            lines += [f"{name}{_labels(labels)} {_number(value)}" for labels, value in read()]
        return "\n".join(lines) + "\n"


def _histogram_lines(latency: list[tuple[str, list[int], int, float]]) -> list[str]:
    name = "recfusion_http_request_duration_seconds"
    lines = [
        f"# HELP {name} Time from request start to response end, by endpoint.",
        f"# TYPE {name} histogram",
    ]
    for endpoint, counts, count, total in latency:
        cumulative = 0
        for bound, bucket in zip((*LATENCY_BUCKETS, float("inf")), counts):
            cumulative += bucket
            le = "+Inf" if bound == float("inf") else repr(bound)
            lines.append(f"{name}_bucket{_labels({'endpoint': endpoint, 'le': le})} {cumulative}")
        lines.append(f"{name}_sum{_labels({'endpoint': endpoint})} {_number(total)}")
        lines.append(f"{name}_count{_labels({'endpoint': endpoint})} {count}")
    return lines


def _labels(labels: dict[str, str]) -> str:
    """``{a="x",b="y"}`` with backslash, quote and newline escaped."""
    if not labels:
        return ""
    body = ",".join(f'{key}="{_escape(value)}"' for key, value in labels.items())
    return "{" + body + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


__all__ = ["CONTENT_TYPE", "LATENCY_BUCKETS", "Metrics"]
