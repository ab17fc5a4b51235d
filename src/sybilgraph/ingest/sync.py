"""Bring the graph to the aggregate of the live deliveries: write what changed, delete what left.

The target is a pure function of the live deliveries (``combine.py`` over their partials); the
graph holds the last target written (``state.py``). The difference per graph table, by key:

* rows of the target that the graph does not hold as they are: written (``MERGE`` + ``SET`` of
  every property, so a rerun writes the same values);
* keys the graph holds that the target has not: deleted. Links leave when their identifier
  became a hub or was withdrawn; nodes leave with their relationships (``DETACH DELETE``).

Deletes run first (links before nodes), then writes (nodes before the links that ``MATCH``
them). The new state is saved only after the graph holds it, so a run killed anywhere computes
the same difference again and converges: deletes and ``MERGE`` writes are idempotent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from sybilgraph.db.session import Database
from sybilgraph.ingest.columnar import PARQUET_OPTIONS, ColumnarStore
from sybilgraph.ingest.graph_writer import GraphWriter
from sybilgraph.ingest.state import GRAPH_TABLES, STATE_SCHEMAS, StateDir
from sybilgraph.ingest.writer_lock import WriterGuard
from sybilgraph.progress import Reporter

__all__ = ["DELETE_KEYS", "GraphDelta", "graph_delta", "sync_graph"]

# What identifies a row of each graph table: a key the graph holds and the target lacks is deleted.
DELETE_KEYS: dict[str, tuple[str, ...]] = {
    "accounts": ("account_id",),
    "identifiers": ("kind", "value"),
    "links": ("account_id", "kind", "value"),
    "ip_subnets": ("ip", "subnet"),
    "organisations": ("org_id",),
    "labels": ("account_id", "operator_label"),
}
# Relationships go before the nodes they hang on.
DELETE_ORDER = ("links", "ip_subnets", "labels", "identifiers", "accounts", "organisations")


@dataclass
class GraphDelta:
    upserts: dict[str, pa.Table] = field(default_factory=dict)
    deletes: dict[str, pa.Table] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(t.num_rows for t in self.upserts.values()) + sum(t.num_rows for t in self.deletes.values())


def graph_delta(
    connect: Callable[[], duckdb.DuckDBPyConnection], state: StateDir, target: dict[str, pa.Table], full_write: bool
) -> GraphDelta:
    """What to write and delete to take the graph from ``state`` to ``target``."""
    delta = GraphDelta()
    con = connect()
    try:
        for name in GRAPH_TABLES:
            new = target[name]
            old_path = state.table_path(name)
            if old_path is None:
                delta.upserts[name] = new
                delta.deletes[name] = STATE_SCHEMAS[name].empty_table()
                continue
            con.register("new_rows", new)
            con.read_parquet(str(old_path)).create_view("old_rows")
            keys = ", ".join(DELETE_KEYS[name])
            delta.upserts[name] = new if full_write else con.sql(
                "SELECT * FROM new_rows EXCEPT SELECT * FROM old_rows").to_arrow_table()
            delta.deletes[name] = con.sql(f"SELECT * FROM old_rows ANTI JOIN new_rows USING ({keys})").to_arrow_table()
            con.unregister("new_rows")
    finally:
        con.close()
    return delta


def sync_graph(
    db: Database,
    store: ColumnarStore,
    target: dict[str, pa.Table],
    reporter: Reporter,
    batch_size: int,
    full_write: bool = False,
    guard: WriterGuard | None = None,
    revision: int | None = None,
) -> dict[str, int]:
    """Write ``target`` into the graph as a difference from what it holds; save it as the state.

    ``guard``: the writer's lease: checked before the graph is touched and before the state is
    switched, and its fence carried by every write. ``revision``: the columnar store's revision
    ``target`` reflects. Returns rows written and deleted per table (``deleted_<name>``).
    """
    state = StateDir(store.state_dir)
    delta = graph_delta(store.connect, state, target, full_write)
    check = guard.check if guard is not None else (lambda: None)
    writer = GraphWriter(db, batch_size=batch_size, fence=guard.fence if guard is not None else None)
    counts: dict[str, int] = {}
    check()
    with reporter.phase("write graph", total=delta.rows) as phase:
        for name in DELETE_ORDER:
            if delta.deletes[name].num_rows:
                counts[f"deleted_{name}"] = writer.delete(name, delta.deletes[name], phase)
        for name in GRAPH_TABLES:
            counts[name] = getattr(writer, name)(delta.upserts[name], phase)
    check()
    # Saved only once the graph holds it: a run killed before this point computes the same delta.
    state.write(target, PARQUET_OPTIONS, revision)
    return counts
