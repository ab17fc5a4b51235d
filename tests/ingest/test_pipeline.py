"""Ingest against the real Neo4j: formats, quarantine, idempotence, updates, crash safety."""

from __future__ import annotations

import json
import logging
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sybilgraph.db.admin import reset
from sybilgraph.db.digest import graph_digest
from sybilgraph.db.session import Database
from sybilgraph.ingest import ingest_bundle
from sybilgraph.ingest.report import EXIT_QUARANTINED, EXIT_TABLE_FAILED
from tests.bundles import ENRICHMENT, TINY, write_bundle

pytestmark = pytest.mark.integration

PAN = "4111111111111111"  # a Luhn-valid test card number


def _ingest(db: Database, bundle: Path):  # noqa: ANN202
    return ingest_bundle(bundle, db.settings, db)


def test_tiny_bundle_builds_the_expected_graph(db: Database, tmp_path: Path) -> None:
    report = _ingest(db, write_bundle(tmp_path / "b", TINY))
    assert report.status == "ok", report
    assert {t: r.rows_loaded for t, r in report.tables.items()} == {
        "accounts": 5, "payment_methods": 3, "sessions": 3, "interactions": 5, "labels": 1
    }
    rows = db.read_raw(
        "MATCH (c:PaymentInstrument) RETURN c.instrument_id AS id, c.n_accounts AS n, c.bin AS bin ORDER BY id"
    )
    assert rows == [{"id": "tok_shared", "n": 2, "bin": "411111"}]  # a lone card is no node
    ip = db.read_raw(
        "MATCH (a:Account)-[r:USED_IP]->(i:IP {ip: '10.0.0.1'})-[:IN_SUBNET]->(s:Subnet) "
        "RETURN a.account_id AS a, r.count AS count, s.cidr AS cidr ORDER BY a"
    )
    # a1: one session + two interactions + signup; a2: one session + signup
    assert ip == [{"a": "a1", "count": 4, "cidr": "10.0.0.0/24"}, {"a": "a2", "count": 2, "cidr": "10.0.0.0/24"}]
    tpl = db.read_raw("MATCH (t:PromptTemplate) RETURN t.fingerprint AS fp, t.n_accounts AS n")
    assert tpl == [{"fp": "00000000000000aa", "n": 3}]
    a1 = db.read_raw("MATCH (a:Account {account_id: 'a1'}) RETURN a")[0]["a"]
    assert a1["n_interactions"] == 2 and a1["output_tokens"] == 800 and a1["n_sessions"] == 1
    assert a1["category_names"] == ["coding"] and a1["category_counts"] == [2]
    assert len(a1["hour_hist"]) == 168 and sum(a1["hour_hist"]) == 2
    assert a1["hour_hist"][24 * 0 + 1] == 1  # 2026-04-06 is a Monday, 01:00 UTC
    a3 = db.read_raw("MATCH (a:Account {account_id: 'a3'}) RETURN a.created_at AS c")[0]["c"]
    assert a3.iso_format().startswith("2026-04-02T06:00:00")  # +02:00 normalised to UTC
    label = db.read_raw("MATCH (:Account {account_id: 'a1'})-[r:HAS_LABEL]->(l:Label) RETURN l.name AS n, r.source AS s")
    assert label == [{"n": "OP-TEST", "s": "unit-test"}]


@pytest.mark.parametrize("fmt,parts", [("csv.gz", False), ("parquet", False), ("jsonl", False), ("jsonl.gz", False), ("parquet", True), ("csv", True)])
def test_every_format_gives_the_same_graph(db: Database, tmp_path: Path, fmt: str, parts: bool) -> None:
    _ingest(db, write_bundle(tmp_path / "baseline", TINY, "csv"))
    expected = graph_digest(db)
    reset(db)
    report = _ingest(db, write_bundle(tmp_path / f"{fmt}-{parts}", TINY, fmt, parts=parts))
    assert report.status == "ok"
    assert graph_digest(db) == expected


def test_second_ingest_changes_nothing(db: Database, tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path / "b", TINY)
    _ingest(db, bundle)
    first = graph_digest(db)
    again = _ingest(db, bundle)
    assert again.reused_staging
    assert sum(again.graph_writes.values()) == 0
    assert graph_digest(db) == first


def test_a_later_bundle_updates_rows(db: Database, tmp_path: Path) -> None:
    _ingest(db, write_bundle(tmp_path / "b1", TINY))
    update = {"accounts": [dict(TINY["accounts"][0], status="suspended")],
              "payment_methods": [{"account_id": "a4", "instrument_id": "tok_shared", "bin": "411111", "last4": "1111", "issuer_country": "DE", "added_at": ""}]}
    _ingest(db, write_bundle(tmp_path / "b2", update))
    assert db.read_raw("MATCH (a:Account {account_id: 'a1'}) RETURN a.status AS s") == [{"s": "suspended"}]
    assert db.read_raw("MATCH (c:PaymentInstrument {instrument_id: 'tok_shared'}) RETURN c.n_accounts AS n") == [{"n": 3}]
    assert db.read_raw("MATCH (a:Account) RETURN count(a) AS n") == [{"n": 5}]


def test_bad_rows_are_quarantined_and_good_rows_load(db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    bad = {k: [dict(r) for r in v] for k, v in TINY.items()}
    bad["accounts"].append({"account_id": "", "created_at": "2026-04-01T10:00:00Z"})
    bad["accounts"].append({"account_id": "x-bad-ts", "created_at": "2026-04-01 10:00:00"})
    bad["payment_methods"].append({"account_id": "a4", "instrument_id": PAN, "bin": "411111", "last4": "1111"})
    bad["payment_methods"].append({"account_id": "a4", "instrument_id": "4111 1111 1111 1111"})
    bad["sessions"].append({"account_id": "a1", "ts": "2026-04-05T09:00:00Z", "ip": "999.1.1.1"})
    bad["sessions"].append({"account_id": "ghost", "ts": "2026-04-05T09:00:00Z", "ip": "10.0.0.9"})
    bad["interactions"].append(dict(TINY["interactions"][0], input_tokens=-5))
    report = _ingest(db, write_bundle(tmp_path / "bad", bad))
    assert report.exit_code == EXIT_QUARANTINED
    assert {t: (r.rows_loaded, r.rows_quarantined) for t, r in report.tables.items()} == {
        "accounts": (5, 2), "payment_methods": (3, 2), "sessions": (3, 2), "interactions": (5, 1), "labels": (1, 0)
    }
    quarantine = Path(report.quarantine_file).read_text()
    for needle in ("account_id", "created_at", "raw card number", "ip", "not in accounts", "input_tokens"):
        assert needle in quarantine
    assert re.search(r"accounts\.csv.*,6,", quarantine) or ",6," in quarantine  # row numbers are kept
    everything = quarantine + Path(report.report_file).read_text() + caplog.text
    everything += json.dumps(db.read_raw("MATCH (n) WHERE NOT n:Lock RETURN properties(n) AS p"), default=str)
    assert PAN not in everything and "4111 1111 1111 1111" not in everything
    assert not re.search(r"\b(?:\d[ -]?){12,19}\b", json.dumps(db.read_raw("MATCH (n) WHERE NOT n:Lock RETURN properties(n) AS p"), default=str).replace("-", ""))


def test_organisations_ip_owners_and_row_ids_load(db: Database, tmp_path: Path) -> None:
    tables = {k: [dict(r) for r in v] for k, v in {**TINY, **ENRICHMENT}.items()}
    for i, row in enumerate(tables["interactions"]):
        row["interaction_id"] = f"req-{i}"
    for i, row in enumerate(tables["sessions"]):
        row["session_id"] = f"sess-{i}"
    tables["labels"][0]["organisation"] = "org-acme"
    report = _ingest(db, write_bundle(tmp_path / "b", tables))
    assert report.status == "ok", report
    assert {t: r.rows_loaded for t, r in report.tables.items()} == {
        "accounts": 5, "organisations": 2, "ip_owners": 4, "payment_methods": 3, "sessions": 3,
        "interactions": 5, "labels": 1,
    }


def test_missing_required_column_fails_that_table_only(db: Database, tmp_path: Path) -> None:
    broken = {k: [dict(r) for r in v] for k, v in TINY.items()}
    for r in broken["sessions"]:
        del r["ip"]
    report = _ingest(db, write_bundle(tmp_path / "broken", broken))
    assert report.exit_code == EXIT_TABLE_FAILED
    error = report.tables["sessions"].error or ""
    assert "sessions.csv" in error and "ip" in error
    assert report.tables["sessions"].rows_loaded == 0
    assert report.tables["interactions"].rows_loaded == 5
    assert db.read_raw("MATCH (a:Account) RETURN count(a) AS n") == [{"n": 5}]


def _cli_env(db: Database) -> dict[str, str]:
    return {**os.environ, **db.settings.connection_env(), "SYBILGRAPH_BATCH_SIZE": "500"}


@pytest.fixture(scope="module")
def kill_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated bundle small enough that killing and rerunning it four times stays quick."""
    from sybilgraph.generate import generate_bundle

    out = tmp_path_factory.mktemp("kill") / "b"
    generate_bundle(out, scale=0.002, seed=5)
    return out


def _delivery_ops(base: Path, tmp: Path) -> list[list[str]]:
    """Deliver X, deliver Y, redeliver X with new content, withdraw Y: every writer's path."""
    import json
    import shutil

    from tests.ingest.deliveries import delivery, write_delivery

    x = tmp / "x"
    shutil.copytree(base, x)
    (x / "bundle.json").write_text(json.dumps({"bundle_id": "X"}))
    x2 = tmp / "x2"
    shutil.copytree(x, x2)
    shutil.rmtree(x2 / "sessions", ignore_errors=True)
    for f in x2.glob("sessions.*"):
        f.unlink()
    y = write_delivery(tmp / "y", "Y", delivery(7))
    return [["ingest", str(x)], ["ingest", str(y)], ["ingest", str(x2)], ["ingest", "--withdraw", "Y"]]


@pytest.mark.slow
def test_sigkill_at_random_points_then_rerun_matches_a_clean_run(db: Database, kill_bundle: Path, tmp_path: Path) -> None:
    # Deliveries, a redelivery and a withdrawal, each killed at a random point and run again.
    ops = _delivery_ops(kill_bundle, tmp_path)
    env = _cli_env(db)
    base = [sys.executable, "-m", "sybilgraph.cli"]
    seconds = []
    for op in ops:
        t0 = time.monotonic()
        subprocess.run(base + op, env=env, check=True, capture_output=True)
        seconds.append(time.monotonic() - t0)
    clean = graph_digest(db)
    rng = random.Random(int(os.environ.get("SYBILGRAPH_KILL_SEED", "20261130")))
    # One round kills every writer's path once (two CLI runs per op); more on demand.
    for round_ in range(int(os.environ.get("SYBILGRAPH_KILL_ROUNDS", "1"))):
        reset(db)
        for op, op_seconds in zip(ops, seconds, strict=True):
            proc = subprocess.Popen(base + op, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(op_seconds * rng.uniform(0.05, 0.98))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            rerun = subprocess.run(base + op, env=env, capture_output=True, text=True)
            # A withdrawal killed after its manifest write finds nothing left to withdraw; it
            # still brings the graph up to date first.
            withdrawn_already = "--withdraw" in op and "no live delivery" in rerun.stdout + rerun.stderr
            assert rerun.returncode == 0 or withdrawn_already, rerun.stderr
        assert graph_digest(db) == clean, f"round {round_}"


def test_running_out_of_the_memory_limit_says_which_setting_to_raise_and_a_rerun_finishes(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import duckdb

    from sybilgraph.errors import IngestMemoryError
    from sybilgraph.ingest import pipeline

    bundle = write_bundle(tmp_path / "b", TINY)
    _ingest(db, bundle)
    clean = graph_digest(db)
    reset(db)

    def out_of_memory(*args: object, **kwargs: object) -> None:
        # What DuckDB raises when an aggregation outgrows SET memory_limit (scale 1.0 at 4 GB).
        raise duckdb.OutOfMemoryException("Out of Memory Error: could not allocate block of size 256.0 KiB (3.7 GiB/3.7 GiB used)")

    monkeypatch.setattr(pipeline, "stage_delivery", out_of_memory)
    with pytest.raises(IngestMemoryError, match=r"ingest\.memory_limit = \S+ .*SYBILGRAPH_INGEST__MEMORY_LIMIT"):
        _ingest(db, bundle)
    monkeypatch.undo()
    assert _ingest(db, bundle).status == "ok"
    assert graph_digest(db) == clean
