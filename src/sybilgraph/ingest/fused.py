"""The fused pass: a delivery's partial aggregates computed from its validated batches.

Method: validation yields the good rows of ``payment_methods``, ``sessions`` and
``interactions`` as Arrow batches; they are staged as Parquet for the store and, the same
batches, kept here. Once the delivery is validated, DuckDB aggregates them straight from Arrow
with the partial SQL of ``aggregate.py`` (``aggregators.duckdb_partials``): the
staged Parquet is not read back to aggregate, so the data is read once.

Bounded: a delivery of more than ``max_rows`` such rows is not held in memory (about 0.2 GB per
million interactions); nor are deliveries that repeat interaction or session ids (rows must be
left out) or whose table failed after some of its rows were kept. Then the caller aggregates
the staged Parquet (``partials.compute_partials``): the same SQL over the same rows.

Measured, and why not chunks: aggregating chunks of a large delivery as they fill and folding
their partials (partials are additive) needed more than 9 GiB and 18 minutes at scale 1.0, where
the activity partial repeats a 168-hour histogram per account and chunk and the account-template
pairs repeat across chunks (docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb
import pyarrow as pa

from sybilgraph.ingest.aggregators import INPUT_TABLES, duckdb_partials

__all__ = ["FusedPartials"]


class FusedPartials:
    """Keeps the validated batches of ``INPUT_TABLES`` of one delivery, then aggregates them.

    ``add`` every good batch of a table, ``failed`` when a table's staging was discarded, then
    ``result()``: the partial tables (``PARTIAL_SCHEMAS``, ``duckdb_partials``), or
    None when they cannot stand (``why``) and the staged Parquet must be aggregated instead.
    """

    def __init__(self, connect: Callable[[], duckdb.DuckDBPyConnection], schemas: dict[str, pa.Schema],
                 max_rows: int) -> None:
        self.connect = connect
        self.schemas = schemas
        self.max_rows = max_rows
        self._batches: dict[str, list[pa.RecordBatch]] = {t: [] for t in INPUT_TABLES}
        self._rows = 0
        self.why: str | None = None  # why the fused result cannot stand

    def add(self, table: str, batch: pa.RecordBatch) -> None:
        if table not in self._batches or batch.num_rows == 0 or self.why:
            return
        self._rows += batch.num_rows
        if self._rows > self.max_rows:
            self._give_up(f"more than {self.max_rows:,} rows to aggregate (ingest.fused_max_rows)")
            return
        self._batches[table].append(batch)

    def failed(self, table: str) -> None:
        """``table``'s staged rows were discarded (a file failed mid-table): they leave here too."""
        if table in self._batches:
            self._rows -= sum(b.num_rows for b in self._batches[table])
            self._batches[table] = []

    def result(self) -> dict[str, pa.Table] | None:
        if self.why:
            return None
        tables = {t: pa.Table.from_batches(bs, schema=self.schemas[t]) if bs else self.schemas[t].empty_table()
                  for t, bs in self._batches.items()}
        self.close()
        con = self.connect()
        try:
            for name, table in tables.items():
                con.register(name, table)
            return duckdb_partials(con)
        finally:
            con.close()

    def close(self) -> None:
        """Let the batches go (memory)."""
        self._batches = {t: [] for t in INPUT_TABLES}

    def _give_up(self, why: str) -> None:
        self.why = why
        self.close()
