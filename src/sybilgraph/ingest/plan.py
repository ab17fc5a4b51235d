"""The next state of the graph: spliced from the last one (``splice.py``) or combined whole.

A splice needs the last state and what each delivery it reflects touched (``DELIVERIES_FILE``),
the same hub rule, and unchanged network ranges; and it pays off while the change is a small
part of the store. Otherwise every live delivery is combined (``combine.py``). Either way the
tables are the same (``tests/ingest/test_splice.py`` checks it over random delivery sequences):
a splice gives the change of each table (``state.TableChange``), a combine every table whole.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass, replace

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from sybilgraph.ingest.aggregators import PARTIAL_SCHEMAS
from sybilgraph.ingest.columnar import ColumnarStore, Delivery, memory_bytes
from sybilgraph.ingest.combine import VERSIONED_TABLES, CombineInput, combine, usage_chunk_rows
from sybilgraph.ingest.readers import NORMALIZED_SCHEMAS
from sybilgraph.ingest.splice import splice
from sybilgraph.ingest.state import DELIVERIES_SCHEMA, STATE_SCHEMAS, StateDir, TableChange
from sybilgraph.settings import Settings

__all__ = ["SPLICE_MAX_SHARE", "StatePlan", "combine_input", "delivery_accounts", "plan_state", "staged_schema"]

# Above this share of the accounts changing, a splice re-folds most of the store anyway and
# scans the last state besides: combining everything is then as cheap and simpler.
SPLICE_MAX_SHARE = 0.5


@dataclass(frozen=True)
class StatePlan:
    # Every state table whole (a combine), or the change of each (a splice): ``StateDir.write``.
    tables: dict[str, pa.Table | TableChange]
    scope: dict[str, pa.Table] | None  # keys that may differ from the last state; None: any
    deliveries: pa.Table  # DELIVERIES_SCHEMA, saved with the state
    how: str  # "splice: ..." or "combine: why", for reports
    hub_flips: int = 0  # identifiers a splice found crossing the moved hub cut-off

    @property
    def whole(self) -> dict[str, pa.Table] | None:
        """Every table whole (a combine); None for a splice's changes."""
        if any(isinstance(t, TableChange) for t in self.tables.values()):
            return None
        return {name: t for name, t in self.tables.items() if isinstance(t, pa.Table)}


def staged_schema(table: str) -> pa.Schema:
    """A table's rows as staged: normalised, and ingest-ordered where a later row wins."""
    schema = NORMALIZED_SCHEMAS[table]
    if table in VERSIONED_TABLES:
        schema = schema.append(pa.field("_ingest_seq", pa.int64()))
    return schema


def combine_input(store: ColumnarStore, settings: Settings) -> CombineInput:
    """What combining reads: every live delivery's partials and versioned staged tables."""
    return CombineInput(
        partials={name: store.partial_files(name) for name in PARTIAL_SCHEMAS},
        staged={table: store.table_files(table) for table in VERSIONED_TABLES},
        staged_schemas={table: staged_schema(table) for table in VERSIONED_TABLES},
        link_max_share=settings.ingest.link_max_share,
        link_hub_min_accounts=settings.ingest.link_hub_min_accounts,
        usage_chunk_rows=usage_chunk_rows(memory_bytes(settings.ingest.memory_limit)),
    )


def plan_state(store: ColumnarStore, settings: Settings, full: bool = False,
               max_share: float = SPLICE_MAX_SHARE) -> StatePlan:
    """The state of the live deliveries (``full``: combined whole, whatever the last state)."""
    inputs = combine_input(store, settings)
    state = StateDir(store.state_dir)
    previous, why = (None, "asked for a full write") if full else _previous(state, inputs)
    with _connect(store, settings) as con:
        if previous is None:
            deliveries = delivery_accounts(con, store, store.entries())
        else:
            changed, deliveries = _changes(con, store, previous)
            n_old = len(pc.unique(previous["account_id"])) or 1
            if len(changed) > max_share * n_old:
                why = f"{len(changed):,} changed accounts, more than {max_share:.0%} of {n_old:,}"
            else:
                spliced = splice(con, _touching(store, inputs, deliveries, changed), state, changed)
                if spliced is not None:
                    how = f"splice: {len(changed):,} changed accounts, {spliced.flipped:,} hub flips"
                    return StatePlan(dict(spliced.changes), spliced.scope, _with_rule(deliveries, inputs), how,
                                     spliced.flipped)
                why = "the network ranges (ip_owners) changed"
    with _connect(store, settings) as con:
        tables = combine(con, inputs)
    return StatePlan(tables, None, _with_rule(deliveries, inputs), f"combine: {why}")


def _changes(con: duckdb.DuckDBPyConnection, store: ColumnarStore, previous: pa.Table) -> tuple[pa.Array, pa.Table]:
    """(accounts whose rows may have moved, the delivery accounts of the live deliveries).

    A delivery is identified with its partials: one that came or left, or whose partials were
    computed again (a delivery that suppressed some of its ids left), brings its accounts, those
    it had before and those it has now."""
    live = store.entries()
    now = {(e.ingest_id, e.partial) for e in live}
    came = [e for e in live if (e.ingest_id, e.partial) not in _keys_of(previous)]
    fresh = delivery_accounts(con, store, came)
    stays = _key_in(previous, now)
    left = previous.filter(pc.invert(stays))
    changed = pc.unique(pa.chunked_array([*left["account_id"].chunks, *fresh["account_id"].chunks], pa.string()))
    kept = previous.filter(stays).select(DELIVERIES_SCHEMA.names).cast(DELIVERIES_SCHEMA)
    return changed, pa.concat_tables([kept, fresh])


def _touching(store: ColumnarStore, inputs: CombineInput, deliveries: pa.Table,
              changed: pa.Array) -> CombineInput:
    """``inputs`` with per-account rows read only from the deliveries that touched a changed
    account: a 1% delivery onto a large store then folds its own partials, not the store's."""
    ids = set(deliveries.filter(pc.is_in(deliveries["account_id"], value_set=changed))["ingest_id"].to_pylist())
    chosen = [e for e in store.entries() if e.ingest_id in ids]
    partials = {name: store.partial_files(name, chosen) for name in PARTIAL_SCHEMAS}
    staged = {**inputs.staged, **{t: store.table_files(t, chosen) for t in ("accounts", "labels")}}
    return replace(inputs, partials=partials, staged=staged)


def _previous(state: StateDir, inputs: CombineInput) -> tuple[pa.Table | None, str]:
    """The last state's delivery accounts, when a splice can start from it (else why not)."""
    previous = state.read_deliveries()
    if previous is None or any(state.table_path(name) is None for name in STATE_SCHEMAS):
        return None, "no last state to splice into"
    if (previous.schema.metadata or {}) != _rule(inputs):
        return None, "the hub rule changed"
    return previous, ""


def _rule(inputs: CombineInput) -> dict[bytes, bytes]:
    """The hub rule a state was computed with: a splice keeps the flags of untouched identifiers."""
    return {b"link_max_share": repr(inputs.link_max_share).encode(),
            b"link_hub_min_accounts": str(inputs.link_hub_min_accounts).encode()}


def _with_rule(deliveries: pa.Table, inputs: CombineInput) -> pa.Table:
    return deliveries.replace_schema_metadata(_rule(inputs))


def _keys_of(table: pa.Table) -> set[tuple[str, str]]:
    pairs = table.select(["ingest_id", "partial"]).group_by(["ingest_id", "partial"]).aggregate([])
    return set(zip(pairs["ingest_id"].to_pylist(), pairs["partial"].to_pylist(), strict=True))


def _key_in(table: pa.Table, keys: set[tuple[str, str]]) -> pa.ChunkedArray:
    joined = pc.binary_join_element_wise(table["ingest_id"], table["partial"], "/")
    return pc.is_in(joined, value_set=pa.array([f"{i}/{p}" for i, p in keys], pa.string()))


def delivery_accounts(con: duckdb.DuckDBPyConnection, store: ColumnarStore, deliveries: list[Delivery]) -> pa.Table:
    """Every account each delivery touched: its activity partial (interactions and sessions as
    they count), its card and label rows and its account rows. Across a partial's refresh the
    union of the two sets covers every account whose rows moved."""
    parts = [DELIVERIES_SCHEMA.empty_table()]
    for d in deliveries:
        files = [*store.partial_files("activity", [d]),
                 *(f for t in ("accounts", "payment_methods", "labels") for f in store.table_files(t, [d]))]
        if not files:
            continue
        ids = con.sql("SELECT DISTINCT account_id FROM read_parquet($files, union_by_name = true)",
                      params={"files": files}).to_arrow_table().column(0).combine_chunks()
        parts.append(pa.table({"ingest_id": pa.array([d.ingest_id] * len(ids), pa.string()),
                               "partial": pa.array([d.partial] * len(ids), pa.string()),
                               "account_id": ids.cast(pa.string())}))
    return pa.concat_tables(parts)


def _connect(store: ColumnarStore, settings: Settings) -> closing[duckdb.DuckDBPyConnection]:
    return closing(store.connect(memory_limit=settings.ingest.memory_limit))
