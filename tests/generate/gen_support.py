"""Constants and helpers shared by the generator tests.

The invariant tests run on one bundle (scale 0.02). Its seed can be changed with
``SYBILGRAPH_GEN_TEST_SEED`` to check that the thresholds hold for other seeds too.
"""

from __future__ import annotations

import os
from typing import Any

import duckdb

SCALE = 0.02
SEED = int(os.environ.get("SYBILGRAPH_GEN_TEST_SEED", "11"))


class Sql:
    """Small query helper over the session's DuckDB views."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def rows(self, query: str) -> list[tuple[Any, ...]]:
        return self.con.execute(query).fetchall()

    def one(self, query: str) -> Any:
        row = self.con.execute(query).fetchone()
        assert row is not None
        return row[0]

    def column(self, query: str) -> list[Any]:
        return [r[0] for r in self.rows(query)]
