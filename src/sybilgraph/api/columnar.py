"""DuckDB over the columnar store, from the event loop: one query, in a thread, cancellable.

Raw interactions and the per-account identifier table never enter Neo4j; the API reads them
with DuckDB (operator timelines, identifier lookups the graph cannot answer). DuckDB blocks,
so each query runs in a worker thread on its own connection; when the request is cancelled
(its deadline passed) the query is interrupted (``DuckDBPyConnection.interrupt``) and the
thread is waited for, so no DuckDB work outlives the request that started it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import duckdb

__all__ = ["active_scans", "run_query"]

log = logging.getLogger("sybilgraph.api.columnar")
T = TypeVar("T")
_active = 0
_active_lock = threading.Lock()


def active_scans() -> int:
    """DuckDB queries running now in this process (tests check an interrupted one is gone)."""
    return _active


def _counted(fn: Callable[[duckdb.DuckDBPyConnection], T], con: duckdb.DuckDBPyConnection) -> T:
    global _active
    with _active_lock:
        _active += 1
    try:
        con.execute("SET threads TO 2")
        con.execute("SET memory_limit = '1GB'")
        return fn(con)
    finally:
        with _active_lock:
            _active -= 1


async def run_query(fn: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
    """``fn(connection)`` in a worker thread; cancelling the caller interrupts it."""
    con = duckdb.connect()
    scan = asyncio.ensure_future(asyncio.to_thread(_counted, fn, con))
    try:
        return await asyncio.shield(scan)
    except asyncio.CancelledError:
        con.interrupt()
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(asyncio.shield(scan), timeout=10)
        log.info("columnar query interrupted at the request deadline")
        raise
    finally:
        if scan.done():
            con.close()
        else:  # still running after the wait: close the connection when the thread ends
            scan.add_done_callback(lambda _: con.close())
