"""Leases in Neo4j, kept alive by a heartbeat thread, reclaimable when their holder dies.

Why: schedulers on several hosts share one database, and a process can be killed at any
moment. Three locks matter:

* ``attribution`` is the pipeline's own lock (``cypher/attribution/acquire_lock.cypher``):
  a TTL of 15 minutes, renewed per phase. A scheduler running attribution also *beats* on it
  (``heartbeat_at``); when the beats stop for ``lock_stale_s`` the holder is dead and another
  scheduler expires the lock at once instead of waiting out the TTL. A holder that never beat
  (``sybilgraph attribute`` from the CLI) keeps the plain TTL.
* ``attribution-gate`` is taken by a scheduler before it calls the pipeline. The pipeline's
  statement reads the lock before it holds the node's write lock, so two callers racing can both
  take it; the gate (``cypher/jobs/acquire_lease.cypher``) takes the write lock first, so
  schedulers never race into the pipeline together.
* ``inbox`` serialises ingest (the columnar store takes one writer).

The two leases last ``lock_stale_s`` and are renewed by the heartbeat, so a dead scheduler's
leases free themselves. Leases without fencing tokens assume a live holder beats at least every
``lock_stale_s``; beats run on their own thread, so only a stalled process or database breaks that.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sybilgraph.db.session import Database

__all__ = [
    "ATTRIBUTION_GATE",
    "ATTRIBUTION_LOCK",
    "INBOX_LOCK",
    "Heartbeat",
    "Lease",
    "beat_attribution_lock",
    "reclaim_stale_lock",
]

log = logging.getLogger("sybilgraph.jobs")

ATTRIBUTION_LOCK = "attribution"  # the pipeline's LOCK_NAME
ATTRIBUTION_GATE = "attribution-gate"
INBOX_LOCK = "inbox"


class Heartbeat:
    """A daemon thread calling registered beats every ``interval_s``.

    A beat may return False for "not yet" (the pipeline has not taken its lock yet): until it
    first returns something else, it is retried every ``FAST_RETRY_S`` (at most ``FAST_TRIES``
    times), so a holder is heartbeating within a fraction of a second of taking its lock.
    """

    FAST_RETRY_S = 0.2
    FAST_TRIES = 50

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._beats: dict[str, _Beat] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="sybilgraph-heartbeat", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @contextmanager
    def beating(self, name: str, beat: Callable[[], bool | None]) -> Iterator[None]:
        with self._lock:
            self._beats[name] = _Beat(beat)
        self._wake.set()
        try:
            yield
        finally:
            with self._lock:
                self._beats.pop(name, None)

    def _loop(self) -> None:
        wait = 0.0
        while not self._stop.is_set():
            self._wake.wait(wait)
            self._wake.clear()
            if self._stop.is_set():
                return
            with self._lock:
                beats = list(self._beats.items())
            hurry = False
            for name, beat in beats:
                hurry = self._beat_once(name, beat) or hurry
            wait = self.FAST_RETRY_S if hurry else self.interval_s

    def _beat_once(self, name: str, beat: _Beat) -> bool:
        """Run one beat; True when it should be retried soon."""
        try:
            answer = beat.fn()
        except Exception as e:  # noqa: BLE001 - a missed beat is retried on the next tick
            log.warning(json.dumps({"event": "heartbeat_failed", "beat": name, "error": str(e)}))
            return False
        if answer is False and not beat.landed and beat.fast_tries < self.FAST_TRIES:
            beat.fast_tries += 1
            return True
        beat.landed = beat.landed or answer is not False
        return False


class _Beat:
    def __init__(self, fn: Callable[[], bool | None]) -> None:
        self.fn = fn
        self.landed = False
        self.fast_tries = 0


class Lease:
    """A named lease held by one holder at a time; expires ``ttl_s`` after the last renewal."""

    def __init__(self, db: Database, name: str, holder: str, ttl_s: float) -> None:
        self.db = db
        self.name = name
        self.holder = holder
        self.ttl_s = ttl_s
        self.lost = threading.Event()

    def acquire(self) -> tuple[bool, str | None]:
        row = self.db.write("jobs/acquire_lease", name=self.name, holder=self.holder, ttl_s=self.ttl_s)[0]
        if row["acquired"]:
            self.lost.clear()
        return bool(row["acquired"]), row["holder"]

    def renew(self) -> None:
        acquired, holder = self.acquire()
        if not acquired:
            self.lost.set()
            log.error(json.dumps({"event": "lease_lost", "lease": self.name, "holder": self.holder, "now_held_by": holder}))

    def release(self) -> None:
        self.db.write("jobs/release_lease", name=self.name, holder=self.holder)


def beat_attribution_lock(db: Database, run_id: str) -> bool:
    """One heartbeat for our attribution run; False while the pipeline has not taken the lock."""
    rows = db.write("jobs/beat_lock", name=ATTRIBUTION_LOCK, run_id=run_id)
    return bool(rows and rows[0]["ours"])


def reclaim_stale_lock(db: Database, name: str, stale_s: float) -> str | None:
    """Expire ``name`` when its heartbeating holder went silent; the dead holder, or None."""
    rows = db.write("jobs/expire_stale_lock", name=name, stale_s=max(1, round(stale_s)))
    if rows:
        log.warning(json.dumps({"event": "lock_reclaimed", "lock": name, "dead_holder": rows[0]["holder"]}))
        return str(rows[0]["holder"])
    return None
