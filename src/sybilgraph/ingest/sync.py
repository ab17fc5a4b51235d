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

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sybilgraph.db.session import Database
from sybilgraph.ingest.columnar import PARQUET_OPTIONS, ColumnarStore
from sybilgraph.ingest.graph_writer import GraphWriter
from sybilgraph.ingest.state import GRAPH_TABLES, STATE_SCHEMAS, StateDir, TableChange, generation_of
from sybilgraph.ingest.writer_lock import WriterGuard
from sybilgraph.progress import Reporter

__all__ = ["DELETE_KEYS", "GraphDelta", "GraphMark", "graph_delta", "publish_held", "read_graph_mark", "state_mismatch", "sync_graph",
           "why_graph_lacks_state"]

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


# Tables whose rows the writer CREATEs when the graph is known not to hold their key (no MERGE
# check of the pair): relationships. Nodes keep MERGE: their key is a unique constraint's lookup.
CREATABLE = ("links",)


@dataclass
class GraphDelta:
    upserts: dict[str, pa.Table] = field(default_factory=dict)
    deletes: dict[str, pa.Table] = field(default_factory=dict)
    # Per CREATABLE table, per row of its upserts: does the graph not hold its key (absent from the
    # saved state, which the graph holds (``state_mismatch``), and from the pending keys).
    created: dict[str, pa.BooleanArray] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(t.num_rows for t in self.upserts.values()) + sum(t.num_rows for t in self.deletes.values())


@dataclass(frozen=True)
class GraphMark:
    """The graph's record of the saved state it holds (``IngestState``): the lineage of the state
    files it was written from, and the last generation written into it."""

    lineage: str
    generation: int


def state_mismatch(mark: GraphMark | None, lineage: str | None, generation: int) -> str | None:
    """Why a graph with record ``mark`` (None: it has none) does not hold generation
    ``generation`` of the saved state of ``lineage``, or None when it does.

    A sync writes only the difference from the saved state (and ``CREATE``s what that state
    lacks), so it must know the graph holds that state: not a graph emptied since, another
    database, or one restored from before it. Without a saved state every row is written, but a
    graph another home wrote keeps whatever this one does not write: said too. The graph may be a generation ahead: a sync killed
    after its last graph write and before the state's (its keys are pending, ``StateDir``).
    """
    if generation == 0:
        if mark is None:
            return None  # no saved state and no other's record: every row is written anyway
        return (f"the graph holds generation {mark.generation} of a saved state (lineage {mark.lineage}) that this "
                f"home does not have: the rows it holds and this ingest does not write stay (`sybilgraph db reset "
                f"--yes`, then the deliveries again, starts clean)")
    if mark is None:
        return "the graph holds no record of the saved state (emptied since, another database, or written before the record existed)"
    if mark.lineage != lineage:
        return f"the graph was loaded from another saved state (lineage {mark.lineage}, the saved state's {lineage})"
    if mark.generation < generation:
        return f"the graph holds generation {mark.generation} of the saved state, older than its generation {generation} (restored from a backup?)"
    return None


def read_graph_mark(db: Database) -> GraphMark | None:
    row = db.read("ingest/read_ingest_state")[0]
    if row.get("lineage") is None:
        return None
    return GraphMark(str(row["lineage"]), int(row.get("generation") or 0))


def why_graph_lacks_state(db: Database, state: StateDir) -> str | None:
    """``state_mismatch`` of this graph and this saved state."""
    return state_mismatch(read_graph_mark(db), state.lineage(), state.generation())


def publish_held(db: Database, guard: WriterGuard | None, state: StateDir, prepared: Path, revision: int | None,
                 lineage: str | None = None) -> int:
    """Make the generation ``prepared`` current once the graph holds it: the graph's record of it
    first (``IngestState``), then the state's pointer, so a kill in between leaves the graph one
    generation ahead with its keys pending, never behind. ``lineage``: None continues the current
    one (``StateDir.lineage_to_publish``). Returns the generation's number."""
    lineage = state.lineage_to_publish(lineage)
    generation = generation_of(prepared)
    db.write("ingest/merge_ingest_state", fence=guard.fence if guard is not None else None,
             lineage=lineage, generation=generation)
    if guard is not None:
        guard.check()
    state.publish(prepared, revision, lineage)
    return generation


def graph_delta(
    connect: Callable[[], duckdb.DuckDBPyConnection],
    state: StateDir,
    target: Mapping[str, pa.Table | TableChange],
    full_write: bool,
    scope: Mapping[str, pa.Table] | None = None,
    forced: Mapping[str, pa.Table] | None = None,
) -> GraphDelta:
    """What to write and delete to take the graph from ``state`` to ``target``.

    ``target``: per graph table, the table whole, or its change from ``state`` (a splice's:
    only rows within its keys are compared). ``scope``: per table, key columns outside of which a
    whole ``target`` table equals ``state``: only rows within are compared. ``forced``: keys a
    killed sync may have left half-written (``StateDir.read_pending``): written as ``target``
    has them, or deleted. Deletes come back as key columns only. Unless ``full_write`` (the graph
    may not hold ``state``), ``created`` marks the upserts of a ``CREATABLE`` table whose key
    ``state`` lacks and ``forced`` does not name.
    """
    delta = GraphDelta()
    con = connect()
    try:
        for name in GRAPH_TABLES:
            new, keys = target[name], ", ".join(DELETE_KEYS[name])
            old_relation = state.relation(name)
            if old_relation is None:
                if isinstance(new, TableChange):
                    raise ValueError(f"a change of {name} without a last state to change")
                delta.upserts[name] = new
                delta.deletes[name] = new.select(list(DELETE_KEYS[name])).slice(0, 0)
                continue
            con.execute(f"CREATE OR REPLACE TEMP VIEW old_rows AS SELECT * FROM {old_relation}")
            if isinstance(new, TableChange):
                # The new table is the old one with the change's keys replaced; only they differ.
                con.register("change_rows", new.rows)
                con.register("scope_keys", new.keys)
                new_in, old_in = "change_rows", state.rows_of(name, "scope_keys")
                columns = ", ".join(STATE_SCHEMAS[name].names)
                con.execute(f"CREATE OR REPLACE TEMP VIEW new_rows AS SELECT {columns} FROM old_rows "
                            f"ANTI JOIN scope_keys USING ({', '.join(new.keys.column_names)}) "
                            f"UNION ALL SELECT {columns} FROM change_rows")
            else:
                con.register("whole_rows", new)
                con.execute("CREATE OR REPLACE TEMP VIEW new_rows AS SELECT * FROM whole_rows")
                bounds = None if full_write or scope is None else scope.get(name)
                new_in, old_in = _within(con, "new_rows", bounds), _within(con, "old_rows", bounds)
            # Scope keys are a prefix of the delete keys: a new row sharing a delete key with an
            # old row in scope is in scope too.
            upserts = "SELECT * FROM new_rows" if full_write else f"SELECT * FROM {new_in} EXCEPT SELECT * FROM {old_in}"
            deletes = f"SELECT {keys} FROM {old_in} ANTI JOIN {new_in} USING ({keys})"
            if forced and name in forced and forced[name].num_rows:
                con.register("forced_keys", forced[name])
                upserts += f" UNION SELECT * FROM new_rows SEMI JOIN forced_keys USING ({keys})"
                deletes += f" UNION SELECT {keys} FROM forced_keys ANTI JOIN new_rows USING ({keys})"
            delta.upserts[name] = con.sql(upserts).to_arrow_table()
            delta.deletes[name] = con.sql(deletes).to_arrow_table()
            if name in CREATABLE and not full_write:
                with_forced = bool(forced and name in forced and forced[name].num_rows)
                delta.created[name] = _created(con, delta.upserts[name], old_in, DELETE_KEYS[name], with_forced)
    finally:
        con.close()
    return delta


def _created(con: duckdb.DuckDBPyConnection, upserts: pa.Table, old_in: str, keys: tuple[str, ...],
             with_forced: bool) -> pa.BooleanArray:
    """Per row of ``upserts``: is its key in neither the old rows in scope (``old_in``; a key
    outside scope is not in the old table at all, since scope keys are a prefix of the delete
    keys) nor, ``with_forced``, the registered ``forced_keys``: a row the graph cannot hold."""
    con.register("upsert_rows", upserts.select(list(keys)).append_column(
        "_row", pa.array(np.arange(upserts.num_rows, dtype=np.int64))))
    using = ", ".join(keys)
    sql = f"SELECT _row FROM upsert_rows ANTI JOIN {old_in} USING ({using})"
    if with_forced:
        sql += f" ANTI JOIN forced_keys USING ({using})"
    mask = np.zeros(upserts.num_rows, dtype=bool)
    mask[con.sql(sql).fetchnumpy()["_row"]] = True
    return pa.array(mask)


def _within(con: duckdb.DuckDBPyConnection, relation: str, keys: pa.Table | None) -> str:
    """``relation`` whole, or only its rows with a key in ``keys`` (registered as scope_keys)."""
    if keys is None:
        return relation
    con.register("scope_keys", keys)
    return f"(SELECT * FROM {relation} SEMI JOIN scope_keys USING ({', '.join(keys.column_names)}))"


def _keys(delta: GraphDelta) -> dict[str, pa.Table]:
    """Key columns of every row ``delta`` writes or deletes."""
    out = {}
    for name in GRAPH_TABLES:
        columns = list(DELETE_KEYS[name])
        parts = [delta.upserts[name].select(columns), delta.deletes[name].select(columns)]
        out[name] = pa.concat_tables([p.cast(parts[0].schema) for p in parts])
    return out


def _deletes_to_send(delta: GraphDelta) -> dict[str, pa.Table]:
    """The deletes to send: the links of an account that is deleted too are left to its DETACH
    DELETE (a withdrawal's links went one MATCH and DELETE each, most of its graph time). Its
    labels are not: their statement also removes a Label no account carries any more."""
    out = dict(delta.deletes)
    gone = delta.deletes["accounts"].column("account_id")
    if len(gone):
        links = out["links"]
        out["links"] = links.filter(pc.invert(pc.is_in(links["account_id"], value_set=gone.combine_chunks())))
    return out


def sync_graph(
    db: Database,
    store: ColumnarStore,
    target: Mapping[str, pa.Table | TableChange],
    reporter: Reporter,
    batch_size: int,
    full_write: bool = False,
    guard: WriterGuard | None = None,
    revision: int | None = None,
    scope: Mapping[str, pa.Table] | None = None,
    deliveries: pa.Table | None = None,
) -> dict[str, int]:
    """Write ``target`` into the graph as a difference from what it holds; save it as the state.

    ``guard``: the writer's lease: checked before the graph is touched and before the state is
    switched, and its fence carried by every write. ``revision``: the columnar store's revision
    ``target`` reflects. ``scope``: the keys a splice changed (``graph_delta``); ``deliveries``:
    saved with the state (``StateDir.write``). Returns rows written and deleted per table
    (``deleted_<name>``).
    """
    state = StateDir(store.state_dir)
    delta = graph_delta(store.connect, state, target, full_write, scope, state.read_pending())
    check = guard.check if guard is not None else (lambda: None)
    writer = GraphWriter(db, batch_size=batch_size, fence=guard.fence if guard is not None else None)
    counts: dict[str, int] = {}
    check()
    if delta.rows:
        state.write_pending(_keys(delta))  # durable before the graph changes
    deletes = _deletes_to_send(delta)
    total = sum(t.num_rows for t in delta.upserts.values()) + sum(t.num_rows for t in deletes.values())
    with reporter.phase("write graph", total=total) as phase:
        for name in DELETE_ORDER:
            if delta.deletes[name].num_rows:  # counted as they leave the graph, sent or not
                counts[f"deleted_{name}"] = delta.deletes[name].num_rows
                writer.delete(name, deletes[name], phase)
        for name in GRAPH_TABLES:
            if name in CREATABLE:
                counts[name] = getattr(writer, name)(delta.upserts[name], phase, created=delta.created.get(name))
            else:
                counts[name] = getattr(writer, name)(delta.upserts[name], phase)
        writer.flush()
    check()
    # Saved only once the graph holds it: a run killed before this point computes the same delta.
    publish_held(db, guard, state, state.prepare(target, PARQUET_OPTIONS, deliveries), revision)
    state.clear_pending()
    return counts
