"""One fenced lease in Neo4j: who may write, proven inside the write's own transaction.

Method: leases (Gray and Cheriton, "Leases: an efficient fault-tolerant mechanism for
distributed file cache consistency", SOSP 1989) with fencing tokens (Kleppmann, "How to do
distributed locking", 2016). A lease is a ``(:Lock {name})`` node (unique by name,
``cypher/schema/create_constraints.cypher``) holding its holder, an expiry in the server's
clock, and a *fencing token* that grows with every acquisition (never below the server's epoch
milliseconds, so it keeps growing even if the node is deleted by ``db reset``).

* ``acquire`` takes a free or expired lease and returns the new token; a lease held by someone
  else raises ``LeaseBusy``.
* ``renew`` extends *our* lease and raises ``LeaseLost`` when it expired or someone took it
  over: renewing is not acquiring, so a holder that stalled past its lease (GC pause, SIGSTOP,
  a suspended VM) learns that it lost it instead of silently taking it back.
* ``release`` frees it (only if still ours).
* A heartbeat thread (``hold(..., heartbeat_s=...)``) renews while long work runs; when a renew
  fails the lease is marked lost and ``check()`` raises.
* Fencing: ``Database.write(name, fence=lease.fence, ...)`` runs the statement and the lease's
  checks in one transaction: ``lease/read_fence`` first (a read: unless the token is current and
  the lease unexpired, nothing is written), ``lease/check_fence`` last, just before the commit.
  That one writes the lease node, which takes its write lock until the commit, and requires the
  token to still be ours, so a takeover cannot commit between the check and the write, and a
  stalled holder's late write is refused (``LeaseLost``) and rolled back. It also extends a
  running lease (the writer is alive), so a write longer than the heartbeat does not lose it.

Frozen holders. A holder frozen (SIGSTOP, a suspended VM) *inside* a transaction that wrote the
lease node keeps the node's write lock, and every taker would wait for it for ever. So every
transaction that writes the node has a server-side timeout, after which the server ends it and
frees the lock: lease statements ``STATEMENT_TIMEOUT_S``, fenced writes the fence's
``timeout_s`` (``lease_write_timeout_s``; the lock is held only for their last statement). A
taker waits ``LOCK_WAIT_S`` for the lock, longer than a frozen lease statement can hold it, then
says the lease is locked (``LeaseBusy``) or, within its ``wait_s``, tries again.

Every writer that must be alone takes one of ``LEASES``: attribution (CLI, scheduler, API) the
``attribution`` lease; ingest (CLI, scheduler) and withdrawal the ``ingest`` lease.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sybilgraph.errors import SybilgraphError, TransactionTimedOut

if TYPE_CHECKING:
    from sybilgraph.db.session import Database

__all__ = [
    "ATTRIBUTION_LEASE",
    "INGEST_LEASE",
    "LEASES",
    "Fence",
    "Lease",
    "LeaseBusy",
    "LeaseLost",
    "hold",
    "new_holder",
]

log = logging.getLogger("sybilgraph.lease")

ATTRIBUTION_LEASE = "attribution"
INGEST_LEASE = "ingest"
LEASES = (ATTRIBUTION_LEASE, INGEST_LEASE)

# A lease statement is milliseconds of work on one node; the server ends one that takes longer
# than this (a holder frozen inside it), freeing the node's lock. Generous for a loaded server.
STATEMENT_TIMEOUT_S = 10.0
# How long an acquire waits for the node's lock: longer than a frozen lease statement can hold it
# (its timeout plus the server's periodic timeout check), so only a frozen fenced write outlasts it.
LOCK_WAIT_S = 2 * STATEMENT_TIMEOUT_S


class LeaseBusy(SybilgraphError):
    """The lease is held by another holder (``locked``: a transaction of its holder that has not
    finished holds the lease node's lock, e.g. a holder frozen mid-write)."""

    def __init__(self, name: str, holder: str | None, expires_at: Any, locked_for_s: float | None = None) -> None:
        self.name = name
        self.holder = holder
        self.expires_at = expires_at
        self.locked = locked_for_s is not None
        what = {ATTRIBUTION_LEASE: "another attribution run", INGEST_LEASE: "another ingest"}.get(name, f"'{name}'")
        if locked_for_s is None:
            super().__init__(f"{what} is in progress ({holder}); its lease expires at {expires_at} unless renewed")
        else:
            super().__init__(
                f"{what} is in progress ({holder}): a transaction of it has held the lease's lock for over "
                f"{locked_for_s:g}s (its process may be frozen mid-write); the server ends that transaction "
                "after lease_write_timeout_s, then the lease can be taken once it expires"
            )


class LeaseLost(SybilgraphError):
    """Our lease expired or was taken over: we may no longer write."""


@dataclass(frozen=True)
class Fence:
    """What a fenced write proves: the lease's name and the token it was acquired with; with
    how long the lease lasts (a fenced write extends it) and the server-side timeout of the
    write's transaction."""

    name: str
    token: int
    ttl_ms: int
    timeout_s: float


def new_holder(purpose: str = "") -> str:
    """``host:pid:random[:purpose]``: unique per Lease, readable in ``sybilgraph runs``."""
    base = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
    return f"{base}:{purpose}" if purpose else base


class Lease:
    """One named lease for one holder. Not re-entrant: a second ``acquire`` while held is busy."""

    def __init__(
        self, db: Database, name: str, holder: str | None = None, ttl_s: float = 60.0, lock_wait_s: float = LOCK_WAIT_S
    ) -> None:
        if ttl_s <= 0:
            raise ValueError("a lease needs a positive ttl_s")
        self.db = db
        self.name = name
        self.holder = holder or new_holder()
        self.ttl_s = ttl_s
        self.lock_wait_s = lock_wait_s
        self.token: int | None = None
        self.lost = threading.Event()
        self._lost_reason = ""

    # -- the three operations --------------------------------------------------------------------
    def acquire(self, wait_s: float = 0.0, poll_s: float = 1.0) -> int:
        """Take the lease (waiting up to ``wait_s`` while it is busy); the new fencing token."""
        self.db.ensure_schema()
        deadline = time.monotonic() + wait_s
        while True:
            try:
                row = self.db.write("lease/acquire_lease", timeout_s=self.lock_wait_s, name=self.name,
                                    holder=self.holder, ttl_ms=self._ttl_ms)[0]
            except TransactionTimedOut:
                # The node's lock is held by a transaction that does not finish: say so, or retry.
                if time.monotonic() + poll_s > deadline:
                    raise self._locked() from None
                time.sleep(poll_s)
                continue
            if row["acquired"]:
                self.token = int(row["token"])
                self.lost.clear()
                self._lost_reason = ""
                log.info(json.dumps({"event": "lease_acquired", "lease": self.name, "holder": self.holder,
                                     "token": self.token}))
                return self.token
            if time.monotonic() + poll_s > deadline:
                raise LeaseBusy(self.name, row["holder"], row["expires_at"])
            time.sleep(poll_s)

    def renew(self) -> None:
        """Extend our lease by ``ttl_s``; ``LeaseLost`` when it expired or changed hands."""
        if self.token is None:
            raise LeaseLost(f"lease '{self.name}' is not held by {self.holder}")
        rows = self.db.write("lease/renew_lease", timeout_s=STATEMENT_TIMEOUT_S, name=self.name, holder=self.holder,
                             token=self.token, ttl_ms=self._ttl_ms)
        if not rows or not rows[0]["renewed"]:
            now = rows[0] if rows else {"holder": None, "token": None}
            self._mark_lost(f"lease '{self.name}' (token {self.token}) was lost: it expired or was taken over "
                            f"(now held by {now['holder']}, token {now['token']})")
            raise LeaseLost(self._lost_reason)

    def release(self) -> bool:
        """Free the lease if it is still ours; whether it was."""
        if self.token is None:
            return False
        token, self.token = self.token, None
        rows = self.db.write("lease/release_lease", timeout_s=STATEMENT_TIMEOUT_S, name=self.name, holder=self.holder,
                             token=token)
        return bool(rows and rows[0]["released"])

    # -- fencing ---------------------------------------------------------------------------------
    @property
    def fence(self) -> Fence:
        """The proof a fenced write carries; ``LeaseLost`` if we know the lease is gone."""
        self.check()
        assert self.token is not None  # check() raised otherwise
        return Fence(self.name, self.token, self._ttl_ms, self.db.settings.lease_write_timeout_s)

    def check(self) -> None:
        """Raise ``LeaseLost`` if the lease is not held or a heartbeat found it lost."""
        if self.token is None:
            raise LeaseLost(f"lease '{self.name}' is not held by {self.holder}")
        if self.lost.is_set():
            raise LeaseLost(self._lost_reason)

    # -- heartbeat -------------------------------------------------------------------------------
    @contextmanager
    def heartbeat(self, interval_s: float) -> Iterator[None]:
        """Renew every ``interval_s`` on a daemon thread while the block runs."""
        if interval_s >= self.ttl_s:
            raise ValueError("a heartbeat must beat more often than the lease's ttl_s")
        stop = threading.Event()
        thread = threading.Thread(target=self._beat, args=(interval_s, stop), name=f"lease-{self.name}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=5)

    def _beat(self, interval_s: float, stop: threading.Event) -> None:
        last_ok = time.monotonic()
        while not stop.wait(interval_s):
            try:
                self.renew()
                last_ok = time.monotonic()
            except LeaseLost as e:
                log.error(json.dumps({"event": "lease_lost", "lease": self.name, "holder": self.holder, "reason": str(e)}))
                return
            except Exception as e:  # noqa: BLE001 - the database may come back before the lease expires
                log.warning(json.dumps({"event": "lease_renew_failed", "lease": self.name, "error": f"{type(e).__name__}: {e}"}))
                if time.monotonic() - last_ok >= self.ttl_s:
                    self._mark_lost(f"lease '{self.name}' (token {self.token}) was lost: it could not be renewed "
                                    f"for {self.ttl_s:g}s ({e})")
                    return

    def _locked(self) -> LeaseBusy:
        """``LeaseBusy`` for a lease node locked by an unfinished transaction (read without a lock)."""
        row = next((r for r in self.db.read("lease/read_leases") if r["name"] == self.name), {})
        return LeaseBusy(self.name, row.get("holder"), row.get("expires_at"), locked_for_s=self.lock_wait_s)

    def _mark_lost(self, reason: str) -> None:
        self._lost_reason = reason
        self.lost.set()

    @property
    def _ttl_ms(self) -> int:
        return max(1, round(self.ttl_s * 1000))


@contextmanager
def hold(
    db: Database,
    name: str,
    *,
    ttl_s: float,
    heartbeat_s: float | None = None,
    holder: str | None = None,
    wait_s: float = 0.0,
) -> Iterator[Lease]:
    """Acquire ``name``, renew it every ``heartbeat_s`` while the block runs, release it after.

    ``LeaseBusy`` when another holder keeps it beyond ``wait_s``. Inside, ``lease.check()``
    before each step and ``fence=lease.fence`` on the writes that matter.
    """
    lease = Lease(db, name, holder, ttl_s)
    lease.acquire(wait_s=wait_s)
    try:
        if heartbeat_s:
            with lease.heartbeat(heartbeat_s):
                yield lease
        else:
            yield lease
    finally:
        try:
            lease.release()
        except Exception as e:  # noqa: BLE001 - an unreleased lease expires by itself
            log.warning(json.dumps({"event": "lease_not_released", "lease": name, "error": f"{type(e).__name__}: {e}"}))
