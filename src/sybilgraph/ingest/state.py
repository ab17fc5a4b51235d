"""The aggregate state the graph holds, as columnar tables: what attribution reads instead of Neo4j.

Every ingest (and withdrawal) ends by saving, next to the columnar store, exactly the tables it
wrote to Neo4j plus the per-account detail the graph leaves out. Reading them back costs a
Parquet read (about a second at scale 1.0) where reading links over Bolt costs 40 s.

    from sybilgraph.ingest.state import read_state
    state = read_state(settings)          # GraphState, or raises StateNotFound before any ingest
    state.links                           # pyarrow.Table: account_id, kind, value, count, first_seen, last_seen
    state.accounts.column("hour_hist")    # 168 interactions per hour of week (Monday 00:00 UTC = 0)

Tables (schemas in ``STATE_SCHEMAS``; timestamps are epoch milliseconds UTC, int64):

* ``accounts``: one row per account: the latest contract row and activity features over
  everything ingested (tokens, first/last interaction, ``hour_hist``, category and model
  histograms as parallel name/count lists, ``n_api_key_requests``, ``active_days``, distinct
  identifier counts ``n_ips`` ..., and activity per network kind ``n_residential`` ...
  ``n_corporate``: interactions, sessions and the signup seen from IPs of that kind).
* ``identifiers``: every identifier node (used by at least two accounts): ``kind``, ``value``,
  ``n_accounts``, ``hub``; card details for ``card``; ``owner``, ``asn``, ``net_kind`` for ``ip``.
* ``links``: every Account->identifier relationship of the graph (non-hub identifiers of at
  least two accounts), with ``count``, ``first_seen``, ``last_seen``.
* ``account_identifiers``: the same columns for *every* identifier an account used, those of
  one account and hubs included (each account's own home IPs, devices, ... and their intervals).
* ``labels``: ``account_id``, ``operator_label``, ``source``, ``organisation``.
* ``organisations``: ``org_id``, ``name``, ``country``, ``domains`` (list), ``kind``.
* ``ip_owners``: the latest row of each range: ``cidr``, ``owner``, ``asn``, ``kind``.
* ``ip_networks``: for every IP some range holds, the most specific range and its owner.
* ``ip_subnets``: ``ip``, ``subnet`` of every IP node (the graph's IN_SUBNET).

Kinds are ``sybilgraph.identifiers.KINDS``. Layout on disk: ``<columnar>/graph_state/CURRENT``
names a generation directory holding one Parquet file per table; a new generation is written
whole, then CURRENT is replaced atomically, so a reader never sees half of one.

**Overlays.** A small delivery changes few rows; rewriting every table for it cost most of its
ingest. A generation may therefore hold, beside a table's base file (hard-linked from the
generation before), an overlay: ``<name>.overlay-keys.parquet`` (keys, ``OVERLAY_KEYS``) and
``<name>.overlay.parquet`` (the rows of those keys). The table is the base without the keys'
rows, plus the overlay's rows. Each change merges into the overlay; once the overlay exceeds
``COMPACT_SHARE`` of the base, the merged table becomes the new base. Readers never see the
parts: ``read`` / ``read_state`` give the merged table in key order, ``state_relation`` the
merged table as a DuckDB relation for queries in place.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from sybilgraph import durable
from sybilgraph.errors import SybilgraphError
from sybilgraph.ingest.aggregate import NET_KIND_COLUMNS
from sybilgraph.settings import Settings

__all__ = [
    "COMPACT_SHARE",
    "OVERLAY_KEYS",
    "STATE_SCHEMAS",
    "SORT_KEYS",
    "GRAPH_TABLES",
    "DELIVERIES_FILE",
    "DELIVERIES_SCHEMA",
    "GraphState",
    "StateNotFound",
    "generation_of",
    "new_lineage",
    "StateDir",
    "TableChange",
    "read_state",
    "state_relation",
]

_PAIR_FIELDS = [
    ("account_id", pa.string()),
    ("kind", pa.string()),
    ("value", pa.string()),
    ("count", pa.int64()),
    ("first_seen", pa.int64()),
    ("last_seen", pa.int64()),
]

STATE_SCHEMAS: dict[str, pa.Schema] = {
    "accounts": pa.schema([
        ("account_id", pa.string()),
        ("created_at", pa.int64()),
        ("email_domain", pa.string()),
        ("country", pa.string()),
        ("signup_ip", pa.string()),
        ("status", pa.string()),
        ("n_interactions", pa.int64()),
        ("input_tokens", pa.int64()),
        ("output_tokens", pa.int64()),
        ("first_interaction", pa.int64()),
        ("last_interaction", pa.int64()),
        ("hour_hist", pa.list_(pa.int64())),
        ("category_names", pa.list_(pa.string())),
        ("category_counts", pa.list_(pa.int64())),
        ("model_names", pa.list_(pa.string())),
        ("model_counts", pa.list_(pa.int64())),
        ("n_api_key_requests", pa.int64()),
        ("active_days", pa.int64()),
        ("n_sessions", pa.int64()),
        ("n_ips", pa.int64()),
        ("n_devices", pa.int64()),
        ("n_templates", pa.int64()),
        ("n_tls", pa.int64()),
        ("n_cards", pa.int64()),
        ("n_user_agents", pa.int64()),
        ("n_api_keys", pa.int64()),
        *((column, pa.int64()) for column in NET_KIND_COLUMNS.values()),
    ]),
    "identifiers": pa.schema([
        ("kind", pa.string()),
        ("value", pa.string()),
        ("n_accounts", pa.int64()),
        ("hub", pa.bool_()),
        ("bin", pa.string()),
        ("last4", pa.string()),
        ("issuer_country", pa.string()),
        ("owner", pa.string()),
        ("asn", pa.int64()),
        ("net_kind", pa.string()),
    ]),
    "links": pa.schema(_PAIR_FIELDS),
    "account_identifiers": pa.schema(_PAIR_FIELDS),
    "labels": pa.schema([
        ("account_id", pa.string()),
        ("operator_label", pa.string()),
        ("source", pa.string()),
        ("organisation", pa.string()),
    ]),
    "organisations": pa.schema([
        ("org_id", pa.string()),
        ("name", pa.string()),
        ("country", pa.string()),
        ("domains", pa.list_(pa.string())),
        ("kind", pa.string()),
    ]),
    "ip_owners": pa.schema([
        ("cidr", pa.string()),
        ("owner", pa.string()),
        ("asn", pa.int64()),
        ("kind", pa.string()),
    ]),
    "ip_networks": pa.schema([
        ("ip", pa.string()),
        ("cidr", pa.string()),
        ("owner", pa.string()),
        ("asn", pa.int64()),
        ("net_kind", pa.string()),
    ]),
    "ip_subnets": pa.schema([
        ("ip", pa.string()),
        ("subnet", pa.string()),
    ]),
}

# Each table's key, which is also its row order: writes and deltas see the same order whichever
# engine computed the rows.
SORT_KEYS: dict[str, tuple[str, ...]] = {
    "accounts": ("account_id",),
    "identifiers": ("kind", "value"),
    "links": ("kind", "value", "account_id"),
    "account_identifiers": ("account_id", "kind", "value"),
    "labels": ("account_id", "operator_label"),
    "organisations": ("org_id",),
    "ip_owners": ("cidr",),
    "ip_networks": ("ip",),
    "ip_subnets": ("ip",),
}

# What an overlay replaces: every row of the base whose values in these columns are among the
# overlay's keys (a table's whole key, or the account that owns its rows).
OVERLAY_KEYS: dict[str, tuple[str, ...]] = {
    "accounts": ("account_id",),
    "identifiers": ("kind", "value"),
    "links": ("account_id", "kind", "value"),
    "account_identifiers": ("account_id",),
    "labels": ("account_id",),
    "organisations": ("org_id",),
    "ip_owners": ("cidr",),
    "ip_networks": ("ip",),
    "ip_subnets": ("ip",),
}

# An overlay larger than this share of its base is folded into a new base. Readers merge an
# overlay in one pass whatever its size; what it bounds is the rows each change rewrites (the
# overlay grows with the deliveries since the last fold). With 1% deliveries: a fold every ~10.
COMPACT_SHARE = 0.1

# Per generation: the accounts each live delivery touched (its partial directory names the
# partials they came from). Kept beside the state tables, not one of them (a clean ingest of the
# same rows has other delivery ids).
DELIVERIES_FILE = "deliveries.parquet"
DELIVERIES_SCHEMA = pa.schema([("ingest_id", pa.string()), ("partial", pa.string()), ("account_id", pa.string())])

# The tables written to Neo4j, in the order nodes come before the relationships that MATCH them.
GRAPH_TABLES: tuple[str, ...] = ("accounts", "identifiers", "links", "ip_subnets", "organisations", "labels")


@dataclass(frozen=True)
class TableChange:
    """A change of one state table: every row with a key in ``keys`` (``OVERLAY_KEYS`` columns)
    is replaced by the rows of ``rows`` (none: the key's rows leave)."""

    keys: pa.Table
    rows: pa.Table


class StateNotFound(SybilgraphError):
    """Nothing has been ingested yet into this home."""


@dataclass(frozen=True)
class GraphState:
    """The aggregate the graph holds (see the module note for every table and column)."""

    accounts: pa.Table
    identifiers: pa.Table
    links: pa.Table
    account_identifiers: pa.Table
    labels: pa.Table
    organisations: pa.Table
    ip_owners: pa.Table
    ip_networks: pa.Table
    ip_subnets: pa.Table
    generation: int  # increases with every ingest or withdrawal that changed something

    @classmethod
    def table_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls) if f.name != "generation")


class StateDir:
    """Generations of the state tables under one directory, switched atomically by CURRENT."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.pointer = root / "CURRENT"

    def snapshot(self) -> tuple[Path | None, int]:
        """(directory, number) of the current generation; (None, 0) before the first."""
        info = self._pointer()
        try:
            path, generation = self.root / str(info["dir"]), int(info["generation"])
        except (ValueError, KeyError):
            return None, 0
        return (path, generation) if path.is_dir() else (None, 0)

    def _pointer(self) -> dict[str, Any]:
        try:
            info = json.loads(self.pointer.read_text())
        except (OSError, ValueError):
            return {}
        return info if isinstance(info, dict) else {}

    def lineage(self) -> str | None:
        """The lineage of the current generation: one id shared by every generation written into
        the same graph since it was loaded whole (``publish``); the graph records it too
        (``sync.state_mismatch``). None before the first generation, or one saved without."""
        value = self._pointer().get("lineage")
        return None if value is None or self.current() is None else str(value)

    def lineage_to_publish(self, lineage: str | None) -> str:
        """``lineage``, else the current generation's, else a new one (a first generation)."""
        return lineage or self.lineage() or new_lineage()

    def source_revision(self) -> int | None:
        """The columnar store's revision the current generation was computed from."""
        value = self._pointer().get("revision")
        return None if value is None or self.current() is None else int(value)

    def current(self) -> Path | None:
        return self.snapshot()[0]

    def generation(self) -> int:
        return self.snapshot()[1]

    def table_path(self, name: str, directory: Path | None = None) -> Path | None:
        """The base file of a table (without its overlay: see ``relation``)."""
        current = directory or self.current()
        path = None if current is None else current / f"{name}.parquet"
        return path if path is not None and path.is_file() else None

    def has_overlay(self, name: str, directory: Path | None = None) -> bool:
        current = directory or self.current()
        return current is not None and (current / _overlay_keys(name)).is_file()

    def relation(self, name: str, directory: Path | None = None) -> str | None:
        """The table as a DuckDB relation (SQL after FROM): its base merged with its overlay;
        None when the generation has no such table. Row order is not defined."""
        current = directory or self.current()
        base = self.table_path(name, current)
        if base is None or current is None:
            return None
        if not self.has_overlay(name, current):
            return f"read_parquet({_literal(base)})"
        keys = ", ".join(OVERLAY_KEYS[name])
        columns = ", ".join(f'"{c}"' for c in STATE_SCHEMAS[name].names)
        return (f"(SELECT {columns} FROM read_parquet({_literal(base)}) AS base "
                f"ANTI JOIN read_parquet({_literal(current / _overlay_keys(name))}) AS overlay_keys USING ({keys}) "
                f"UNION ALL SELECT {columns} FROM read_parquet({_literal(current / _overlay_rows(name))}) AS overlay)")

    def rows_of(self, name: str, keys: str, directory: Path | None = None) -> str | None:
        """The rows of the table whose ``OVERLAY_KEYS`` are in the relation ``keys`` (a name or
        SQL the caller's connection knows), as a relation, reading as little as it can: keys the
        overlay holds are answered from it alone, and the base file's other columns are decoded
        only when some wanted key is in its key columns (DuckDB skips a join's scan when the
        other side is empty). A delivery of new accounts, or a redelivery or withdrawal of
        what the overlay holds, then reads no whole base file."""
        current = directory or self.current()
        base = self.table_path(name, current)
        if base is None or current is None:
            return None
        using = ", ".join(OVERLAY_KEYS[name])
        columns = ", ".join(f'"{c}"' for c in STATE_SCHEMAS[name].names)
        wanted = keys
        overlay = ""
        if self.has_overlay(name, current):
            overlay_keys = f"read_parquet({_literal(current / _overlay_keys(name))})"
            wanted = f"(SELECT {using} FROM {keys} ANTI JOIN {overlay_keys} AS overlay_keys USING ({using}))"
            overlay = (f"SELECT {columns} FROM read_parquet({_literal(current / _overlay_rows(name))}) AS overlay "
                       f"SEMI JOIN {keys} USING ({using}) UNION ALL ")
        present = (f"(SELECT {using} FROM read_parquet({_literal(base)}) AS base_keys "
                   f"SEMI JOIN {wanted} AS wanted USING ({using}))")
        return (f"({overlay}SELECT {columns} FROM read_parquet({_literal(base)}) AS base "
                f"SEMI JOIN {present} AS present USING ({using}))")

    def read(
        self, name: str, columns: list[str] | None = None, directory: Path | None = None, rows: str | None = None
    ) -> pa.Table:
        """One table of a generation (the current one by default; empty of its schema when absent);
        ``rows``: only the rows this SQL predicate keeps, filtered while reading (DuckDB decodes
        the other columns of matching rows only: 3x faster than Arrow's filter at scale 1.0)."""
        current = directory or self.current()
        path = self.table_path(name, current)
        schema = STATE_SCHEMAS[name]
        if path is None:
            empty = schema.empty_table()
            return empty.select(columns) if columns else empty
        wanted = schema if columns is None else pa.schema([schema.field(c) for c in columns])
        overlay = self.has_overlay(name, current)
        if rows is None and not overlay:
            return _conform(pq.read_table(path, columns=columns), wanted)
        select = ", ".join(f'"{c}"' for c in wanted.names)
        where = f" WHERE {rows}" if rows is not None else ""
        # A base file is in key order; a merged one is put back in it (DuckDB's parallel sort).
        order = f" ORDER BY {', '.join(SORT_KEYS[name])}" if overlay else ""
        with duckdb.connect() as con:
            table = con.sql(f"SELECT {select} FROM {self.relation(name, current)}{where}{order}").to_arrow_table()
        return _conform(table, wanted)

    def write(self, tables: Mapping[str, pa.Table | TableChange], write_options: dict[str, Any],
              revision: int | None = None, deliveries: pa.Table | None = None) -> int:
        """A new generation; returns its number. Per table: a ``pa.Table`` is its new content, a
        ``TableChange`` changes the current generation's (merged into its overlay, or folded
        into a new base past ``COMPACT_SHARE``); a table not named is carried over.

        ``revision``: the columnar store's revision the tables were computed from.
        ``deliveries``: which accounts each live delivery touched (``DELIVERIES_SCHEMA``, with the
        hub rule in its metadata): what the next change splices from. Without it the next change
        combines everything.
        """
        return self.publish(self.prepare(tables, write_options, deliveries), revision)

    def prepare(self, tables: Mapping[str, pa.Table | TableChange], write_options: dict[str, Any],
                deliveries: pa.Table | None = None) -> Path:
        """``write`` without publishing: the next generation's files, on disk, that no reader sees
        until ``publish`` names them. Lets a writer save the state while its graph load finishes
        and publish it after (a writer killed in between leaves a directory the next write replaces)."""
        current, generation = self.snapshot()
        generation += 1
        target = self.root / f"gen-{generation:08d}"
        shutil.rmtree(target, ignore_errors=True)  # a killed writer's leftovers
        target.mkdir(parents=True)

        # One DuckDB connection for every change (a connection costs ~50 ms, a cursor ~1 ms).
        con = duckdb.connect() if any(isinstance(t, TableChange) for t in tables.values()) else None

        def write_one(name: str) -> None:
            value = tables[name]
            if isinstance(value, TableChange):
                assert con is not None
                with con.cursor() as cursor:
                    self._write_change(cursor, name, value, current, target, write_options)
            else:
                pq.write_table(_conform(value, STATE_SCHEMAS[name]), target / f"{name}.parquet", **write_options)

        # Parquet encoding releases the GIL: the tables are written side by side (measured 4.6 s
        # one after another at scale 0.2, most of a small delivery's cost).
        try:
            with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
                list(pool.map(write_one, [name for name in STATE_SCHEMAS if name in tables]))
        finally:
            if con is not None:
                con.close()
        unchanged = [name for name, t in tables.items()
                     if isinstance(t, TableChange) and not t.keys.num_rows and not t.rows.num_rows]
        for name in STATE_SCHEMAS:
            if (name not in tables or name in unchanged) and current is not None:
                for file in (f"{name}.parquet", _overlay_keys(name), _overlay_rows(name)):
                    if (current / file).is_file():
                        os.link(current / file, target / file)
        if deliveries is not None:
            pq.write_table(deliveries, target / DELIVERIES_FILE, **write_options)
        durable.fsync_tree(target)  # the generation's files reach the disk before the pointer names them
        return target

    def publish(self, target: Path, revision: int | None = None, lineage: str | None = None) -> int:
        """Make the generation ``prepare`` wrote the current one; returns its number.

        ``lineage``: the id of the graph load this generation continues (a new one when the graph
        was loaded whole); None keeps the current generation's, or starts one."""
        current = self.current()
        lineage = self.lineage_to_publish(lineage)
        generation = generation_of(target)
        durable.write_text(self.pointer, json.dumps({"dir": target.name, "generation": generation, "revision": revision,
                                                     "lineage": lineage}))
        # The generation before stays: a reader that took its snapshot a moment ago finishes.
        for old in self.root.glob("gen-*"):
            if old not in (target, current):
                shutil.rmtree(old, ignore_errors=True)
        return generation

    def _write_change(self, con: duckdb.DuckDBPyConnection, name: str, change: TableChange, current: Path | None,
                      target: Path, write_options: dict[str, Any]) -> None:
        """``change`` merged into the current overlay of ``name`` (written into ``target``), or,
        past ``COMPACT_SHARE`` of the base, the whole table as the new base. An empty change
        writes nothing (the caller links the current files)."""
        base = self.table_path(name, current) if current is not None else None
        if base is None or current is None:
            raise ValueError(f"state table {name!r} has no base to change")
        if not change.keys.num_rows and not change.rows.num_rows:
            return
        schema, keys = STATE_SCHEMAS[name], list(OVERLAY_KEYS[name])
        columns = ", ".join(f'"{c}"' for c in schema.names)
        con.register("change_keys", change.keys.select(keys))
        con.register("change_rows", _conform(change.rows, schema))
        if self.has_overlay(name, current):
            old_keys = f"read_parquet({_literal(current / _overlay_keys(name))}) AS old_keys"
            old_rows = f"read_parquet({_literal(current / _overlay_rows(name))}) AS old_rows"
            key_sql = f"SELECT {', '.join(keys)} FROM {old_keys} UNION SELECT {', '.join(keys)} FROM change_keys"
            row_sql = (f"SELECT {columns} FROM {old_rows} ANTI JOIN change_keys USING ({', '.join(keys)}) "
                       f"UNION ALL SELECT {columns} FROM change_rows")
        else:
            key_sql = f"SELECT DISTINCT {', '.join(keys)} FROM change_keys"
            row_sql = f"SELECT {columns} FROM change_rows"
        merged_keys = con.sql(key_sql).to_arrow_table()
        merged_rows = con.sql(row_sql).to_arrow_table()
        base_rows = pq.ParquetFile(base).metadata.num_rows
        if max(merged_keys.num_rows, merged_rows.num_rows) > COMPACT_SHARE * base_rows:
            con.register("overlay_keys", merged_keys)
            con.register("overlay_rows", merged_rows)
            whole = con.sql(f"SELECT {columns} FROM read_parquet({_literal(base)}) AS base "
                            f"ANTI JOIN overlay_keys USING ({', '.join(keys)}) "
                            f"UNION ALL SELECT {columns} FROM overlay_rows "
                            f"ORDER BY {', '.join(SORT_KEYS[name])}").to_arrow_table()
            pq.write_table(_conform(whole, schema), target / f"{name}.parquet", **write_options)
            return
        os.link(base, target / f"{name}.parquet")
        pq.write_table(merged_keys, target / _overlay_keys(name), **write_options)
        pq.write_table(_conform(merged_rows, schema), target / _overlay_rows(name), **write_options)

    def read_deliveries(self) -> pa.Table | None:
        """The current generation's delivery accounts (see ``write``); None when it has none."""
        current = self.current()
        path = None if current is None else current / DELIVERIES_FILE
        return pq.read_table(path) if path is not None and path.is_file() else None

    # -- graph writes in flight ----------------------------------------------------------------
    # A sync records the keys it is about to write or delete before it touches the graph. A run
    # killed midway leaves the graph between two states on those keys only; the next sync writes
    # them whatever its own difference says (it may aim at another state: a withdrawal instead
    # of the re-run), so no half-written row survives.
    def write_pending(self, keys: Mapping[str, pa.Table]) -> None:
        """Record keys a sync is about to write; earlier records stay until ``clear_pending``
        (a run killed before it wrote anything leaves the graph as the run before left it)."""
        number = max((int(p.name.split("-")[1]) for p in self._pending_dirs()), default=0) + 1
        staging = self.root / f"pending-{number:06d}.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for name, table in keys.items():
            pq.write_table(table, staging / f"{name}.parquet")
        durable.replace(staging, self.root / f"pending-{number:06d}")

    def read_pending(self) -> dict[str, pa.Table]:
        """Per graph table, the keys of every sync that did not finish (deduplicated)."""
        found: dict[str, list[pa.Table]] = {}
        for directory in self._pending_dirs():
            for path in sorted(directory.glob("*.parquet")):
                found.setdefault(path.stem, []).append(pq.read_table(path))
        return {name: pa.concat_tables(parts).group_by(parts[0].column_names).aggregate([])
                for name, parts in found.items()}

    def clear_pending(self) -> None:
        for path in self.root.glob("pending-*"):
            shutil.rmtree(path, ignore_errors=True)

    def _pending_dirs(self) -> list[Path]:
        return sorted(p for p in self.root.glob("pending-*") if p.is_dir() and not p.name.endswith(".tmp"))


def new_lineage() -> str:
    """A fresh lineage id (``StateDir.publish``), for a graph loaded whole."""
    return uuid.uuid4().hex


def generation_of(target: Path) -> int:
    """The number of a generation directory (``prepare``'s ``gen-NNNNNNNN``)."""
    return int(target.name.removeprefix("gen-"))


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    return table.select(schema.names).cast(schema)


def _overlay_keys(name: str) -> str:
    return f"{name}.overlay-keys.parquet"


def _overlay_rows(name: str) -> str:
    return f"{name}.overlay.parquet"


def _literal(path: Path) -> str:
    """A path as an SQL string literal (our own directories; quotes doubled all the same)."""
    return "'" + str(path).replace("'", "''") + "'"


def read_state(settings: Settings, rows: Mapping[str, str] | None = None) -> GraphState:
    """The tables of the last ingest that completed (see the module note); typed, in key order.
    ``rows``: per table, only the rows an SQL predicate keeps (a reader that never uses some)."""
    state = StateDir(settings.columnar_dir / "graph_state")
    directory, generation = state.snapshot()
    if directory is None:
        raise StateNotFound(f"no ingested state under {settings.columnar_dir}: run 'sybilgraph ingest BUNDLE' first")
    rows = rows or {}
    tables = {name: state.read(name, directory=directory, rows=rows.get(name)) for name in GraphState.table_names()}
    return GraphState(**tables, generation=generation)


def state_relation(settings: Settings, name: str) -> str | None:
    """One state table of the current generation as a DuckDB relation (SQL to put after FROM,
    e.g. ``f"SELECT count(*) FROM {rel}"``); None before any ingest.

    For readers that query a table in place instead of loading it all. The table may be a base
    file merged with an overlay (see the module note): never read the files directly. The
    generation before the current one is kept, so a relation named here stays readable while a
    query that started on it runs, even if an ingest switches generations meanwhile.
    """
    if name not in STATE_SCHEMAS:
        raise ValueError(f"no state table named {name!r}; known: {', '.join(STATE_SCHEMAS)}")
    return StateDir(settings.columnar_dir / "graph_state").relation(name)
