"""Run-scoped response caching: answers are reused until the data they came from changes.

Attribution results are immutable per run, and between runs the graph changes only when a run
is promoted, an ingest finishes, or an analyst writes a decision or a label. A response is
therefore cached under the *data version* it was computed at (``DataVersion``: the current run
id, the ``DataVersion`` counter every writer bumps in the same transaction as its change, and
the last finished ingest), the caller's role (masks differ by role), the document's SHA-256,
the operation name and the variables. When any part of the version moves, every old key is
unreachable: nothing is invalidated entry by entry, and nothing stale can be found.

The version is read from Neo4j at most once per ``check_interval_s`` per worker process (one
small statement), so a change made by another process is seen within that interval; a change
this process makes resets the clock, so its own next response is fresh. Entries also expire
after ``max_age_s`` whatever the version says, a bound for writers that do not bump it.

Only operations made of data fields (``documents.CACHEABLE_ROOT_FIELDS``: not ``me``, not
``runs``, whose progress moves without a version) and answered without errors are stored. The
cache holds the serialized response and what the audit log records about it (accounts and
operators touched, lookups), so a hit is audited exactly as the miss that filled it.
Concurrent identical misses wait for the first one instead of all running (request coalescing).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CacheEntry", "CacheStats", "DataVersion", "ResponseCache", "cache_key"]

log = logging.getLogger("sybilgraph.api.cache")


@dataclass(frozen=True)
class CacheEntry:
    body: bytes
    accounts: tuple[str, ...]
    operators: tuple[str, ...]
    lookups: tuple[dict[str, str], ...]
    created: float
    cost: int | None = None

    @property
    def size(self) -> int:
        return len(self.body) + 64 * (len(self.accounts) + len(self.operators)) + 200


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    coalesced: int = 0  # misses that waited for an identical one in flight
    stored: int = 0
    evicted: int = 0
    bypassed: int = 0  # cacheable requests served without the cache (version unknown)

    def as_dict(self) -> dict[str, Any]:
        asked = self.hits + self.misses + self.coalesced
        return {**self.__dict__, "hit_rate": round((self.hits + self.coalesced) / asked, 4) if asked else None}


def cache_key(version: str, role: str, document_sha: str, operation: str | None, variables: dict[str, Any] | None) -> str:
    canonical = json.dumps(variables or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    raw = "\x1f".join((version, role, document_sha, operation or "", canonical))
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


class ResponseCache:
    """An LRU of serialized responses bounded in bytes, with request coalescing."""

    def __init__(self, max_bytes: int, max_age_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s
        self.clock = clock
        self.stats = CacheStats()
        self._entries: OrderedDict[str, CacheEntry] = OrderedDict()
        self._bytes = 0
        self._inflight: dict[str, asyncio.Future[CacheEntry | None]] = {}

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> CacheEntry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self.clock() - entry.created > self.max_age_s:
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry

    def put(self, key: str, entry: CacheEntry) -> None:
        if entry.size > self.max_bytes // 8:  # one answer never crowds out the rest
            return
        if key in self._entries:
            self._drop(key)
        self._entries[key] = entry
        self._bytes += entry.size
        self.stats.stored += 1
        while self._bytes > self.max_bytes and self._entries:
            oldest = next(iter(self._entries))
            self._drop(oldest)
            self.stats.evicted += 1

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry.size

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0

    async def get_or_compute(
        self, key: str, compute: Callable[[], Awaitable[tuple[Any, CacheEntry | None]]]
    ) -> tuple[str, Any, CacheEntry | None]:
        """('hit' | 'coalesced' | 'miss', the computed result or None, the entry).

        ``compute`` returns (its result, the entry to store or None when the answer must not be
        cached). A waiter whose leader produced nothing cacheable computes for itself.
        """
        entry = self.get(key)
        if entry is not None:
            self.stats.hits += 1
            return "hit", None, entry
        pending = self._inflight.get(key)
        if pending is not None:
            try:
                entry = await asyncio.shield(pending)
            except Exception:  # noqa: BLE001 - the leader's failure is the leader's to report
                entry = None
            if entry is not None:
                self.stats.coalesced += 1
                return "coalesced", None, entry
        self.stats.misses += 1
        future: asyncio.Future[CacheEntry | None] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            result, entry = await compute()
            if entry is not None:
                self.put(key, entry)
            future.set_result(entry)
            return "miss", result, entry
        except BaseException:
            future.set_result(None)
            raise
        finally:
            if self._inflight.get(key) is future:
                del self._inflight[key]


@dataclass
class DataVersion:
    """The data version as this process last read it from Neo4j (at most once per interval)."""

    read: Callable[[], Awaitable[str]]
    check_interval_s: float
    clock: Callable[[], float] = time.monotonic
    token: str | None = None
    checked_at: float = field(default=-1e18)
    _refresh: asyncio.Task[str] | None = None
    _generation: int = 0

    def invalidate(self) -> None:
        """This process changed the data: read the version again before the next cached answer
        (a read already in flight may have started before the change: it is not used)."""
        self._generation += 1
        self.checked_at = -1e18
        self.token = None
        self._refresh = None

    async def current(self) -> str | None:
        """The version token, or None when it cannot be read (then nothing is served from the cache)."""
        if self.token is not None and self.clock() - self.checked_at < self.check_interval_s:
            return self.token
        if self._refresh is None or self._refresh.done():
            self._refresh = asyncio.ensure_future(self._read())
        try:
            return await asyncio.shield(self._refresh)
        except Exception as e:  # noqa: BLE001 - no version, no cache; the request reports the database
            log.debug("data version unavailable: %s", e)
            return None

    async def _read(self) -> str:
        started, generation = self.clock(), self._generation
        token = await self.read()
        if generation == self._generation:
            self.token, self.checked_at = token, started
        return token
