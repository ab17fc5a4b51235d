"""The aggregation step as a replaceable part: staged Parquet in, fixed-schema Arrow tables out.

The ingest pipeline asks an ``Aggregator`` for four tables (``accounts``, ``identifiers``,
``links``, ``labels``; schemas in ``OUTPUT_SCHEMAS``) computed from every committed bundle in the
columnar store. Two implementations compute the same rows:

* ``DuckDBAggregator`` (the default): the SQL of ``aggregate.py``, in process.
* ``SparkAggregator``: the PySpark job of ``spark_aggregate.py``, run as a separate process (in
  local mode here; on a cluster it is the same job under ``spark-submit``, docs/scaling.md).

``SYBILGRAPH_AGGREGATOR=duckdb|spark`` picks one. Whatever computes the tables, the graph writer,
the delta against the written state and everything after them stay the same.
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
import pyarrow as pa
import pyarrow.parquet as pq

from sybilgraph.errors import ConfigError, SybilgraphError
from sybilgraph.ingest import aggregate as agg

__all__ = [
    "INPUT_TABLES",
    "OUTPUT_SCHEMAS",
    "SORT_KEYS",
    "AggregateInput",
    "AggregationError",
    "Aggregator",
    "DuckDBAggregator",
    "SparkAggregator",
    "conform",
    "make_aggregator",
    "read_output",
]

log = logging.getLogger("sybilgraph.ingest")

# The staged (normalized) tables an aggregator reads.
INPUT_TABLES = ("accounts", "payment_methods", "sessions", "interactions", "labels")

# Epoch milliseconds rather than timestamps: the graph writer turns them into datetimes, and
# integers compare the same in every engine (no time zone or precision to disagree on).
OUTPUT_SCHEMAS: dict[str, pa.Schema] = {
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
        ("n_sessions", pa.int64()),
        ("n_ips", pa.int64()),
        ("n_devices", pa.int64()),
        ("n_templates", pa.int64()),
        ("n_tls", pa.int64()),
        ("n_cards", pa.int64()),
    ]),
    "identifiers": pa.schema([
        ("kind", pa.string()),
        ("value", pa.string()),
        ("n_accounts", pa.int64()),
        ("hub", pa.bool_()),
        ("bin", pa.string()),
        ("last4", pa.string()),
        ("issuer_country", pa.string()),
    ]),
    "links": pa.schema([
        ("account_id", pa.string()),
        ("kind", pa.string()),
        ("value", pa.string()),
        ("count", pa.int64()),
        ("first_seen", pa.int64()),
        ("last_seen", pa.int64()),
    ]),
    "labels": pa.schema([
        ("account_id", pa.string()),
        ("operator_label", pa.string()),
        ("source", pa.string()),
    ]),
}

# Each output's key, which is also its row order: writes and deltas see the same order whichever
# engine computed the rows.
SORT_KEYS: dict[str, tuple[str, ...]] = {
    "accounts": ("account_id",),
    "identifiers": ("kind", "value"),
    "links": ("kind", "value", "account_id"),
    "labels": ("account_id", "operator_label"),
}


class AggregationError(SybilgraphError):
    """The aggregation engine failed or is not installed."""


@dataclass(frozen=True)
class AggregateInput:
    """Where the staged tables are and how hubs are cut: everything an aggregation reads.

    ``tables`` maps each of ``INPUT_TABLES`` to a Parquet glob over every committed bundle, or to
    None when no bundle has that table (it then counts as empty, with its ``schemas`` entry).
    """

    tables: Mapping[str, str | None]
    schemas: Mapping[str, pa.Schema]
    link_max_share: float
    link_hub_min_accounts: int

    def to_json(self) -> str:
        """A JSON document a job in another process (or on another machine) can read back."""
        return json.dumps({
            "tables": dict(self.tables),
            "schemas": {name: _schema_text(s) for name, s in self.schemas.items()},
            "link_max_share": self.link_max_share,
            "link_hub_min_accounts": self.link_hub_min_accounts,
        }, indent=1)

    @classmethod
    def from_json(cls, text: str) -> AggregateInput:
        data: dict[str, Any] = json.loads(text)
        return cls(
            tables=data["tables"],
            schemas={name: _schema_from_text(s) for name, s in data["schemas"].items()},
            link_max_share=float(data["link_max_share"]),
            link_hub_min_accounts=int(data["link_hub_min_accounts"]),
        )


def _schema_text(schema: pa.Schema) -> str:
    # Arrow's own IPC encoding: exact for every type, no hand-written type names to drift.
    return base64.b64encode(schema.serialize().to_pybytes()).decode("ascii")


def _schema_from_text(text: str) -> pa.Schema:
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(text)))


class Aggregator(Protocol):
    """Computes the graph's tables from the staged ones; see OUTPUT_SCHEMAS and SORT_KEYS."""

    name: str

    def aggregate(self, inputs: AggregateInput) -> dict[str, pa.Table]: ...


def conform(name: str, table: pa.Table) -> pa.Table:
    """``table`` with exactly the columns and types of OUTPUT_SCHEMAS[name]."""
    schema = OUTPUT_SCHEMAS[name]
    return table.select(schema.names).cast(schema)


def read_output(directory: Path, name: str) -> pa.Table:
    """One output table written as Parquet (a file or a directory of parts), conformed and sorted."""
    path = directory / name
    if path.is_dir() and not any(path.glob("*.parquet")):
        return OUTPUT_SCHEMAS[name].empty_table()  # an engine may write no part for no rows
    table = conform(name, pq.read_table(path))
    return table.sort_by([(k, "ascending") for k in SORT_KEYS[name]])


# -- DuckDB, in process (the default) -------------------------------------------------------------
class DuckDBAggregator:
    """The SQL of ``aggregate.py`` on a DuckDB connection (memory-limited, spills to disk)."""

    name = "duckdb"

    def __init__(self, connect: Callable[[], duckdb.DuckDBPyConnection]) -> None:
        self.connect = connect

    def aggregate(self, inputs: AggregateInput) -> dict[str, pa.Table]:
        con = self.connect()
        try:
            _register_inputs(con, inputs)
            con.execute(f"CREATE TEMP TABLE accounts_latest AS {agg.ACCOUNTS_LATEST_SQL}")
            con.execute(f"CREATE TEMP TABLE pairs AS {agg.PAIRS_SQL}")
            n_accounts = int(con.sql("SELECT count(*) FROM accounts_latest").fetchall()[0][0])
            hub = agg.hub_accounts(n_accounts, inputs.link_max_share, inputs.link_hub_min_accounts)
            con.execute(f"CREATE TEMP TABLE identifiers AS {agg.IDENTIFIERS_SQL}", {"hub_accounts": hub})
            con.execute(f"CREATE TEMP TABLE account_features AS {agg.ACCOUNT_FEATURES_SQL}")
            queries = {
                "accounts": agg.ACCOUNTS_OUT_SQL,
                "identifiers": "SELECT * FROM identifiers",
                "links": agg.LINKS_SQL,
                "labels": agg.LABELS_LATEST_SQL,
            }
            return {name: conform(name, con.sql(f"{sql} ORDER BY {', '.join(SORT_KEYS[name])}").to_arrow_table())
                    for name, sql in queries.items()}
        finally:
            con.close()


def _register_inputs(con: duckdb.DuckDBPyConnection, inputs: AggregateInput) -> None:
    for table in INPUT_TABLES:
        glob = inputs.tables.get(table)
        if glob is None:
            con.register(table, inputs.schemas[table].empty_table())
        else:
            con.read_parquet(glob, union_by_name=True).create_view(table)


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
                "SYBILGRAPH_AGGREGATOR=spark needs pyspark: pip install 'pyspark>=3.5,<3.6' "
                "(or install sybilgraph's dev extras)"
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
            return {name: read_output(run_dir / "out", name) for name in OUTPUT_SCHEMAS}
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
