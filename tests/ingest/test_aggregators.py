"""The aggregation interface: inputs, fixed output schemas, the DuckDB default, engine selection."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sybilgraph.errors import ConfigError
from sybilgraph.ingest import aggregators
from sybilgraph.ingest.aggregators import (
    OUTPUT_SCHEMAS,
    SORT_KEYS,
    AggregateInput,
    AggregationError,
    DuckDBAggregator,
    SparkAggregator,
    make_aggregator,
    read_output,
)
from sybilgraph.ingest.pipeline import aggregate_input
from sybilgraph.ingest.spark_aggregate import spark_type
from tests.ingest.staging import staged_store, tiny_and_update


@pytest.fixture()
def tiny_store(tmp_path: Path):
    return staged_store(tmp_path / "home", tiny_and_update(tmp_path))


def test_input_survives_json_for_a_job_in_another_process(tiny_store) -> None:
    store, settings = tiny_store
    inputs = aggregate_input(store, settings)
    back = AggregateInput.from_json(inputs.to_json())
    assert back == inputs
    assert back.tables["interactions"].endswith("*/interactions/*.parquet")


def test_a_table_no_bundle_has_is_none(tmp_path: Path) -> None:
    from tests.bundles import TINY, write_bundle

    only_accounts = write_bundle(tmp_path / "b", {"accounts": TINY["accounts"]})
    store, settings = staged_store(tmp_path / "home", [only_accounts])
    inputs = aggregate_input(store, settings)
    assert inputs.tables["accounts"] is not None and inputs.tables["interactions"] is None
    out = DuckDBAggregator(store.connect).aggregate(inputs)
    assert out["accounts"].num_rows == 5 and out["links"].num_rows == 6  # a1, a2: signup IP, its subnet, email domain
    assert out["accounts"]["hour_hist"].to_pylist()[0] == [0] * 168


def test_duckdb_outputs_have_the_fixed_schemas_and_order(tiny_store) -> None:
    store, settings = tiny_store
    out = DuckDBAggregator(store.connect).aggregate(aggregate_input(store, settings))
    assert set(out) == set(OUTPUT_SCHEMAS)
    for name, table in out.items():
        assert table.schema.equals(OUTPUT_SCHEMAS[name]), name
        keys = [tuple(r[k] for k in SORT_KEYS[name]) for r in table.select(list(SORT_KEYS[name])).to_pylist()]
        assert keys == sorted(keys), name
    accounts = {r["account_id"]: r for r in out["accounts"].to_pylist()}
    assert accounts["a1"]["status"] == "active" and accounts["a6"]["category_names"] == []
    labels = {(r["account_id"], r["operator_label"]): r["source"] for r in out["labels"].to_pylist()}
    assert labels[("a6", "OP-TEST")] == "later"


def test_read_output_conforms_types_and_sorts(tmp_path: Path) -> None:
    # What an engine like Spark writes: other list child names, rows in any order.
    written = pa.table({
        "value": ["b", "a"], "kind": ["ip", "ip"], "n_accounts": [2, 3], "hub": [False, True],
        "bin": pa.array([None, None], pa.string()), "last4": pa.array([None, None], pa.string()),
        "issuer_country": pa.array([None, None], pa.string()),
    })
    (tmp_path / "identifiers").mkdir()
    pq.write_table(written, tmp_path / "identifiers" / "part-0.parquet")
    table = read_output(tmp_path, "identifiers")
    assert table.schema.equals(OUTPUT_SCHEMAS["identifiers"])
    assert table["value"].to_pylist() == ["a", "b"]
    (tmp_path / "links").mkdir()
    assert read_output(tmp_path, "links").schema.equals(OUTPUT_SCHEMAS["links"])  # no part for no rows


def test_aggregator_is_chosen_by_setting(tmp_path: Path) -> None:
    connect = lambda: None
    assert make_aggregator("duckdb", connect, spark_master="local[2]", work_dir=tmp_path).name == "duckdb"  # type: ignore[arg-type]
    spark = make_aggregator("spark", connect, spark_master="local[2]", work_dir=tmp_path)  # type: ignore[arg-type]
    assert isinstance(spark, SparkAggregator) and "--master" in spark.command(tmp_path / "i.json", tmp_path / "o", tmp_path / "l")
    with pytest.raises(ConfigError):
        make_aggregator("polars", connect, spark_master="local[2]", work_dir=tmp_path)  # type: ignore[arg-type]


def test_settings_name_the_aggregator(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from sybilgraph.settings import Settings

    monkeypatch.setenv("SYBILGRAPH_AGGREGATOR", "spark")
    assert Settings().aggregator == "spark"
    monkeypatch.setenv("SYBILGRAPH_AGGREGATOR", "pandas")
    with pytest.raises(ValidationError):
        Settings()


def test_spark_aggregator_without_pyspark_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aggregators.importlib.util, "find_spec", lambda name: None)
    inputs = AggregateInput(tables={}, schemas={}, link_max_share=0.05, link_hub_min_accounts=50)
    with pytest.raises(AggregationError, match="pip install"):
        SparkAggregator("local[2]", tmp_path).aggregate(inputs)


def test_staged_types_map_to_spark_types() -> None:
    assert spark_type(pa.timestamp("ms", tz="UTC")) == "TIMESTAMP"
    assert spark_type(pa.int64()) == "BIGINT" and spark_type(pa.string()) == "STRING"
    with pytest.raises(ValueError):
        spark_type(pa.list_(pa.int64()))
