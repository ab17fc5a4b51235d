"""The heavy aggregation step as a PySpark job: the partials of ``aggregate.py``, by Spark SQL.

It reads staged Parquet (one delivery's, or any set of files) and writes one Parquet directory
per partial table (``pairs``, ``activity``) that ``aggregators.read_output`` turns into the
tables ``combine.py`` folds, unchanged::

    python -m sybilgraph.ingest.spark_aggregate --store var/columnar --out OUT --master 'local[2]'
    spark-submit --master yarn .../sybilgraph/ingest/spark_aggregate.py --inputs inputs.json --out s3a://...

``--inputs`` is an ``AggregateInput`` as JSON (the form ``SparkAggregator`` hands over); its
files may be on any file system Spark reads. pyspark is imported only when the job runs, so the
package works without it.

Translations from the DuckDB SQL, each chosen to give the same rows:

* ``histogram`` has no Spark twin: counts per (account, key) are grouped first, then turned into
  the 168-slot hour list with a map lookup, or into name-sorted category and model lists with
  ``array_sort`` over (name, count) structs.
* ``list(DISTINCT day)`` sorted is ``array_sort(collect_set(day))``; ``//`` is ``floor(/)``.
* ``isodow(ts) - 1`` is ``weekday(ts)`` (Monday = 0); ``epoch_ms`` is ``unix_millis``; hour and
  weekday are taken in UTC because the session time zone is set to UTC.
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


# Partial pairs: see aggregate.PAIRS_PARTIAL_SQL.
PAIRS_PARTIAL_SQL = """
WITH raw AS (
    SELECT account_id,
           CASE WHEN grouping(ip) = 0 THEN 'ip'
                WHEN grouping(subnet) = 0 THEN 'subnet'
                WHEN grouping(device_id) = 0 THEN 'device'
                WHEN grouping(api_key_id) = 0 THEN 'api_key'
                ELSE 'template' END AS kind,
           coalesce(ip, subnet, device_id, api_key_id, prompt_fingerprint) AS value,
           count(*) AS n, min(ts) AS first_seen, max(ts) AS last_seen
    FROM interactions
    GROUP BY GROUPING SETS ((account_id, ip), (account_id, subnet), (account_id, device_id),
                            (account_id, api_key_id), (account_id, prompt_fingerprint))
    UNION ALL
    SELECT account_id,
           CASE WHEN grouping(ip) = 0 THEN 'ip'
                WHEN grouping(subnet) = 0 THEN 'subnet'
                WHEN grouping(device_id) = 0 THEN 'device'
                WHEN grouping(tls_fingerprint) = 0 THEN 'tls'
                ELSE 'user_agent' END AS kind,
           coalesce(ip, subnet, device_id, tls_fingerprint, user_agent) AS value,
           count(*) AS n, min(ts) AS first_seen, max(ts) AS last_seen
    FROM sessions
    GROUP BY GROUPING SETS ((account_id, ip), (account_id, subnet), (account_id, device_id),
                            (account_id, tls_fingerprint), (account_id, user_agent))
    UNION ALL
    SELECT account_id,
           CASE WHEN grouping(instrument_id) = 0 THEN 'card' ELSE 'bin' END AS kind,
           coalesce(instrument_id, bin) AS value,
           count(*) AS n, min(added_at) AS first_seen, max(added_at) AS last_seen
    FROM payment_methods
    GROUP BY GROUPING SETS ((account_id, instrument_id), (account_id, bin))
)
SELECT account_id, kind, value, CAST(sum(n) AS BIGINT) AS count,
       unix_millis(min(first_seen)) AS first_seen, unix_millis(max(last_seen)) AS last_seen
FROM raw
WHERE value IS NOT NULL
GROUP BY account_id, kind, value
"""

# Partial activity: see aggregate.ACTIVITY_PARTIAL_SQL.
ACTIVITY_PARTIAL_SQL = f"""
WITH totals AS (
    SELECT account_id,
           count(*) AS n_interactions,
           coalesce(sum(input_tokens), 0L) AS input_tokens,
           coalesce(sum(output_tokens), 0L) AS output_tokens,
           unix_millis(min(ts)) AS first_interaction,
           unix_millis(max(ts)) AS last_interaction,
           count(api_key_id) AS n_api_key_requests,
           array_sort(collect_set(CAST(floor(unix_millis(ts) / {agg.MS_PER_DAY}) AS INT))) AS days
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
),
model_counts AS (
    SELECT account_id, model, count(*) AS n
    FROM interactions WHERE model IS NOT NULL GROUP BY account_id, model
),
models AS (
    SELECT account_id, array_sort(collect_list(struct(model, n))) AS models
    FROM model_counts GROUP BY account_id
),
f AS (
    SELECT t.account_id, t.n_interactions, t.input_tokens, t.output_tokens,
           t.first_interaction, t.last_interaction, t.n_api_key_requests, t.days,
           transform(sequence(0, {agg.HOURS_PER_WEEK - 1}), h -> coalesce(try_element_at(hours.how, h), 0L)) AS hour_hist,
           coalesce(transform(c.cats, x -> x.category), CAST(array() AS ARRAY<STRING>)) AS category_names,
           coalesce(transform(c.cats, x -> x.n), CAST(array() AS ARRAY<BIGINT>)) AS category_counts,
           coalesce(transform(m.models, x -> x.model), CAST(array() AS ARRAY<STRING>)) AS model_names,
           coalesce(transform(m.models, x -> x.n), CAST(array() AS ARRAY<BIGINT>)) AS model_counts
    FROM totals t
    LEFT JOIN hours ON hours.account_id = t.account_id
    LEFT JOIN cats c ON c.account_id = t.account_id
    LEFT JOIN models m ON m.account_id = t.account_id
),
s AS (SELECT account_id, count(*) AS n_sessions FROM sessions GROUP BY account_id)
SELECT coalesce(f.account_id, s.account_id) AS account_id,
       coalesce(f.n_interactions, 0L) AS n_interactions,
       coalesce(f.input_tokens, 0L) AS input_tokens,
       coalesce(f.output_tokens, 0L) AS output_tokens,
       f.first_interaction, f.last_interaction,
       coalesce(f.n_api_key_requests, 0L) AS n_api_key_requests,
       coalesce(f.hour_hist, array_repeat(0L, {agg.HOURS_PER_WEEK})) AS hour_hist,
       coalesce(f.category_names, CAST(array() AS ARRAY<STRING>)) AS category_names,
       coalesce(f.category_counts, CAST(array() AS ARRAY<BIGINT>)) AS category_counts,
       coalesce(f.model_names, CAST(array() AS ARRAY<STRING>)) AS model_names,
       coalesce(f.model_counts, CAST(array() AS ARRAY<BIGINT>)) AS model_counts,
       coalesce(f.days, CAST(array() AS ARRAY<INT>)) AS days,
       coalesce(s.n_sessions, 0L) AS n_sessions
FROM f FULL OUTER JOIN s ON f.account_id = s.account_id
"""

OUTPUT_SQL = {"pairs": PAIRS_PARTIAL_SQL, "activity": ACTIVITY_PARTIAL_SQL}

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
    """Compute both partials from ``inputs`` and write each as Parquet under ``out``/name."""
    for table in INPUT_TABLES:
        _input_frame(spark, inputs, table).createOrReplaceTempView(table)
    for name, sql in OUTPUT_SQL.items():
        t0 = time.perf_counter()
        spark.sql(sql).write.mode("overwrite").parquet(f"{out.rstrip('/')}/{name}")
        log.info("wrote %s in %.1f s", name, time.perf_counter() - t0)


def _input_frame(spark: SparkSession, inputs: AggregateInput, table: str) -> DataFrame:
    files = inputs.tables.get(table)
    schema = inputs.schemas[table]
    if files:
        return spark.read.option("mergeSchema", "true").parquet(*files)
    # No bundle has this table: an empty frame of its staged schema, built in the JVM (no
    # Python worker needed).
    from pyspark.sql import functions as F

    columns = [F.lit(None).cast(spark_type(f.type)).alias(f.name) for f in schema]
    return spark.range(0).select(*columns)


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
    source.add_argument("--store", help="a columnar store directory ($SYBILGRAPH_HOME/columnar): "
                        "the partials of every bundle in it, together")
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

    return aggregate_input(ColumnarStore(Path(args.store)))


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
