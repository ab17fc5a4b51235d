"""The fused pass: a delivery's partial aggregates computed from its validated batches.

Method: chunked partial aggregation. Validation yields the good rows of ``payment_methods``,
``sessions`` and ``interactions`` as Arrow batches; they are staged as Parquet for the store and,
the same batches, buffered here. A full buffer (``chunk_rows`` rows) is aggregated by DuckDB with
the partial SQL of ``aggregate.py`` (``PAIRS_PARTIAL_SQL``, ``ACTIVITY_PARTIAL_SQL``) straight
from Arrow, on a worker thread, while validation fills the next buffer (DuckDB releases the GIL:
the second core works while the first validates). Partials are additive (counts sum, first and
last seen take min and max, histograms add, active days unite), so the chunks' partials are
folded into the delivery's partials with the same rules combining deliveries uses
(``FOLD_PAIRS_SQL``, ``aggregate.ACTIVITY_SQL``). The staged Parquet is never read back to
aggregate: the data is read once.

When the fused result cannot stand (a table failed after some of its batches were aggregated,
or the delivery repeats interaction or session ids and rows must be left out), the caller
aggregates the staged Parquet instead (``partials.compute_partials``), which is exactly the
same SQL over the same rows.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import duckdb
import pyarrow as pa

from sybilgraph.ingest import aggregate as agg
from sybilgraph.ingest.aggregators import INPUT_TABLES, PARTIAL_SCHEMAS, PARTIAL_SORT_KEYS, PARTIAL_SQL, conform

__all__ = ["FOLD_PAIRS_SQL", "FusedPartials"]

# Partials of several chunks (``pairs_partial``) folded into one row per key.
FOLD_PAIRS_SQL = """
SELECT account_id, kind, value, sum(count)::BIGINT AS count,
       min(first_seen) AS first_seen, max(last_seen) AS last_seen
FROM pairs_partial GROUP BY account_id, kind, value
"""

_FOLD_SQL = {"pairs": FOLD_PAIRS_SQL, "activity": agg.ACTIVITY_SQL}


class FusedPartials:
    """Buffers validated batches of ``INPUT_TABLES`` and aggregates them chunk by chunk.

    ``add`` every good batch of a table, ``failed`` when a table's staging was discarded, then
    ``result()``: the partial tables (``PARTIAL_SCHEMAS``, sorted by ``PARTIAL_SORT_KEYS``), or
    None when they cannot stand and the staged Parquet must be aggregated instead.
    """

    def __init__(self, connect: Callable[[], duckdb.DuckDBPyConnection], schemas: dict[str, pa.Schema],
                 chunk_rows: int) -> None:
        self.connect = connect
        self.schemas = schemas
        self.chunk_rows = max(1, chunk_rows)
        self._buffer: dict[str, list[pa.RecordBatch]] = {t: [] for t in INPUT_TABLES}
        self._buffered = 0
        self._chunks: list[Future[dict[str, pa.Table]]] = []
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fused-partials")
        self._aggregated: set[str] = set()  # tables with rows in a submitted chunk
        self.invalid: str | None = None  # why the fused result cannot stand

    def add(self, table: str, batch: pa.RecordBatch) -> None:
        if table not in self._buffer or batch.num_rows == 0 or self.invalid:
            return
        self._buffer[table].append(batch)
        self._buffered += batch.num_rows
        if self._buffered >= self.chunk_rows:
            self._submit()

    def failed(self, table: str) -> None:
        """``table``'s staged rows were discarded (a file failed mid-table): drop its batches."""
        if table not in self._buffer:
            return
        self._buffer[table] = []
        self._buffered = sum(b.num_rows for bs in self._buffer.values() for b in bs)
        if table in self._aggregated:
            self.invalid = f"table '{table}' failed after some of its rows were aggregated"

    def result(self) -> dict[str, pa.Table] | None:
        try:
            if self.invalid:
                return None
            if self._buffered or not self._chunks:
                self._submit()
            parts = [f.result() for f in self._chunks]
            return self._fold(parts)
        finally:
            self.close()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._chunks = []
        self._buffer = {t: [] for t in INPUT_TABLES}

    # -- internals ---------------------------------------------------------------------------
    def _submit(self) -> None:
        tables = {t: pa.Table.from_batches(bs, schema=self.schemas[t]) if bs else self.schemas[t].empty_table()
                  for t, bs in self._buffer.items()}
        self._aggregated |= {t for t, bs in self._buffer.items() if bs}
        self._buffer = {t: [] for t in INPUT_TABLES}
        self._buffered = 0
        if self._chunks:
            # At most one chunk aggregating while the next fills: memory stays at two chunks.
            self._chunks[-1].result()
        self._chunks.append(self._pool.submit(self._aggregate, tables))

    def _aggregate(self, tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
        con = self.connect()
        try:
            for name, table in tables.items():
                con.register(name, table)
            return {name: con.sql(sql).to_arrow_table() for name, sql in PARTIAL_SQL.items()}
        finally:
            con.close()

    def _fold(self, parts: list[dict[str, pa.Table]]) -> dict[str, pa.Table]:
        con = self.connect()
        try:
            out: dict[str, pa.Table] = {}
            for name, sql in _FOLD_SQL.items():
                table = pa.concat_tables([conform(name, p[name]) for p in parts]) if parts else \
                    PARTIAL_SCHEMAS[name].empty_table()
                con.register(f"{name}_partial", table)
                query = sql if len(parts) > 1 else f"SELECT * FROM {name}_partial"
                order = ", ".join(PARTIAL_SORT_KEYS[name])
                out[name] = conform(name, con.sql(f"SELECT * FROM ({query}) ORDER BY {order}").to_arrow_table())
            return out
        finally:
            con.close()
