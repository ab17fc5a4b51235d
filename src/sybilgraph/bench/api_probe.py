"""A short GraphQL latency probe for ``sybilgraph bench``, on the API's own load benchmark.

The server runs in its own process (one uvicorn worker, as ``python -m sybilgraph.api.bench
--serve`` starts it) so the probe's clients and the server do not share one interpreter lock;
it reads its settings from the environment, which is built here from the bench's Settings.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sybilgraph.bench.results import ApiLevel
from sybilgraph.settings import Settings

__all__ = ["ProbeResult", "probe_api"]


@dataclass
class ProbeResult:
    levels: list[ApiLevel] = field(default_factory=list)
    startup_s: float = 0.0
    probe_s: float = 0.0
    skipped: str | None = None  # why no probe ran


def probe_api(
    settings: Settings,
    clients: tuple[int, ...] = (1, 10),
    requests: int = 200,
    warmup: int = 20,
    on_server: Callable[[int | None], None] = lambda pid: None,
) -> ProbeResult:
    """p50/p99, req/s and cache hits of ``account`` with evidence and an operators page at each client
    count, cold (first asked) and warm (asked again).

    ``on_server`` is told the server's pid once it answers (and None when it is gone), so its
    memory can be sampled.
    """
    try:
        from sybilgraph.api import bench as api_bench  # aiohttp and httpx are dev extras
    except ImportError as e:
        return ProbeResult(skipped=f"API probe needs aiohttp and httpx ({e}); install the dev extra")
    t0 = time.perf_counter()
    try:
        proc, url, key, tmp = api_bench._serve(1, "admin", settings.connection_env())
    except SystemExit as e:  # the API's benchmark speaks to people through SystemExit
        return ProbeResult(skipped=str(e))
    startup = time.perf_counter() - t0
    on_server(proc.pid)
    try:
        t1 = time.perf_counter()
        levels = asyncio.run(api_bench.bench(url, key, list(clients), requests))
        probe_s = time.perf_counter() - t1
    except SystemExit as e:  # e.g. no attributed account to ask for
        return ProbeResult(startup_s=startup, skipped=str(e))
    finally:
        on_server(None)
        proc.terminate()
        proc.wait(timeout=30)
        tmp.cleanup()
    return ProbeResult([_level(r) for r in levels], startup, probe_s)


def _level(r: Any) -> ApiLevel:
    return ApiLevel(r.label, r.concurrency, r.requests, r.errors, r.p50_ms, r.p99_ms, r.rps, r.hit_rate)
