"""The ingest lease's heartbeat across a bulk import's restart, without Neo4j (the lease itself
against Neo4j: tests/db/test_lease.py)."""

from __future__ import annotations

import threading
import time

from sybilgraph.db.lease import LeaseLost
from sybilgraph.ingest.writer_lock import WriterGuard, _renew
from sybilgraph.settings import Settings


class _Lease:
    def __init__(self, lost: bool) -> None:
        self.lost, self.renewals = lost, 0

    def renew(self) -> None:
        self.renewals += 1
        if self.lost:
            raise LeaseLost("not on this store")


class _InFlight(_Lease):
    """A renewal sent just before the bulk import stopped the database: it ends on the imported
    store after ``resume`` took the lease there anew."""

    def __init__(self, guard_lease: _Lease) -> None:
        super().__init__(lost=True)
        self.resumed = guard_lease
        self.guard: WriterGuard | None = None

    def renew(self) -> None:
        assert self.guard is not None
        self.guard.lease = self.resumed  # type: ignore[assignment]
        super().renew()


def test_a_renewal_that_ends_on_the_imported_store_keeps_the_heartbeat_for_the_new_lease() -> None:
    settings = Settings().model_copy(update={"lease_heartbeat_s": 0.01})
    new = _Lease(lost=False)
    old = _InFlight(new)
    guard = WriterGuard(old, settings, owned=True)  # type: ignore[arg-type]
    old.guard = guard
    stop = threading.Event()
    beat = threading.Thread(target=_renew, args=(guard, stop), daemon=True)
    beat.start()
    time.sleep(0.2)
    stop.set()
    beat.join(timeout=2)
    assert old.renewals == 1 and new.renewals >= 3


def test_a_lease_lost_for_real_stops_the_heartbeat() -> None:
    settings = Settings().model_copy(update={"lease_heartbeat_s": 0.01})
    lease = _Lease(lost=True)
    guard = WriterGuard(lease, settings, owned=True)  # type: ignore[arg-type]
    beat = threading.Thread(target=_renew, args=(guard, threading.Event()), daemon=True)
    beat.start()
    beat.join(timeout=2)
    assert not beat.is_alive() and lease.renewals == 1
