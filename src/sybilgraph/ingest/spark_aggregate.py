"""The aggregation step as a PySpark job: the tables of ``aggregate.py``, computed by Spark SQL.

It reads the columnar store's staged Parquet (every committed bundle) and writes one Parquet
directory per output table (``accounts``, ``identifiers``, ``links``, ``labels``) that
``aggregators.read_output`` turns into the tables the graph writer consumes, unchanged::

    python -m sybilgraph.ingest.spark_aggregate --store var/columnar --out OUT --master 'local[2]'
    spark-submit --master yarn .../sybilgraph/ingest/spark_aggregate.py --inputs inputs.json --out s3a://...

``--inputs`` is an ``AggregateInput`` as JSON (the form ``SparkAggregator`` hands over); its
globs may name any file system Spark reads. pyspark is imported only when the job runs, so the
package works without it.

Translations from the DuckDB SQL, each chosen to give the same rows:

* ``arg_max(x, seq)`` skips rows whose ``x`` is NULL (an older non-NULL value wins over a newer
  NULL); Spark's ``max_by`` does not, so the order is NULL wherever ``x`` is:
  ``max_by(x, IF(x IS NULL, NULL, seq))``.
* ``histogram`` has no Spark twin: counts per (account, key) are grouped first, then turned into
  the 168-slot hour list with a map lookup, or into name-sorted category lists with
  ``array_sort`` over (name, count) structs.
* ``isodow(ts) - 1`` is ``weekday(ts)`` (Monday = 0); ``epoch_ms`` is ``unix_millis``; hour and
  weekday are taken in UTC because the session time zone is set to UTC.
* ``count(*) FILTER (WHERE ...)`` is ``count_if``; ``SEMI JOIN`` is ``LEFT SEMI JOIN``;
  ``GROUP BY ALL`` names its columns.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from sybilgraph.ingest import aggregate as agg
from sybilgraph.ingest.aggregators import INPUT_TABLES, AggregateInput

if TYPE_CHECKING:  # pyspark is optional: only the job itself imports it
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["build_session", "main", "run_job", "spark_type"]

log = logging.getLogger("sybilgraph.ingest.spark")


def _latest(column: str, seq: str = "_ingest_seq") -> str:
    return f"max_by({column}, IF({column} IS NULL, NULL, {seq})) AS {column}"


ACCOUNTS_LATEST_SQL = f"""
SELECT account_id,
       {_latest("created_at")}, {_latest("email_domain")}, {_latest("country")},
       {_latest("signup_ip")}, {_latest("signup_subnet")}, {_latest("status")}
FROM accounts
GROUP BY account_id
"""

PAIRS_SQL = """
WITH raw AS (
    SELECT account_id,
           CASE WHEN grouping(ip) = 0 THEN 'ip'
                WHEN grouping(subnet) = 0 THEN 'subnet'
                WHEN grouping(device_id) = 0 THEN 'device'
                ELSE 'template' END AS kind,
           coalesce(ip, subnet, device_id, prompt_fingerprint) AS value,
           count(*) AS n, min(ts) AS first_seen, max(ts) AS last_seen
    FROM interactions
    GROUP BY GROUPING SETS ((account_id, ip), (account_id, subnet),
                            (account_id, device_id), (account_id, prompt_fingerprint))
    UNION ALL
    SELECT account_id,
           CASE WHEN grouping(ip) = 0 THEN 'ip'
                WHEN grouping(subnet) = 0 THEN 'subnet'
                WHEN grouping(device_id) = 0 THEN 'device'
                ELSE 'tls' END AS kind,
           coalesce(ip, subnet, device_id, tls_fingerprint) AS value,
           count(*) AS n, min(ts) AS first_seen, max(ts) AS last_seen
    FROM sessions
    GROUP BY GROUPING SETS ((account_id, ip), (account_id, subnet),
                            (account_id, device_id), (account_id, tls_fingerprint))
    UNION ALL
    SELECT account_id, 'card', instrument_id, count(*), min(added_at), max(added_at)
    FROM payment_methods GROUP BY account_id, instrument_id
    UNION ALL
    SELECT account_id, 'ip', signup_ip, 1L, created_at, created_at
    FROM accounts_latest WHERE signup_ip IS NOT NULL
    UNION ALL
    SELECT account_id, 'subnet', signup_subnet, 1L, created_at, created_at
    FROM accounts_latest WHERE signup_subnet IS NOT NULL
    UNION ALL
    SELECT account_id, 'email_domain', email_domain, 1L, created_at, created_at
    FROM accounts_latest WHERE email_domain IS NOT NULL
)
SELECT account_id, kind, value, CAST(sum(n) AS BIGINT) AS count,
       min(first_seen) AS first_seen, max(last_seen) AS last_seen
FROM raw
WHERE value IS NOT NULL
GROUP BY account_id, kind, value
"""

# Hubs: see aggregate.IDENTIFIERS_SQL. ``:hub_accounts`` is a Spark named parameter.
IDENTIFIERS_SQL = f"""
WITH ident AS (
    SELECT kind, value, count(*) AS n_accounts
    FROM pairs GROUP BY kind, value
    HAVING count(*) >= {agg.MIN_ACCOUNTS_FOR_LINK}
),
cards AS (
    SELECT instrument_id AS value,
           {_latest("bin")}, {_latest("last4")}, {_latest("issuer_country")}
    FROM payment_methods GROUP BY instrument_id
)
SELECT i.kind, i.value, i.n_accounts, i.n_accounts > :hub_accounts AS hub,
       c.bin, c.last4, c.issuer_country
FROM ident i LEFT JOIN cards c ON i.kind = 'card' AND c.value = i.value
"""

LINKS_SQL = """
SELECT p.account_id, p.kind, p.value, p.count,
       unix_millis(p.first_seen) AS first_seen, unix_millis(p.last_seen) AS last_seen
FROM pairs p LEFT SEMI JOIN identifiers i ON p.kind = i.kind AND p.value = i.value AND NOT i.hub
"""

ACCOUNT_FEATURES_SQL = f"""
WITH totals AS (
    SELECT account_id,
           count(*) AS n_interactions,
           coalesce(sum(input_tokens), 0L) AS input_tokens,
           coalesce(sum(output_tokens), 0L) AS output_tokens,
           min(ts) AS first_interaction,
           max(ts) AS last_interaction
    FROM interactions GROUP BY account_id
),
hour_counts AS (
    SELECT account_id, weekday(ts) * 24 + hour(ts) AS how, count(*) AS n
    FROM interactions WHERE ts IS NOT NULL GROUP BY account_id, weekday(ts) * 24 + hour(ts)
),
hours AS (
    SELECT account_id, map_from_entries(collect_list(struct(how, n))) AS how
    FROM hour_counts GROUP BY account_id
),
category_counts AS (
    SELECT account_id, category, count(*) AS n
    FROM interactions WHERE category IS NOT NULL GROUP BY account_id, category
),
cats AS (
    SELECT account_id, array_sort(collect_list(struct(category, n))) AS cats
    FROM category_counts GROUP BY account_id
)
SELECT t.account_id, t.n_interactions, t.input_tokens, t.output_tokens,
       t.first_interaction, t.last_interaction,
       transform(sequence(0, {agg.HOURS_PER_WEEK - 1}), h -> coalesce(try_element_at(hours.how, h), 0L)) AS hour_hist,
       coalesce(transform(c.cats, x -> x.category), CAST(array() AS ARRAY<STRING>)) AS category_names,
       coalesce(transform(c.cats, x -> x.n), CAST(array() AS ARRAY<BIGINT>)) AS category_counts
FROM totals t
LEFT JOIN hours ON hours.account_id = t.account_id
LEFT JOIN cats c ON c.account_id = t.account_id
"""

ACCOUNTS_OUT_SQL = f"""
WITH per_kind AS (
    SELECT account_id,
           count_if(kind = 'ip') AS n_ips,
           count_if(kind = 'device') AS n_devices,
           count_if(kind = 'template') AS n_templates,
           count_if(kind = 'tls') AS n_tls,
           count_if(kind = 'card') AS n_cards
    FROM pairs GROUP BY account_id
),
sess AS (SELECT account_id, count(*) AS n_sessions FROM sessions GROUP BY account_id)
SELECT a.account_id, unix_millis(a.created_at) AS created_at, a.email_domain, a.country,
       a.signup_ip, a.status,
       coalesce(f.n_interactions, 0L) AS n_interactions,
       coalesce(f.input_tokens, 0L) AS input_tokens,
       coalesce(f.output_tokens, 0L) AS output_tokens,
       unix_millis(f.first_interaction) AS first_interaction,
       unix_millis(f.last_interaction) AS last_interaction,
       coalesce(f.hour_hist, array_repeat(0L, {agg.HOURS_PER_WEEK})) AS hour_hist,
       coalesce(f.category_names, CAST(array() AS ARRAY<STRING>)) AS category_names,
       coalesce(f.category_counts, CAST(array() AS ARRAY<BIGINT>)) AS category_counts,
       coalesce(s.n_sessions, 0L) AS n_sessions,
       coalesce(k.n_ips, 0L) AS n_ips, coalesce(k.n_devices, 0L) AS n_devices,
       coalesce(k.n_templates, 0L) AS n_templates, coalesce(k.n_tls, 0L) AS n_tls,
       coalesce(k.n_cards, 0L) AS n_cards
FROM accounts_latest a
LEFT JOIN account_features f ON f.account_id = a.account_id
LEFT JOIN per_kind k ON k.account_id = a.account_id
LEFT JOIN sess s ON s.account_id = a.account_id
"""

LABELS_LATEST_SQL = f"""
SELECT account_id, operator_label, {_latest("source")}
FROM labels GROUP BY account_id, operator_label
"""

OUTPUT_SQL = {
    "accounts": ACCOUNTS_OUT_SQL,
    "identifiers": "SELECT * FROM identifiers",
    "links": LINKS_SQL,
    "labels": LABELS_LATEST_SQL,
}

_SPARK_TYPES = {
    pa.string(): "STRING",
    pa.large_string(): "STRING",
    pa.int64(): "BIGINT",
    pa.int32(): "INT",
    pa.float64(): "DOUBLE",
    pa.bool_(): "BOOLEAN",
}


def spark_type(arrow_type: pa.DataType) -> str:
    """The Spark SQL type a staged column of ``arrow_type`` reads as."""
    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMP"  # staged timestamps are UTC instants, Spark's TIMESTAMP too
    try:
        return _SPARK_TYPES[arrow_type]
    except KeyError:
        raise ValueError(f"no Spark type for staged column type {arrow_type}") from None


# -- the job ----------------------------------------------------------------------------------------
def run_job(spark: SparkSession, inputs: AggregateInput, out: str) -> None:
    """Compute every output table from ``inputs`` and write each as Parquet under ``out``/name."""
    for table in INPUT_TABLES:
        _input_frame(spark, inputs, table).createOrReplaceTempView(table)
    # Reused by several outputs; persisted so interactions are scanned once, as DuckDB's temp
    # tables do.
    latest = _persisted(spark, "accounts_latest", ACCOUNTS_LATEST_SQL)
    pairs = _persisted(spark, "pairs", PAIRS_SQL)
    hub = agg.hub_accounts(latest.count(), inputs.link_max_share, inputs.link_hub_min_accounts)
    identifiers = _persisted(spark, "identifiers", IDENTIFIERS_SQL, hub_accounts=hub)
    spark.sql(ACCOUNT_FEATURES_SQL).createOrReplaceTempView("account_features")
    for name, sql in OUTPUT_SQL.items():
        t0 = time.perf_counter()
        spark.sql(sql).write.mode("overwrite").parquet(f"{out.rstrip('/')}/{name}")
        log.info("wrote %s in %.1f s", name, time.perf_counter() - t0)
    for frame in (identifiers, pairs, latest):
        frame.unpersist()


def _input_frame(spark: SparkSession, inputs: AggregateInput, table: str) -> DataFrame:
    glob = inputs.tables.get(table)
    schema = inputs.schemas[table]
    if glob is not None:
        return spark.read.option("mergeSchema", "true").parquet(glob)
    # No bundle has this table: an empty frame of its staged schema, built in the JVM (no
    # Python worker needed).
    from pyspark.sql import functions as F

    columns = [F.lit(None).cast(spark_type(f.type)).alias(f.name) for f in schema]
    return spark.range(0).select(*columns)


def _persisted(spark: SparkSession, view: str, sql: str, **params: object) -> DataFrame:
    frame = spark.sql(sql, args=params or None).persist()
    frame.createOrReplaceTempView(view)
    return frame


def build_session(
    master: str | None,
    local_dir: str | None = None,
    shuffle_partitions: int | None = None,
    conf: Sequence[tuple[str, str]] = (),
) -> SparkSession:
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("sybilgraph-aggregate")
    # hour() and weekday() follow the session time zone; the graph's hour-of-week is UTC.
    builder = builder.config("spark.sql.session.timeZone", "UTC")
    if master:
        builder = builder.master(master)
    if master and master.startswith("local"):
        # One machine: listen on loopback only, no web UI or console progress bar, few shuffle
        # partitions (the default 200 is sized for clusters and costs seconds of task overhead
        # on small data).
        builder = (builder.config("spark.driver.host", "127.0.0.1")
                   .config("spark.driver.bindAddress", "127.0.0.1")
                   .config("spark.ui.enabled", "false")
                   .config("spark.ui.showConsoleProgress", "false")
                   .config("spark.sql.shuffle.partitions", str(shuffle_partitions or 4)))
    elif shuffle_partitions:
        builder = builder.config("spark.sql.shuffle.partitions", str(shuffle_partitions))
    if local_dir:
        Path(local_dir).mkdir(parents=True, exist_ok=True)
        builder = builder.config("spark.local.dir", local_dir)
    for key, value in conf:
        builder = builder.config(key, value)
    return builder.getOrCreate()


# -- command line ---------------------------------------------------------------------------------
def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m sybilgraph.ingest.spark_aggregate", description=__doc__.splitlines()[0])
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--inputs", help="an AggregateInput as JSON (what SparkAggregator writes)")
    source.add_argument("--store", help="a columnar store directory ($SYBILGRAPH_HOME/columnar); "
                        "hub settings come from SYBILGRAPH_* as for ingest")
    p.add_argument("--out", required=True, help="directory (any Spark file system) for <table>/part-*.parquet")
    p.add_argument("--master", help="Spark master, e.g. local[2]; omit under spark-submit")
    p.add_argument("--local-dir", help="spark.local.dir: shuffle and spill files")
    p.add_argument("--shuffle-partitions", type=int)
    p.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE", help="any Spark setting (repeatable)")
    return p.parse_args(argv)


def _load_inputs(args: argparse.Namespace) -> AggregateInput:
    if args.inputs:
        return AggregateInput.from_json(Path(args.inputs).read_text())
    from sybilgraph.ingest.columnar import ColumnarStore
    from sybilgraph.ingest.pipeline import aggregate_input
    from sybilgraph.settings import Settings

    return aggregate_input(ColumnarStore(Path(args.store)), Settings())


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = _parse_args(argv)
    inputs = _load_inputs(args)
    conf = [tuple(c.split("=", 1)) for c in args.conf]
    if any(len(c) != 2 for c in conf):
        print("--conf takes KEY=VALUE", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    spark = build_session(args.master, args.local_dir, args.shuffle_partitions, conf)  # type: ignore[arg-type]
    try:
        run_job(spark, inputs, args.out)
    finally:
        spark.stop()
    log.info("aggregation job done in %.1f s", time.perf_counter() - t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
