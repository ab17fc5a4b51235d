"""The live deliveries as a platform engineer sees them (``sybilgraph deliveries``), from the store alone."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from sybilgraph.cli import app as cli
from sybilgraph.ingest.bundle import open_bundle
from sybilgraph.ingest.columnar import ColumnarStore, Delivery
from sybilgraph.ingest.inventory import live_deliveries
from sybilgraph.ingest.report import IngestReport, TableReport


def _stage(store: ColumnarStore, bundle_id: str, tables: dict[str, int], suppressed_by: tuple[int, ...] = (),
           source: str | None = None) -> Delivery:
    """Commit a delivery whose staged tables hold ``tables`` rows (one column is enough for footers)."""
    seq = store.allocate_seq()
    ingest_id = Delivery.key(seq)
    staging = store.staging(ingest_id)
    for table, n in tables.items():
        (staging / table).mkdir()
        pq.write_table(pa.table({"account_id": [f"a{i}" for i in range(n)]}), staging / table / "part-00000.parquet")
    delivery = Delivery(bundle_id=bundle_id, seq=seq, ingest_id=ingest_id, digest=f"digest-{seq}", bundle=f"/in/{bundle_id}",
                        suppressed_by=suppressed_by, source=source, produced_at="2026-11-30T08:00:00Z" if source else None)
    store.commit(delivery)
    return delivery


def _report(runs_dir: Path, delivery: Delivery, quarantined: int) -> None:
    report = IngestReport(ingest_id=delivery.ingest_id, bundle=delivery.bundle, seq=delivery.seq, bundle_id=delivery.bundle_id,
                          tables={"accounts": TableReport(table="accounts", rows_read=3 + quarantined, rows_loaded=3,
                                                          rows_quarantined=quarantined)})
    report.write(runs_dir / "ingest" / delivery.ingest_id / "report.json")


def test_live_deliveries_in_ingest_order_with_rows_reports_and_where_their_ids_count(tmp_path: Path) -> None:
    store, runs = ColumnarStore(tmp_path / "columnar"), tmp_path / "runs"
    first = _stage(store, "EU-2026-11", {"accounts": 3, "interactions": 10}, source="billing-export")
    _report(runs, first, quarantined=2)
    second = _stage(store, "US-2026-11", {"accounts": 2, "sessions": 4}, suppressed_by=(first.seq,))
    replaced = _stage(store, "LATE", {"accounts": 1})
    _stage(store, "LATE", {"accounts": 5})  # a redelivery: replaces the one before

    live = live_deliveries(store, runs)

    assert [d.bundle_id for d in live] == ["EU-2026-11", "US-2026-11", "LATE"]
    eu, us, late = live
    assert eu.rows == {"accounts": 3, "organisations": 0, "ip_owners": 0, "payment_methods": 0, "sessions": 0,
                       "interactions": 10, "labels": 0, "truth": 0}
    assert (eu.source, eu.produced_at, eu.status, eu.rows_quarantined) == ("billing-export", "2026-11-30T08:00:00Z", "quarantined", 2)
    assert eu.report_file == str(runs / "ingest" / first.ingest_id / "report.json")
    assert us.ids_counted_in == ["EU-2026-11"] and us.status is None and us.report_file is None
    assert late.ingest_id != replaced.ingest_id and late.rows is not None and late.rows["accounts"] == 5
    assert all(d.committed_at and d.committed_at.endswith("+00:00") for d in live)
    assert second.ingest_id == us.ingest_id


def test_a_delivery_whose_files_vanish_while_listed_shows_unknown_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ColumnarStore(tmp_path / "columnar")
    _stage(store, "A", {"accounts": 1})

    def gone(self: ColumnarStore, table: str, entries: list[Delivery] | None = None) -> list[str]:
        return [str(tmp_path / "vanished.parquet")]

    monkeypatch.setattr(ColumnarStore, "table_files", gone)
    (only,) = live_deliveries(store, tmp_path / "runs")
    assert only.rows is None and only.bundle_id == "A"


def test_a_manifest_written_before_the_new_fields_still_lists(tmp_path: Path) -> None:
    store = ColumnarStore(tmp_path / "columnar")
    _stage(store, "OLD", {"accounts": 2})
    manifest = json.loads(store.manifest_path.read_text())
    for d in manifest["deliveries"]:
        for key in ("source", "produced_at", "committed_at"):
            del d[key]
    store.manifest_path.write_text(json.dumps(manifest))
    (old,) = live_deliveries(store, tmp_path / "runs")
    assert old.committed_at is None and old.source is None and old.rows and old.rows["accounts"] == 2


def test_a_manifest_written_by_a_later_version_still_reads(tmp_path: Path) -> None:
    store = ColumnarStore(tmp_path / "columnar")
    _stage(store, "NEW", {"accounts": 1}, source="feed")
    manifest = json.loads(store.manifest_path.read_text())
    manifest["deliveries"][0]["a_field_of_a_later_version"] = {"x": 1}
    store.manifest_path.write_text(json.dumps(manifest))
    (new,) = store.entries()
    assert (new.bundle_id, new.source) == ("NEW", "feed")


def test_bundle_json_free_text_is_kept_bounded_printable_and_without_card_numbers(tmp_path: Path) -> None:
    (tmp_path / "accounts.csv").write_text("account_id,created_at\na1,2026-04-01T00:00:00Z\n")
    (tmp_path / "bundle.json").write_text(json.dumps({
        "bundle_id": "B", "source": "ops\tdesk, card 4111 1111 1111 1111 pasted", "produced_at": "x" * 1000}))
    bundle = open_bundle(tmp_path)
    assert bundle.source is not None and "4111" not in bundle.source and "REDACTED" in bundle.source
    assert "\t" not in bundle.source and bundle.produced_at == "x" * 256


def test_the_command_lists_as_a_table_and_as_json(tmp_path: Path) -> None:
    home = tmp_path / "home"
    store = ColumnarStore(home / "columnar")
    _stage(store, "EU-2026-11", {"accounts": 3, "interactions": 7}, source="billing-export")
    runner = CliRunner()
    env = {"SYBILGRAPH_HOME": str(home), "COLUMNS": "250"}
    table = runner.invoke(cli, ["deliveries"], env=env)
    assert table.exit_code == 0, table.output
    assert "EU-2026-11" in table.output and "billing-export" in table.output and "--withdraw" in table.output
    as_json = runner.invoke(cli, ["deliveries", "--json"], env=env)
    assert as_json.exit_code == 0, as_json.output
    (listed,) = json.loads(as_json.output)
    assert listed["bundle_id"] == "EU-2026-11" and listed["rows"]["interactions"] == 7
    empty = runner.invoke(cli, ["deliveries"], env={**env, "SYBILGRAPH_HOME": str(tmp_path / "empty")})
    assert empty.exit_code == 0 and "nothing delivered yet" in empty.output
