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
from dataclasses import dataclass, field
from typing import Any

from neo4j import READ_ACCESS, AsyncDriver, AsyncGraphDatabase, Query, RoutingControl
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

__all__ = ["AsyncDatabase", "RequestDb", "Row"]

log = logging.getLogger("sybilgraph.api.db")

Row = dict[str, Any]

_TIMEOUT_CODES = ("Neo.ClientError.Transaction.TransactionTimedOut",)


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

    async def run(self, name: str, params: dict[str, Any], *, write: bool, timeout_s: float | None) -> list[Row]:
        query = Query(cypher.load(name), timeout=timeout_s)  # type: ignore[arg-type]
        try:
            if write:
                records, _, _ = await self.driver.execute_query(
                    query, params, database_=self.database, routing_=RoutingControl.WRITE
                )
                rows = [dict(zip(r.keys(), r.values())) for r in records]
            else:
                rows = await self._read(query, params)
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
            raise
        return rows

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


@dataclass
class RequestDb:
    """The database as one request sees it: counts statements, honours the request deadline."""

    db: AsyncDatabase
    deadline: float | None = None  # loop.time() by which the request must finish
    statements: list[str] = field(default_factory=list)

    def _timeout(self) -> float | None:
        if self.deadline is None:
            return None
        return max(0.001, self.deadline - asyncio.get_running_loop().time())

    async def read(self, name: str, **params: Any) -> list[Row]:
        self.statements.append(name)
        return await self.db.run(name, params, write=False, timeout_s=self._timeout())

    async def write(self, name: str, **params: Any) -> list[Row]:
        self.statements.append(name)
        return await self.db.run(name, params, write=True, timeout_s=self._timeout())
