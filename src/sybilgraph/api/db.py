"""The API's async twin of ``sybilgraph.db.session.Database``.

The server answers many small concurrent reads, so it uses ``neo4j.AsyncGraphDatabase`` on the
event loop instead of the sync driver. Statements are loaded by name from ``cypher/`` exactly
as the sync class does (parameterised, never spliced). The driver is tuned to fail fast while
Neo4j is away (short connect, acquisition and retry times) and needs nothing to recover: the
pool opens new connections once the server answers again. Failures become the API's own
errors (``DATABASE_UNAVAILABLE``, ``TIMEOUT``) so that no driver trace reaches a client.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

from neo4j import READ_ACCESS, AsyncDriver, AsyncGraphDatabase, AsyncTransaction, Query, RoutingControl
from neo4j.exceptions import (
    AuthError,
    ClientError,
    DriverError,
    ServiceUnavailable,
    SessionExpired,
    TransientError,
)

from sybilgraph import cypher
from sybilgraph.settings.api import ApiSection
from sybilgraph.api.errors import DatabaseUnavailableError, QueryTimeout
from sybilgraph.settings import Settings

__all__ = ["AsyncDatabase", "RequestDb", "Row", "WriteTransaction"]

log = logging.getLogger("sybilgraph.api.db")

Row = dict[str, Any]

_TIMEOUT_CODES = (
    "Neo.ClientError.Transaction.TransactionTimedOut",
    "Neo.TransientError.Transaction.LockClientStopped",
    "Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration",
)


class AsyncDatabase:
    """One async driver for the process; created on first use inside the running loop."""

    def __init__(self, settings: Settings, api: ApiSection) -> None:
        self.settings = settings
        self.api = api
        self.database = settings.neo4j_database
        self._driver: AsyncDriver | None = None

    @property
    def driver(self) -> AsyncDriver:
        if self._driver is None:
            self._driver = AsyncGraphDatabase.driver(
                self.settings.bolt_uri,
                auth=self.settings.neo4j_auth,
                connection_timeout=self.api.neo4j_connection_timeout_s,
                connection_acquisition_timeout=self.api.neo4j_acquisition_timeout_s,
                max_transaction_retry_time=self.api.neo4j_retry_time_s,
                max_connection_pool_size=self.api.neo4j_pool_size,
                liveness_check_timeout=30.0,
                # Statements are reviewed files, not user input: server notifications are noise here.
                notifications_min_severity="OFF",
            )
        return self._driver

    async def close(self) -> None:
        if self._driver is not None:
            await self._driver.close()
            self._driver = None

    async def verify(self, timeout_s: float = 3.0) -> None:
        """Raises DatabaseUnavailableError unless Neo4j answers within ``timeout_s``."""
        try:
            async with asyncio.timeout(timeout_s):
                await self.driver.verify_connectivity()
        except (TimeoutError, DriverError, OSError, AuthError, ServiceUnavailable) as e:
            log.warning("neo4j at %s is not ready: %s", self.settings.bolt_uri, e)
            raise DatabaseUnavailableError() from e

    async def run(
        self, name: str, params: dict[str, Any], *, write: bool, timeout_s: float | None, request_id: str | None = None
    ) -> list[Row]:
        # Transaction metadata names the statement and the request: SHOW TRANSACTIONS tells whose it is.
        query = Query(cypher.load(name), timeout=timeout_s, metadata=_metadata(name, request_id))  # type: ignore[arg-type]
        with _translated(name, timeout_s):
            if write:
                records, _, _ = await self.driver.execute_query(
                    query, params, database_=self.database, routing_=RoutingControl.WRITE
                )
                return [dict(zip(r.keys(), r.values())) for r in records]
            return await self._read(query, params)

    @asynccontextmanager
    async def transaction(self, timeout_s: float | None, request_id: str | None = None) -> AsyncIterator[WriteTransaction]:
        """One explicit write transaction: statements run in it; it commits only when the caller
        calls ``commit()`` (leaving the block without it rolls back)."""
        with _translated("transaction", timeout_s):
            async with self.driver.session(database=self.database) as session:
                tx = await session.begin_transaction(timeout=timeout_s, metadata=_metadata("transaction", request_id))
                handle = WriteTransaction(tx, timeout_s)
                try:
                    yield handle
                finally:
                    if not handle.committed:
                        await tx.close()

    async def _read(self, query: Query, params: dict[str, Any]) -> list[Row]:
        """Reads run as auto-commit statements: one round trip instead of three (BEGIN, RUN, COMMIT).

        A pooled connection that died (Neo4j restarted) fails on first use; one retry on a fresh
        connection hides that. Anything else is the caller's to see.
        """
        for attempt in (1, 2):
            try:
                async with self.driver.session(database=self.database, default_access_mode=READ_ACCESS) as s:
                    result = await s.run(query, params)
                    # Statements return only maps, lists and scalars: the values need no conversion
                    # (Record.data() would walk every nested value again).
                    return [dict(zip(r.keys(), r.values())) async for r in result]
            except (ServiceUnavailable, SessionExpired):
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


class WriteTransaction:
    """An open write transaction: ``run`` statements by name, then ``commit``."""

    def __init__(self, tx: AsyncTransaction, timeout_s: float | None) -> None:
        self._tx = tx
        self.timeout_s = timeout_s
        self.committed = False

    async def run(self, name: str, **params: Any) -> list[Row]:
        with _translated(name, self.timeout_s):
            result = await self._tx.run(cypher.load(name), params)
            return [dict(zip(r.keys(), r.values())) async for r in result]

    async def commit(self) -> None:
        with _translated("commit", self.timeout_s):
            await self._tx.commit()
        self.committed = True


def _metadata(name: str, request_id: str | None) -> dict[str, str]:
    return {"app": "sybilgraph-api", "statement": name, **({"request_id": request_id} if request_id else {})}


@contextmanager
def _translated(name: str, timeout_s: float | None) -> Iterator[None]:
    """Driver failures as the API's own errors: no driver trace reaches a client."""
    try:
        yield
    except (ServiceUnavailable, SessionExpired, AuthError, OSError) as e:
        log.warning("neo4j unavailable running %s: %s", name, e)
        raise DatabaseUnavailableError() from e
    except ClientError as e:
        if e.code and e.code.startswith(_TIMEOUT_CODES):
            raise QueryTimeout(timeout_s or 0.0) from e
        raise
    except TransientError as e:
        if e.code and "DatabaseUnavailable" in e.code:
            raise DatabaseUnavailableError() from e
        if e.code and e.code.startswith(_TIMEOUT_CODES):
            raise QueryTimeout(timeout_s or 0.0) from e
        raise


@dataclass
class RequestDb:
    """The database as one request sees it: counts statements, honours the request deadline."""

    db: AsyncDatabase
    deadline: float | None = None  # loop.time() by which the request must finish
    request_id: str | None = None
    statements: list[str] = field(default_factory=list)

    def _timeout(self) -> float | None:
        if self.deadline is None:
            return None
        return max(0.001, self.deadline - asyncio.get_running_loop().time())

    async def read(self, name: str, **params: Any) -> list[Row]:
        self.statements.append(name)
        return await self.db.run(name, params, write=False, timeout_s=self._timeout(), request_id=self.request_id)

    async def write(self, name: str, **params: Any) -> list[Row]:
        self.statements.append(name)
        return await self.db.run(name, params, write=True, timeout_s=self._timeout(), request_id=self.request_id)

    def transaction(self) -> Any:
        """An explicit write transaction with the rest of the request's time as its timeout."""
        self.statements.append("transaction")
        return self.db.transaction(self._timeout(), self.request_id)
