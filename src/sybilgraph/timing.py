"""Wall time of named steps, recorded into a dict that reports and runs carry."""

from __future__ import annotations

import time
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager

__all__ = ["timed"]


@contextmanager
def timed(timings: MutableMapping[str, float], name: str) -> Iterator[None]:
    """Seconds spent in the block as ``timings[name]`` (ms precision), also when it raises.

    The key is placed when the block starts, so steps timed inside it (``"name.step"``) come
    after it in the dict's order, which is how benchmarks rebuild their time windows.
    """
    timings[name] = 0.0
    t0 = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = round(time.perf_counter() - t0, 3)
