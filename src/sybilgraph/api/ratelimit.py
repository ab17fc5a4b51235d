"""Per-key rate limits: a token bucket for every API key (and for every origin without one).

A bucket holds up to ``burst`` tokens and refills at ``per_second``; a request takes one (an
identifier lookup takes one from a second, smaller bucket per lookup it makes). An empty bucket
answers how long until the tokens are there, which the server sends as ``Retry-After``. This is
the token bucket of Turner ("New directions in communications", IEEE Comm. Mag. 1986), as
every API gateway implements it. Buckets live in the server process: with several worker
processes each has its own (docs/api.md). The number of buckets is bounded (least recently
used go first) so a flood of invented keys cannot grow memory.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Bucket", "RateLimiter", "retry_after_header"]


@dataclass
class Bucket:
    per_second: float
    burst: float
    tokens: float
    updated: float

    def take(self, n: float, now: float) -> float:
        """Take ``n`` tokens: 0.0 when granted, else the seconds until they would be."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.per_second)
        self.updated = now
        if n > self.burst:  # can never be granted: wait as if for a full bucket
            return (n - self.tokens) / self.per_second if self.per_second > 0 else math.inf
        if self.tokens >= n:
            self.tokens -= n
            return 0.0
        return (n - self.tokens) / self.per_second if self.per_second > 0 else math.inf


class RateLimiter:
    """Buckets by name, created full on first use with the limits of ``limits(name)``."""

    def __init__(self, max_buckets: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_buckets = max_buckets
        self.clock = clock
        self._buckets: OrderedDict[str, Bucket] = OrderedDict()

    def take(self, name: str, per_second: float, burst: float, n: float = 1.0) -> float:
        """Seconds to wait (0.0: go ahead) for ``n`` tokens of bucket ``name``."""
        now = self.clock()
        bucket = self._buckets.get(name)
        if bucket is None or bucket.per_second != per_second or bucket.burst != burst:
            bucket = Bucket(per_second, burst, burst, now)
            self._buckets[name] = bucket
            if len(self._buckets) > self.max_buckets:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(name)
        return bucket.take(n, now)


def retry_after_header(wait_s: float) -> str:
    """``Retry-After`` is whole seconds (RFC 9110): round up, at least 1."""
    return str(max(1, math.ceil(wait_s))) if math.isfinite(wait_s) else "3600"
