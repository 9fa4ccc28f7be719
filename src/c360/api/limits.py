"""Per-consumer rate limits (``rate_limit: 100/s`` in the spec): a token bucket per consumer.

Buckets live in each worker process; with N workers each holds 1/N of the rate, so the
server as a whole allows the declared rate (connections spread evenly across workers).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from c360.spec.models import RATE, ProductSpec

_PER = {"s": 1.0, "m": 60.0, "h": 3600.0}


def parse_rate(text: str) -> tuple[float, float]:
    """``"100/s"`` → (100 requests, per 1.0 second)."""
    m = RATE.match(text)
    if not m:
        raise ValueError(f"not a rate: {text!r}")
    return float(m.group(1)), _PER[m.group(2)]


@dataclass
class _Bucket:
    capacity: float
    per_second: float
    tokens: float
    stamp: float


class RateLimiter:
    def __init__(self, product: ProductSpec, workers: int = 1) -> None:
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()
        now = time.monotonic()
        for name, consumer in product.consumers.items():
            if consumer.rate_limit:
                count, seconds = parse_rate(consumer.rate_limit)
                capacity = max(count / max(workers, 1), 1.0)
                self._buckets[name] = _Bucket(capacity, capacity / seconds, capacity, now)

    def limited(self, consumer: str) -> bool:
        return consumer in self._buckets

    def retry_after(self, consumer: str) -> int | None:
        """None when the request may go ahead, else whole seconds to wait before retrying."""
        b = self._buckets.get(consumer)
        if b is None:
            return None
        with self._lock:
            now = time.monotonic()
            b.tokens = min(b.capacity, b.tokens + (now - b.stamp) * b.per_second)
            b.stamp = now
            if b.tokens >= 1.0:
                b.tokens -= 1.0
                return None
            return max(1, math.ceil((1.0 - b.tokens) / b.per_second))
