"""The PySpark aggregation job, on Spark in local mode, gives the DuckDB aggregator's tables."""

from __future__ import annotations

import math
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from sybilgraph.db.admin import reset
from sybilgraph.db.digest import graph_digest
from sybilgraph.db.session import Database
from sybilgraph.ingest import ingest_bundle
from sybilgraph.ingest.aggregators import (
    PARTIAL_SCHEMAS,
    DuckDBAggregator,
    SparkAggregator,
)
from sybilgraph.ingest.pipeline import aggregate_input
from tests.ingest.staging import SEED_ACCOUNT, SEED_CARD, staged_store, tiny_and_update

pytest.importorskip("pyspark", reason="pyspark is not installed (it comes with the dev extras: pip install -e '.[dev]')")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("Spark needs a Java runtime (java on PATH or JAVA_HOME); none found", allow_module_level=True)

pytestmark = pytest.mark.slow

SPARK_MASTER = "local[2]"
# The JIT's first tier only: on a job this small, compiling hot code with C2 costs more CPU than
# it saves (measured: about half the job's time on a 2-core machine).
QUICK_JVM = {"spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1"}
SEEDS = Path(__file__).resolve().parents[2] / "seeds" / "bundle"


def _rows(table: pa.Table) -> list[tuple[Any, ...]]:
    """Rows as hashable tuples (lists become tuples), sorted: tables compared as sets of rows."""
    rows = [tuple(tuple(v) if isinstance(v, list) else v for v in r.values()) for r in table.to_pylist()]
    return sorted(rows, key=repr)


def _equal_rows(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    # Every output column is an integer, text, boolean or list of those today; the float branch
    # keeps the comparison honest if a ratio column is ever added.
    return len(a) == len(b) and all(
        math.isclose(x, y, rel_tol=1e-9) if isinstance(x, float) and isinstance(y, float) else x == y for x, y in zip(a, b)
    )


def test_spark_job_gives_the_duckdb_tables(tmp_path: Path) -> None:
    # Three bundles: the seed bundle (2,450 accounts, 468,000 interactions), TINY (offsets,
    # missing values, an account with no activity) and a later bundle that updates both.
    store, settings = staged_store(tmp_path / "home", [SEEDS, *tiny_and_update(tmp_path)])
    inputs = aggregate_input(store)
    expected = DuckDBAggregator(store.connect).aggregate(inputs)

    t0 = time.perf_counter()
    got = SparkAggregator(SPARK_MASTER, tmp_path / "spark", conf=QUICK_JVM).aggregate(inputs)
    seconds = time.perf_counter() - t0
    print(f"spark aggregation job: {seconds:.1f} s")  # visible with -s; docs/scaling.md quotes it

    for name in PARTIAL_SCHEMAS:
        assert got[name].schema.equals(PARTIAL_SCHEMAS[name]), name
        want, have = _rows(expected[name]), _rows(got[name])
        assert len(have) == len(want), name
        mismatched = [(w, h) for w, h in zip(want, have) if not _equal_rows(w, h)]
        assert not mismatched, f"{name}: {len(mismatched)} rows differ, first {mismatched[0]}"
    # The comparison is only as good as the data: the cases the translation has to get right.
    activity = {r["account_id"]: r for r in got["activity"].to_pylist()}
    assert "a5" not in activity  # no activity, no row
    assert activity["a6"]["hour_hist"][5 * 24 + 23] == 1  # Sun 3 May 00:30+01:00 is Sat 23:30 UTC
    assert activity["a6"]["days"] == [20575]  # 2026-05-02 UTC
    assert activity["a1"]["model_names"] == ["m1"] and activity["a1"]["n_api_key_requests"] == 2
    cards = {r["account_id"] for r in got["pairs"].to_pylist() if r["kind"] == "card" and r["value"] == SEED_CARD}
    assert len(cards) == 2


@pytest.mark.integration
def test_ingest_with_the_spark_aggregator_builds_the_same_graph(db: Database, tmp_path: Path) -> None:
    bundles = tiny_and_update(tmp_path / "bundles")  # the update's seed-account rows are quarantined here
    duckdb_reports = [ingest_bundle(b, db.settings, db) for b in bundles]
    expected = graph_digest(db)

    reset(db)
    settings = db.settings.model_copy(
        update={"home": tmp_path / "home-spark",
                "ingest": db.settings.ingest.model_copy(
                    update={"aggregator": "spark", "spark_master": SPARK_MASTER, "spark_conf": QUICK_JVM})}
    )
    spark_db = Database(settings, driver=db.driver)
    spark_reports = [ingest_bundle(b, settings, spark_db) for b in bundles]
    assert graph_digest(spark_db) == expected
    # The second ingest wrote only what changed, the same rows as DuckDB's: the saved graph state
    # of one engine compares equal with the other's output.
    assert spark_reports[1].graph_writes == duckdb_reports[1].graph_writes
    assert not any((settings.columnar_dir / "spark").glob("run-*"))  # the job's files are gone
