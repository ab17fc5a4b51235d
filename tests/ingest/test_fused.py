"""The fused pass: partials from the validated batches equal those of the staged Parquet."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sybilgraph.ingest.plan import staged_schema
from sybilgraph.generate import generate_bundle
from sybilgraph.ingest import pipeline
from sybilgraph.ingest.aggregators import INPUT_TABLES, PARTIAL_SCHEMAS, DuckDBAggregator, in_key_order
from sybilgraph.ingest.bundle import open_bundle
from sybilgraph.ingest.columnar import ColumnarStore
from sybilgraph.ingest.fused import FusedPartials
from sybilgraph.progress import NullReporter
from sybilgraph.settings import Settings
from tests.bundles import TINY, write_bundle


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fused") / "bundle"
    generate_bundle(out, scale=0.002, seed=5)
    return out


def _stage(home: Path, bundle: Path, max_rows: int):
    settings = Settings(home=home)
    settings.ingest.fused_max_rows = max_rows
    store = ColumnarStore(settings.columnar_dir)
    found = open_bundle(bundle)
    report = pipeline.stage_delivery(found, store, settings, NullReporter(), store.delivery(found.bundle_id), {})
    delivery = store.entries()[-1]
    partials = {name: in_key_order(name, pq.read_table(store.partial_dir(delivery) / f"{name}.parquet"))
                for name in PARTIAL_SCHEMAS}
    return report, partials, store


def test_fused_partials_equal_the_staged_ones(tmp_path: Path, generated: Path) -> None:
    fused_report, fused, store = _stage(tmp_path / "fused", generated, 1_000_000)
    staged_report, staged, _ = _stage(tmp_path / "staged", generated, 0)
    assert fused_report.partials_from == "fused" and staged_report.partials_from == "staged"
    for name in PARTIAL_SCHEMAS:
        assert fused[name].schema.equals(PARTIAL_SCHEMAS[name])
        assert fused[name].num_rows and fused[name].equals(staged[name]), name
    # The same SQL over the staged files of the delivery: what refresh_partials would compute.
    inputs = pipeline.aggregate_input(store)
    assert all(inputs.tables[t] for t in INPUT_TABLES)
    again = DuckDBAggregator(store.connect).aggregate(inputs)
    for name in PARTIAL_SCHEMAS:
        assert in_key_order(name, again[name]).equals(fused[name]), name


def test_a_delivery_over_the_cap_aggregates_its_staged_rows(tmp_path: Path, generated: Path) -> None:
    report, partials, _ = _stage(tmp_path / "capped", generated, 997)
    _, fused, _ = _stage(tmp_path / "fused", generated, 1_000_000)
    assert report.partials_from == "staged"
    assert all(partials[name].equals(fused[name]) for name in PARTIAL_SCHEMAS)


def test_repeated_ids_fall_back_to_the_staged_rows(tmp_path: Path) -> None:
    rows = [dict(TINY["interactions"][0], interaction_id="same") for _ in range(3)]
    bundle = write_bundle(tmp_path / "b", {"accounts": TINY["accounts"], "interactions": rows})
    report, partials, _ = _stage(tmp_path / "home", bundle, 1_000_000)
    assert report.partials_from == "staged" and report.rows_repeated == {"interactions": 2}
    account = TINY["interactions"][0]["account_id"]
    activity = {r["account_id"]: r for r in partials["activity"].to_pylist()}
    assert activity[account]["n_interactions"] == 1  # counted once, as the contract says


def _batch(table: str, accounts: list[str]) -> pa.RecordBatch:
    schema = staged_schema(table)
    return pa.RecordBatch.from_pylist([{"account_id": a, "ts": 0} for a in accounts], schema=schema)


def _fused(max_rows: int) -> FusedPartials:
    return FusedPartials(duckdb.connect, {t: staged_schema(t) for t in INPUT_TABLES}, max_rows)


def test_a_table_that_failed_leaves_the_fused_rows() -> None:
    fused = _fused(100)
    fused.add("sessions", _batch("sessions", ["s1"]))
    fused.add("interactions", _batch("interactions", ["a1", "a2", "a3"]))
    fused.failed("interactions")
    out = fused.result()
    assert out is not None
    assert out["activity"].column("account_id").to_pylist() == ["s1"]
    assert out["activity"].column("n_interactions").to_pylist() == [0]


def test_over_the_cap_there_is_no_fused_result() -> None:
    fused = _fused(2)
    fused.add("interactions", _batch("interactions", ["a1", "a2", "a3"]))
    assert fused.result() is None and "fused_max_rows" in (fused.why or "")
