"""The one module that owns the Neo4j driver and its sessions.

Every statement runs by name (``cypher/<area>/<verb>_<noun>.cypher``) with parameters; writes go
through managed transactions (retried on transient errors) in batches; the GDS client is built
on the same driver. Nothing else in sybilgraph imports ``neo4j``'s driver directly, except the
API's async twin of this class.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from neo4j import (
    Driver,
    GraphDatabase,
    ManagedTransaction,
    NotificationMinimumSeverity,
    Query,
    RoutingControl,
    unit_of_work,
)
from neo4j.exceptions import AuthError, Neo4jError, ServiceUnavailable
from pydantic import BaseModel

from sybilgraph import cypher
from sybilgraph.db.lease import Fence, LeaseLost
from sybilgraph.errors import DatabaseUnavailable, TransactionTimedOut
from sybilgraph.settings import Settings

__all__ = ["Database", "Versions", "connect"]

log = logging.getLogger("sybilgraph.db")

Row = dict[str, Any]

# What the server says when it ended a transaction that outlived its timeout, or that waited for
# a lock until then (Neo4j 5: the lock client of a terminated transaction is stopped).
_TIMED_OUT = ("TransactionTimedOut", "TransactionTimedOutClientConfiguration", "LockClientStopped")


class Versions(BaseModel):
    neo4j: str
    edition: str
    gds: str | None


class Database:
    """A connected Neo4j, for one settings object. Use as a context manager or ``close()``."""

    def __init__(self, settings: Settings, driver: Driver | None = None) -> None:
        self.settings = settings
        # Server notifications (unknown labels on an empty graph, ...) are not for end users.
        self.driver: Driver = driver or GraphDatabase.driver(
            settings.bolt_uri, auth=settings.neo4j_auth, notifications_min_severity=NotificationMinimumSeverity.OFF
        )
        self.database = settings.neo4j_database
        self._schema_applied = False

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.driver.close()

    # -- reachability ------------------------------------------------------------------------
    def verify(self) -> None:
        try:
            self.driver.verify_connectivity()
        except AuthError as e:
            raise DatabaseUnavailable(
                f"Neo4j at {self.settings.bolt_uri} refused the credentials ({self.settings.neo4j_auth_source})"
            ) from e
        except (ServiceUnavailable, OSError) as e:
            raise DatabaseUnavailable(
                f"Neo4j does not answer at {self.settings.bolt_uri} "
                "(start the local one with 'sybilgraph db start', or set NEO4J_URI)"
            ) from e

    def versions(self) -> Versions:
        comp = self.read("db/get_components")
        kernel = next((c for c in comp if c["name"] == "Neo4j Kernel"), comp[0])
        try:
            gds = self.read("db/get_gds_version")[0]["version"]
        except Exception:  # noqa: BLE001 - a server without GDS still has versions to report
            gds = None
        return Versions(neo4j=kernel["version"], edition=kernel["edition"], gds=gds)

    def forget_bookmarks(self) -> None:
        """Replace the causal-consistency bookmarks of earlier queries by one of the current store.

        For after the store was replaced (ingest's bulk import): its transaction ids start over,
        and a bookmark from the old store would make every query wait for a transaction that
        never comes. A session that starts without bookmarks gives the new store's.
        """
        with self.driver.session(database=self.database) as s:
            s.run(cypher.load("db/get_components")).consume()
            fresh = s.last_bookmarks()
        manager = self.driver.execute_query_bookmark_manager
        manager.update_bookmarks(manager.get_bookmarks(), fresh.raw_values)

    # -- statements --------------------------------------------------------------------------
    def read(self, name: str, /, **params: Any) -> list[Row]:
        records, _, _ = self.driver.execute_query(
            cypher.load(name), params, database_=self.database, routing_=RoutingControl.READ
        )
        return [r.data() for r in records]

    def write(
        self, name: str, /, *, fence: Fence | None = None, timeout_s: float | None = None, **params: Any
    ) -> list[Row]:
        """One write transaction. With ``fence`` (``Lease.fence``), the lease is checked in the same
        transaction (db/lease.py): a lost lease raises ``LeaseLost`` and nothing is written.
        ``timeout_s`` (or the fence's ``timeout_s``): the server ends the transaction after that
        long, lock waits included, and frees its locks: ``TransactionTimedOut``."""
        with _timeouts(name, fence.timeout_s if fence is not None else timeout_s):
            if fence is None:
                query = Query(cypher.load(name), timeout=timeout_s) if timeout_s else cypher.load(name)  # type: ignore[arg-type]
                records, _, _ = self.driver.execute_query(
                    query, params, database_=self.database, routing_=RoutingControl.WRITE
                )
                return [r.data() for r in records]
            with self.driver.session(database=self.database) as s:
                return s.execute_write(unit_of_work(timeout=fence.timeout_s)(_run_fenced), fence, name, params)

    def read_raw(self, query: str, /, **params: Any) -> list[Row]:
        """An ad-hoc read for tests and diagnostics; product code runs named statements."""
        records, _, _ = self.driver.execute_query(query, params, database_=self.database, routing_=RoutingControl.READ)
        return [r.data() for r in records]

    def run_autocommit(self, name: str, /, **params: Any) -> list[Row]:
        """For ``CALL { } IN TRANSACTIONS`` and schema statements, which need auto-commit."""
        with self.driver.session(database=self.database) as s:
            return [r.data() for r in s.run(cypher.load(name), params)]

    def write_batches(
        self, name: str, rows: Iterable[Mapping[str, Any]], batch_size: int, /, **params: Any
    ) -> int:
        """``UNWIND $rows`` statement over ``rows`` in batches, one managed transaction each."""
        query = cypher.load(name)
        total = 0
        with self.driver.session(database=self.database) as s:
            for batch in _chunks(rows, batch_size):
                s.execute_write(_run_unwind, query, batch, params)
                total += len(batch)
        return total

    def write_unwinds(self, parts: Sequence[tuple[str, Sequence[Mapping[str, Any]]]], /, *,
                      fence: Fence | None = None) -> int:
        """Several UNWIND statements (name, rows), in order, in one transaction: one commit and
        one lease check for all of them (a small delivery's writes span a dozen statements, and
        a commit each cost a third of their time)."""
        queries = [(name, cypher.load(name), list(rows)) for name, rows in parts if rows]
        if not queries:
            return 0
        label = "+".join(dict.fromkeys(name for name, _, _ in queries))

        def work(tx: ManagedTransaction) -> None:
            if fence is not None:
                _read_fence(tx, fence, label)
            for _, query, rows in queries:
                tx.run(query, {"rows": rows}).consume()
            if fence is not None:
                _check_fence(tx, fence, label)

        unit = unit_of_work(timeout=fence.timeout_s)(work) if fence is not None else work
        with self.driver.session(database=self.database) as s, _timeouts(label, fence.timeout_s if fence else None):
            s.execute_write(unit)
        return sum(len(rows) for _, _, rows in queries)

    def apply_schema(self) -> None:
        """Constraints and indexes, idempotently, before any write."""
        with self.driver.session(database=self.database) as s:
            for name in cypher.names("schema"):
                # One transaction per file: the 28 statements cost a commit each otherwise (1.7 s
                # against 0.9 s on the scale-1.0 graph, the schema a bulk import waits for).
                with s.begin_transaction() as tx:
                    for statement in cypher.statements(name):
                        tx.run(statement).consume()
                    tx.commit()
            s.run("CALL db.awaitIndexes(300)").consume()
        self._schema_applied = True

    def ensure_schema(self) -> None:
        """``apply_schema`` once per Database object (leases need the Lock constraint first)."""
        if not self._schema_applied:
            self.apply_schema()

    @contextmanager
    def session(self) -> Iterator[Any]:
        with self.driver.session(database=self.database) as s:
            yield s

    def gds(self) -> Any:
        """The graphdatascience client on this driver (imported lazily: it is heavy)."""
        from graphdatascience import GraphDataScience

        return GraphDataScience(self.driver, database=self.database, arrow=False, show_progress=False)


def _run_fenced(tx: ManagedTransaction, fence: Fence, name: str, params: Mapping[str, Any]) -> list[Row]:
    _read_fence(tx, fence, name)
    rows = [r.data() for r in tx.run(cypher.load(name), params)]
    _check_fence(tx, fence, name)
    return rows


def _run_unwind(tx: ManagedTransaction, query: str, rows: list[Mapping[str, Any]], params: Mapping[str, Any]) -> None:
    tx.run(query, {**params, "rows": rows}).consume()


# A fenced transaction checks its lease twice (db/lease.py). First by reading, without a lock, so
# a holder whose lease expired or was taken writes nothing; last, just before the commit, by
# writing the lease node, which takes its write lock until the commit: the token is still ours and
# no takeover commits between that check and ours. The lock is held for that last step only, so a
# long write does not hold up the lease's renewals (nor, if its holder freezes mid-write, every
# taker).
def _read_fence(tx: ManagedTransaction, fence: Fence, name: str) -> None:
    if not tx.run(cypher.load("lease/read_fence"), name=fence.name, token=fence.token).data():
        raise _lost(fence, name)


def _check_fence(tx: ManagedTransaction, fence: Fence, name: str) -> None:
    if not tx.run(cypher.load("lease/check_fence"), name=fence.name, token=fence.token, ttl_ms=fence.ttl_ms).data():
        raise _lost(fence, name)


def _lost(fence: Fence, name: str) -> LeaseLost:
    return LeaseLost(f"lease '{fence.name}' (token {fence.token}) was lost: it expired or was taken over; "
                     f"'{name}' was not written")


@contextmanager
def _timeouts(name: str, timeout_s: float | None) -> Iterator[None]:
    """The server's timeout errors as ``TransactionTimedOut``, a message for people."""
    try:
        yield
    except Neo4jError as e:
        if timeout_s is None or (e.code or "").rsplit(".", 1)[-1] not in _TIMED_OUT:
            raise
        raise TransactionTimedOut(
            f"'{name}' did not finish within {timeout_s:g}s: the server ended its transaction "
            f"(it ran, or waited for a lock, that long) and wrote nothing"
        ) from e


def _chunks(rows: Iterable[Mapping[str, Any]], size: int) -> Iterator[list[Mapping[str, Any]]]:
    batch: list[Mapping[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def connect(settings: Settings) -> Database:
    """A verified connection; raises DatabaseUnavailable with a message for people."""
    db = Database(settings)
    try:
        db.verify()
    except DatabaseUnavailable:
        db.close()
        raise
    return db
