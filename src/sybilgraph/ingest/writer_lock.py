"""One writer at a time for the columnar store and the ingested graph.

Every writer (``sybilgraph ingest``, the scheduler's ingest, ``sybilgraph ingest --withdraw``)
runs inside :func:`exclusive_writer`, which holds two things:

* the fenced ``ingest`` lease (``db/lease.py``), renewed by a heartbeat, which serialises writers
  on every host that shares the database; the scheduler takes it itself and hands it over; the
  graph writes carry its fence, so a holder that stalled past its lease writes nothing more;
* an ``flock`` on ``<columnar>/.writer.lock``, which serialises writers of this home even while
  the database is down (the bulk import stops it) and is freed by the kernel when its holder
  dies, however it dies. A lease whose holder was a process of this host that no longer runs
  (a killed ingest) is therefore taken over at once instead of after its TTL.

The guard's ``check()`` raises ``LeaseLost`` when the lease was lost; the pipeline calls it
before each commit point (the manifest write, the state switch).
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sybilgraph.db.lease import INGEST_LEASE, Fence, Lease, LeaseBusy, LeaseLost, new_holder
from sybilgraph.db.session import Database
from sybilgraph.errors import SybilgraphError
from sybilgraph.settings import Settings

__all__ = ["WriterBusy", "WriterGuard", "exclusive_writer"]

log = logging.getLogger("sybilgraph.ingest")


class WriterBusy(SybilgraphError):
    """Another ingest or withdrawal holds the store."""


class WriterGuard:
    """What a writer holds: ``check()`` before each commit point, ``fence`` on graph writes."""

    def __init__(self, lease: Lease, settings: Settings, owned: bool) -> None:
        self.lease = lease
        self.settings = settings
        self.owned = owned  # acquired here (and released here), not handed over
        self.paused = False

    def check(self) -> None:
        if not self.paused:
            self.lease.check()

    @property
    def fence(self) -> Fence | None:
        return None if self.paused else self.lease.fence

    def pause(self) -> None:
        """The database is about to stop (bulk import): its lease cannot be renewed meanwhile."""
        self.paused = True

    def resume(self, db: Database) -> None:
        """The database is back on a fresh store, which holds no lease: take it again there."""
        lease = Lease(db, INGEST_LEASE, self.lease.holder, self.settings.lease_ttl_s)
        try:
            lease.acquire()
        except LeaseBusy as e:
            raise WriterBusy(f"another writer took the '{INGEST_LEASE}' lease ({e.holder}) while the database restarted") from None
        self.lease = lease
        self.owned = True
        self.paused = False


@contextmanager
def _file_lock(path: Path, wait_s: float) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    holder = path.read_text(errors="replace").strip() or "another process"
                    raise WriterBusy(f"another ingest is writing this store ({holder}); try again when it is done") from None
                time.sleep(0.5)
        os.ftruncate(fd, 0)
        os.write(fd, f"{socket.gethostname()}:{os.getpid()}".encode())
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _dead_local_holder(holder: str | None) -> bool:
    """The holder (``host:pid:...``, db.lease.new_holder) is a process of this host that is gone."""
    if not holder:
        return False
    host, _, rest = holder.partition(":")
    pid_text = rest.split(":", 1)[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, someone else's
    return False


def _acquire(db: Database, settings: Settings, wait_s: float) -> Lease:
    lease = Lease(db, INGEST_LEASE, new_holder("ingest"), settings.lease_ttl_s)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            lease.acquire()
            return lease
        except LeaseBusy as e:
            if _dead_local_holder(e.holder):
                # We hold this home's file lock, so that holder is a run that was killed.
                db.write("ingest/expire_dead_lease", name=INGEST_LEASE, holder=e.holder)
                log.warning(json.dumps({"event": "lease_reclaimed", "lease": INGEST_LEASE, "dead_holder": e.holder}))
                continue
            if time.monotonic() >= deadline:
                raise WriterBusy(f"another ingest holds the '{INGEST_LEASE}' lease ({e.holder}); "
                                 "try again when it is done") from None
            time.sleep(1.0)


@contextmanager
def exclusive_writer(
    db: Database, settings: Settings, lease: Lease | None = None, wait_s: float = 30.0
) -> Iterator[WriterGuard]:
    """Hold the store's file lock and the ``ingest`` lease while the block runs.

    ``lease``: the ``ingest`` lease the caller already holds and renews (the scheduler's).
    """
    with _file_lock(settings.columnar_dir / ".writer.lock", wait_s):
        if lease is not None:
            if lease.name != INGEST_LEASE:
                raise ValueError(f"ingest needs the '{INGEST_LEASE}' lease, not '{lease.name}'")
            lease.check()
            yield WriterGuard(lease, settings, owned=False)
            return
        guard = WriterGuard(_acquire(db, settings, wait_s), settings, owned=True)
        stop = threading.Event()
        beat = threading.Thread(target=_renew, args=(guard, stop), name="ingest-lease", daemon=True)
        beat.start()
        try:
            yield guard
        finally:
            stop.set()
            beat.join(timeout=5)
            if guard.owned and not guard.paused:
                try:
                    guard.lease.release()
                except Exception as e:  # noqa: BLE001 - an unreleased lease expires by itself
                    log.warning(json.dumps({"event": "lease_not_released", "lease": INGEST_LEASE, "error": str(e)}))


def _renew(guard: WriterGuard, stop: threading.Event) -> None:
    """Renew the current lease every heartbeat (not while paused: the database is down)."""
    while not stop.wait(guard.settings.lease_heartbeat_s):
        if guard.paused or not guard.owned:
            continue
        lease = guard.lease
        try:
            lease.renew()
        except LeaseLost as e:
            if guard.paused or guard.lease is not lease:
                # A renewal in flight when the bulk import stopped the database ends on the new
                # store, where the lease was taken anew (``resume``): renew that one from now on.
                continue
            log.error(json.dumps({"event": "lease_lost", "lease": INGEST_LEASE, "reason": str(e)}))
            return
        except Exception as e:  # noqa: BLE001 - retried on the next beat; the lease outlives a few misses
            log.warning(json.dumps({"event": "lease_renew_failed", "lease": INGEST_LEASE, "error": str(e)}))
