"""The aggregation interface: partial inputs and schemas, combining partials, engine selection."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sybilgraph.errors import ConfigError
from sybilgraph.ingest import aggregators
from sybilgraph.ingest.aggregators import (
    PARTIAL_SCHEMAS,
    PARTIAL_SORT_KEYS,
    AggregateInput,
    AggregationError,
    DuckDBAggregator,
    SparkAggregator,
    make_aggregator,
    hour_histograms,
    read_output,
)
from sybilgraph.ingest.combine import combine
from sybilgraph.ingest.pipeline import aggregate_input, combine_input
from sybilgraph.ingest.spark_aggregate import spark_type
from sybilgraph.ingest.state import SORT_KEYS, STATE_SCHEMAS
from tests.bundles import ENRICHMENT, TINY, write_bundle
from tests.ingest.staging import combined, staged_store, tiny_and_update


@pytest.fixture()
def tiny_store(tmp_path: Path):
    return staged_store(tmp_path / "home", tiny_and_update(tmp_path))


def test_input_survives_json_for_a_job_in_another_process(tiny_store) -> None:
    store, _ = tiny_store
    inputs = aggregate_input(store)
    back = AggregateInput.from_json(inputs.to_json())
    assert back == inputs
    assert len(back.tables["interactions"] or []) == 2  # one file per bundle
    assert all(f.endswith(".parquet") for f in back.tables["interactions"] or [])


def test_a_table_no_bundle_has_is_none(tmp_path: Path) -> None:
    only_accounts = write_bundle(tmp_path / "b", {"accounts": TINY["accounts"]})
    store, settings = staged_store(tmp_path / "home", [only_accounts])
    inputs = aggregate_input(store)
    assert inputs.tables["interactions"] is None
    out = DuckDBAggregator(store.connect).aggregate(inputs)
    assert out["pairs"].num_rows == 0 and out["activity"].num_rows == 0
    state = combined(store, settings)
    assert state["accounts"].num_rows == 5 and state["links"].num_rows == 6  # a1, a2: signup IP, its subnet, email domain
    assert state["accounts"]["hour_hist"].to_pylist()[0] == [0] * 168


def test_partials_have_the_fixed_schemas_and_keys(tiny_store) -> None:
    store, _ = tiny_store
    out = DuckDBAggregator(store.connect).aggregate(aggregate_input(store))
    assert set(out) == set(PARTIAL_SCHEMAS)
    for name, table in out.items():
        assert table.schema.equals(PARTIAL_SCHEMAS[name]), name
        keys = [tuple(r[k] for k in PARTIAL_SORT_KEYS[name]) for r in table.select(list(PARTIAL_SORT_KEYS[name])).to_pylist()]
        assert len(set(keys)) == len(keys), name  # one row per key
        if name == "activity":
            assert keys == sorted(keys), name  # pairs come in no particular order (duckdb_partials)
    kinds = set(out["pairs"]["kind"].to_pylist())
    assert {"ip", "subnet", "device", "template", "api_key", "tls", "user_agent", "card", "bin"} <= kinds


def test_state_tables_have_the_fixed_schemas_and_order(tiny_store) -> None:
    store, settings = tiny_store
    out = combined(store, settings)
    assert set(out) == set(STATE_SCHEMAS)
    for name, table in out.items():
        assert table.schema.equals(STATE_SCHEMAS[name]), name
        keys = [tuple(r[k] for k in SORT_KEYS[name]) for r in table.select(list(SORT_KEYS[name])).to_pylist()]
        assert keys == sorted(keys), name
    accounts = {r["account_id"]: r for r in out["accounts"].to_pylist()}
    assert accounts["a1"]["status"] == "active" and accounts["a6"]["category_names"] == []
    labels = {(r["account_id"], r["operator_label"]): r["source"] for r in out["labels"].to_pylist()}
    assert labels[("a6", "OP-TEST")] == "later"


def test_partials_of_two_bundles_combine_to_the_partial_of_both(tmp_path: Path) -> None:
    # TINY's interactions and sessions split over two bundles (the second updating nothing else):
    # the folded activity equals that of one bundle holding everything.
    first = {**TINY, "interactions": TINY["interactions"][:3], "sessions": TINY["sessions"][:1]}
    second = {"accounts": TINY["accounts"], "interactions": TINY["interactions"][1:], "sessions": TINY["sessions"][1:]}
    whole = {**TINY, "interactions": TINY["interactions"] + TINY["interactions"][1:3]}
    split_store, settings = staged_store(tmp_path / "split", [write_bundle(tmp_path / "1", first), write_bundle(tmp_path / "2", second)])
    one_store, _ = staged_store(tmp_path / "one", [write_bundle(tmp_path / "w", whole)])
    split, one = combined(split_store, settings), combined(one_store, settings)
    for name in ("accounts", "account_identifiers", "identifiers", "links"):
        assert split[name].equals(one[name]), name
    a1 = {r["account_id"]: r for r in split["accounts"].to_pylist()}["a1"]
    assert a1["n_interactions"] == 3 and sum(a1["hour_hist"]) == 3 and a1["active_days"] == 1


def test_enrichment_owner_of_each_ip_and_network_kinds(tmp_path: Path) -> None:
    store, settings = staged_store(tmp_path / "home", [write_bundle(tmp_path / "b", {**TINY, **ENRICHMENT})])
    out = combined(store, settings)
    nets = {r["ip"]: (r["cidr"], r["owner"], r["net_kind"]) for r in out["ip_networks"].to_pylist()}
    assert nets["10.0.0.1"] == ("10.0.0.0/24", "Cloudy Hosting", "datacenter")  # the nested /24 wins
    assert nets["192.0.2.9"] == ("192.0.2.0/24", "Tunnel VPN", "vpn")
    assert nets["2001:db8:1::7"] == ("2001:db8::/32", "org-uni", "education")
    ip = {r["value"]: r for r in out["identifiers"].to_pylist() if r["kind"] == "ip"}
    assert (ip["10.0.0.1"]["owner"], ip["10.0.0.1"]["asn"], ip["10.0.0.1"]["net_kind"]) == ("Cloudy Hosting", 64501, "datacenter")
    owners = {(r["account_id"], r["value"]): r["count"] for r in out["account_identifiers"].to_pylist() if r["kind"] == "network_owner"}
    # a1: session + two interactions + signup on 10.0.0.1; a2: session + signup on it, one interaction on 10.0.0.2
    assert owners[("a1", "Cloudy Hosting")] == 4 and owners[("a2", "Cloudy Hosting")] == 3
    assert owners[("a4", "Tunnel VPN")] == 2 and owners[("a3", "org-uni")] == 2
    links = {(r["account_id"], r["kind"], r["value"]) for r in out["links"].to_pylist()}
    assert ("a1", "network_owner", "Cloudy Hosting") in links  # shared with a2: a link
    assert ("a4", "network_owner", "Tunnel VPN") not in links  # one account only
    accounts = {r["account_id"]: r for r in out["accounts"].to_pylist()}
    assert accounts["a1"]["n_datacenter"] == 4 and accounts["a4"]["n_vpn"] == 2 and accounts["a3"]["n_education"] == 2
    assert accounts["a1"]["model_names"] == ["m1"] and accounts["a1"]["model_counts"] == [2]
    assert accounts["a1"]["n_api_key_requests"] == 2 and accounts["a1"]["active_days"] == 1
    orgs = {r["org_id"]: r for r in out["organisations"].to_pylist()}
    assert orgs["org-acme"]["domains"] == ["acme.test", "example.com"] and orgs["org-acme"]["kind"] == "ai_lab"
    # Every identifier an account used, those of one account included.
    mine = {(r["kind"], r["value"]) for r in out["account_identifiers"].to_pylist() if r["account_id"] == "a3"}
    assert ("card", "tok_alone") in mine and ("api_key", "k_a3") in mine


def test_read_output_conforms_types_and_sorts(tmp_path: Path) -> None:
    # What an engine like Spark writes: other list child names, rows in any order.
    written = pa.table({
        "value": ["b", "a"], "kind": ["ip", "ip"], "account_id": ["x", "x"], "count": [2, 3],
        "first_seen": [1, 2], "last_seen": [3, 4],
    })
    (tmp_path / "pairs").mkdir()
    pq.write_table(written, tmp_path / "pairs" / "part-0.parquet")
    table = read_output(tmp_path, "pairs")
    assert table.schema.equals(PARTIAL_SCHEMAS["pairs"])
    assert table["value"].to_pylist() == ["a", "b"]
    (tmp_path / "activity").mkdir()
    assert read_output(tmp_path, "activity").schema.equals(PARTIAL_SCHEMAS["activity"])  # no part for no rows


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
    assert Settings().ingest.aggregator == "spark"
    monkeypatch.setenv("SYBILGRAPH_AGGREGATOR", "pandas")
    with pytest.raises(ValidationError):
        Settings()


def test_spark_aggregator_without_pyspark_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aggregators.importlib.util, "find_spec", lambda name: None)
    inputs = AggregateInput(tables={}, schemas={})
    with pytest.raises(AggregationError, match="pip install"):
        SparkAggregator("local[2]", tmp_path).aggregate(inputs)


def test_staged_types_map_to_spark_types() -> None:
    assert spark_type(pa.timestamp("ms", tz="UTC")) == "TIMESTAMP"
    assert spark_type(pa.int64()) == "BIGINT" and spark_type(pa.string()) == "STRING"
    with pytest.raises(ValueError):
        spark_type(pa.list_(pa.int64()))


def test_combine_input_names_every_bundle(tiny_store) -> None:
    store, settings = tiny_store
    inputs = combine_input(store, settings)
    assert len(inputs.partials["pairs"]) == 2 and len(inputs.staged["accounts"]) == 2
    with store.connect() as con:
        assert combine(con, inputs)["accounts"].num_rows == 7


def test_hour_histograms_lay_the_counts_out_per_account() -> None:
    hours = pa.table({"account_id": ["a", "a", "c", "c", "b"], "hour": pa.array([0, 167, 5, 5, -1], pa.int32()),
                      "n": pa.array([2, 1, 3, 4, 9], pa.int64())})
    got = hour_histograms(pa.array(["a", "b", "c"]), hours).to_pylist()
    assert got[0] == [2] + [0] * 166 + [1]
    assert got[1] == [0] * 168  # its only hour was out of range: counted nowhere, as before
    assert got[2][5] == 7 and sum(got[2]) == 7
    assert hour_histograms(pa.array([], pa.string()), hours.slice(0, 0)).to_pylist() == []
    with pytest.raises(ValueError, match="does not hold"):
        hour_histograms(pa.array(["a"]), hours)
