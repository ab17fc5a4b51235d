"""The heavy aggregation step as a replaceable part: staged Parquet in, partial aggregates out.

The ingest pipeline asks an ``Aggregator`` for the two *partial* tables of a set of staged rows
(``pairs``: usage of each identifier by each account; ``activity``: per-account activity; schemas
in ``PARTIAL_SCHEMAS``, SQL in ``aggregate.py``). This is the scan of the tens of millions of
interactions; combining partials into the graph's state (``combine.py``) is small and always
runs in DuckDB. Two implementations compute the same rows:

* ``DuckDBAggregator`` (the default): the SQL of ``aggregate.py``, in process.
* ``SparkAggregator``: the PySpark job of ``spark_aggregate.py``, run as a separate process (in
  local mode here; on a cluster it is the same job under ``spark-submit``, docs/scaling.md).

``SYBILGRAPH_AGGREGATOR=duckdb|spark`` picks one. Whatever computes the partials, combining them,
the delta against the written state and everything after stay the same.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import logging
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sybilgraph.errors import ConfigError, SybilgraphError
from sybilgraph.ingest import aggregate as agg

__all__ = [
    "INPUT_TABLES",
    "PARTIAL_SCHEMAS",
    "PARTIAL_SORT_KEYS",
    "AggregateInput",
    "AggregationError",
    "Aggregator",
    "DuckDBAggregator",
    "SparkAggregator",
    "conform",
    "duckdb_partials",
    "hour_histograms",
    "in_key_order",
    "make_aggregator",
    "read_output",
    "register_parquet",
]

log = logging.getLogger("sybilgraph.ingest")

# The staged (normalized) tables a partial aggregation reads.
INPUT_TABLES = ("payment_methods", "sessions", "interactions")

# Epoch milliseconds rather than timestamps: integers compare the same in every engine (no time
# zone or precision to disagree on).
PARTIAL_SCHEMAS: dict[str, pa.Schema] = {
    "pairs": pa.schema([
        ("account_id", pa.string()),
        ("kind", pa.string()),
        ("value", pa.string()),
        ("count", pa.int64()),
        ("first_seen", pa.int64()),
        ("last_seen", pa.int64()),
    ]),
    "activity": pa.schema([
        ("account_id", pa.string()),
        ("n_interactions", pa.int64()),
        ("input_tokens", pa.int64()),
        ("output_tokens", pa.int64()),
        ("first_interaction", pa.int64()),
        ("last_interaction", pa.int64()),
        ("n_api_key_requests", pa.int64()),
        ("hour_hist", pa.list_(pa.int64())),
        ("category_names", pa.list_(pa.string())),
        ("category_counts", pa.list_(pa.int64())),
        ("model_names", pa.list_(pa.string())),
        ("model_counts", pa.list_(pa.int64())),
        ("days", pa.list_(pa.int32())),  # distinct UTC days (since 1970-01-01) with an interaction
        ("n_sessions", pa.int64()),
    ]),
}

# Each partial's key (one row per key). Activity rows come in this order; pairs rows in none
# (``duckdb_partials``): whoever compares two pairs partials sorts them first.
PARTIAL_SORT_KEYS: dict[str, tuple[str, ...]] = {
    "pairs": ("account_id", "kind", "value"),
    "activity": ("account_id",),
}

def duckdb_partials(con: duckdb.DuckDBPyConnection) -> dict[str, pa.Table]:
    """The partial tables of the ``INPUT_TABLES`` relations registered on ``con``, conformed.

    Pairs are grouped one identifier kind at a time, each straight into Arrow: the UNION ALL of
    all kinds runs their hash tables side by side and ran out of DuckDB's default 4 GB at scale
    1.0; one after another it fits in 300 MB where the UNION ALL failed at 500 MB (scale 0.2,
    9.4M interactions), for 6-10% more CPU. Pairs are left in the order the kinds came out
    (``PARTIAL_SORT_KEYS``: their key, not their order): combining groups them again and sorts
    what it keeps, and sorting the 22M usage rows of scale 1.0 here too cost 8-10 s.
    """
    parts = [conform("pairs", con.sql(sql).to_arrow_table()) for sql in agg.PAIRS_PARTIAL_PARTS]
    activity = con.sql(f"{agg.ACTIVITY_PARTIAL_SQL} ORDER BY {', '.join(PARTIAL_SORT_KEYS['activity'])}").to_arrow_table()
    hours = hour_histograms(activity.column("account_id"), con.sql(agg.HOURS_PARTIAL_SQL).to_arrow_table())
    return {"pairs": pa.concat_tables(parts), "activity": conform("activity", activity.append_column("hour_hist", hours))}


def hour_histograms(accounts: pa.ChunkedArray | pa.Array, hours: pa.Table) -> pa.ListArray:
    """Per account of ``accounts`` (distinct), its 168 interaction counts by hour of week.

    ``hours``: (account_id, hour, n) rows, ``aggregate.HOURS_PARTIAL_SQL``; an account without
    any gets 168 zeros. Counts are summed exactly (float64 holds integers up to 2**53).
    """
    n_accounts, width = len(accounts), agg.HOURS_PER_WEEK
    where = pc.index_in(hours.column("account_id"), value_set=pa.chunked_array(accounts).combine_chunks())
    if where.null_count:
        raise ValueError("hour counts of an account the activity partial does not hold")
    hour = hours.column("hour").to_numpy()
    inside = (hour >= 0) & (hour < width)  # as the 168 lookups had it: an hour out of range counts nowhere
    cells = where.to_numpy().astype(np.int64)[inside] * width + hour[inside]
    dense = np.bincount(cells, weights=hours.column("n").to_numpy()[inside], minlength=n_accounts * width)
    offsets = np.arange(0, (n_accounts + 1) * width, width, dtype=np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(dense.astype(np.int64)))


class AggregationError(SybilgraphError):
    """The aggregation engine failed or is not installed."""


@dataclass(frozen=True)
class AggregateInput:
    """Where the staged tables to aggregate are: everything a partial aggregation reads.

    ``tables`` maps each of ``INPUT_TABLES`` to a list of Parquet files (or globs), or to None
    when there is none (the table then counts as empty, with its ``schemas`` entry).
    """

    tables: Mapping[str, list[str] | None]
    schemas: Mapping[str, pa.Schema]

    def to_json(self) -> str:
        """A JSON document a job in another process (or on another machine) can read back."""
        return json.dumps({
            "tables": dict(self.tables),
            "schemas": {name: _schema_text(s) for name, s in self.schemas.items()},
        }, indent=1)

    @classmethod
    def from_json(cls, text: str) -> AggregateInput:
        data: dict[str, Any] = json.loads(text)
        return cls(
            tables=data["tables"],
            schemas={name: _schema_from_text(s) for name, s in data["schemas"].items()},
        )


def _schema_text(schema: pa.Schema) -> str:
    # Arrow's own IPC encoding: exact for every type, no hand-written type names to drift.
    return base64.b64encode(schema.serialize().to_pybytes()).decode("ascii")


def _schema_from_text(text: str) -> pa.Schema:
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(text)))


class Aggregator(Protocol):
    """Computes the partial tables of staged rows; see PARTIAL_SCHEMAS and PARTIAL_SORT_KEYS."""

    name: str

    def aggregate(self, inputs: AggregateInput) -> dict[str, pa.Table]: ...


def conform(name: str, table: pa.Table) -> pa.Table:
    """``table`` with exactly the columns and types of PARTIAL_SCHEMAS[name]."""
    schema = PARTIAL_SCHEMAS[name]
    return table.select(schema.names).cast(schema)


def read_output(directory: Path, name: str) -> pa.Table:
    """One partial written as Parquet (a file or a directory of parts), conformed and sorted."""
    path = directory / name
    if path.is_dir() and not any(path.glob("*.parquet")):
        return PARTIAL_SCHEMAS[name].empty_table()  # an engine may write no part for no rows
    return in_key_order(name, conform(name, pq.read_table(path)))


def in_key_order(name: str, table: pa.Table) -> pa.Table:
    """Partial ``name``'s rows sorted by its key, to compare two partials row by row."""
    return table.sort_by([(k, "ascending") for k in PARTIAL_SORT_KEYS[name]])


# -- DuckDB, in process (the default) -------------------------------------------------------------
class DuckDBAggregator:
    """The SQL of ``aggregate.py`` on a DuckDB connection (memory-limited, spills to disk)."""

    name = "duckdb"

    def __init__(self, connect: Callable[[], duckdb.DuckDBPyConnection]) -> None:
        self.connect = connect

    def aggregate(self, inputs: AggregateInput) -> dict[str, pa.Table]:
        con = self.connect()
        try:
            register_parquet(con, inputs.tables, inputs.schemas)
            return duckdb_partials(con)
        finally:
            con.close()


def register_parquet(con: duckdb.DuckDBPyConnection, tables: Mapping[str, list[str] | None],
                     schemas: Mapping[str, pa.Schema]) -> None:
    """A view per table over its Parquet files, or an empty table of its schema when it has none."""
    for table, files in tables.items():
        if not files:
            con.register(table, schemas[table].empty_table())
        else:
            con.read_parquet(list(files), union_by_name=True).create_view(table)


# -- Spark, as a job in its own process -----------------------------------------------------------
class SparkAggregator:
    """Runs ``python -m sybilgraph.ingest.spark_aggregate`` and reads the Parquet it writes.

    A child process rather than a SparkSession in this one: the JVM (and its memory) goes away
    with the job, and the command is the very one a cluster runs under ``spark-submit``.
    """

    name = "spark"

    def __init__(self, master: str, work_dir: Path, java_home: Path | None = None,
                 conf: Mapping[str, str] | None = None) -> None:
        self.master = master
        self.work_dir = work_dir
        self.java_home = java_home
        self.conf = dict(conf or {})

    def aggregate(self, inputs: AggregateInput) -> dict[str, pa.Table]:
        if importlib.util.find_spec("pyspark") is None:
            raise AggregationError(
                "SYBILGRAPH_AGGREGATOR=spark needs pyspark: pip install 'sybilgraph[spark]'"
            )
        # A fresh directory per run: the job of a killed ingest may still be running and must not
        # write into this run's output. Leftovers are removed (a live orphan then just fails).
        for leftover in self.work_dir.glob("run-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        run_dir = self.work_dir / f"run-{uuid.uuid4().hex[:12]}"
        run_dir.mkdir(parents=True)
        try:
            inputs_file = run_dir / "inputs.json"
            inputs_file.write_text(inputs.to_json())
            self._run_job(self.command(inputs_file, run_dir / "out", run_dir / "local"))
            return {name: read_output(run_dir / "out", name) for name in PARTIAL_SCHEMAS}
        finally:
            shutil.rmtree(run_dir, ignore_errors=True)

    def command(self, inputs_file: Path, out: Path, local_dir: Path) -> list[str]:
        return [
            sys.executable, "-m", "sybilgraph.ingest.spark_aggregate",
            "--inputs", str(inputs_file), "--out", str(out),
            "--master", self.master, "--local-dir", str(local_dir),
            *(arg for key, value in self.conf.items() for arg in ("--conf", f"{key}={value}")),
        ]

    def _run_job(self, command: list[str]) -> None:
        env = dict(os.environ)
        if self.java_home is not None:
            env["JAVA_HOME"] = str(self.java_home)
        proc = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-20:])
            raise AggregationError(f"the Spark aggregation job failed (exit {proc.returncode}):\n{tail}")
        log.debug("spark aggregation job output:\n%s", proc.stderr)


def make_aggregator(kind: str, connect: Callable[[], duckdb.DuckDBPyConnection], *, spark_master: str,
                    work_dir: Path, java_home: Path | None = None,
                    spark_conf: Mapping[str, str] | None = None) -> Aggregator:
    if kind == "duckdb":
        return DuckDBAggregator(connect)
    if kind == "spark":
        return SparkAggregator(spark_master, work_dir, java_home, spark_conf)
    raise ConfigError(f"unknown aggregator {kind!r}: use duckdb or spark")
