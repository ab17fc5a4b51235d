"""The inbox against the real database: drop a bundle, and it is ingested and attributed."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from rich.console import Console

from sybilgraph.db.session import Database
from sybilgraph.jobs import Scheduler, runs_table
from tests.jobs.jobs_support import (
    account,
    copy_in,
    current_run,
    drop,
    job_state,
    with_jobs,
    operator_tables,
    wait_for,
)

pytestmark = pytest.mark.integration


@contextmanager
def running(scheduler: Scheduler) -> Iterator[threading.Thread]:
    """run_forever on a thread (the service loop itself), stopped and joined at the end."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            scheduler.run_forever()
        except BaseException as e:  # noqa: BLE001 - re-raised in the test thread
            errors.append(e)

    thread = threading.Thread(target=target, name="scheduler-under-test", daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        scheduler.stop()
        thread.join(timeout=120)
        scheduler.close()
    assert not thread.is_alive(), "the scheduler did not stop"
    if errors:
        raise errors[0]


def _attributed(db: Database) -> int:
    rows = db.read_raw(
        """MATCH (run:AttributionRun {current: true})
           MATCH (:Account)-[r:ATTRIBUTED_TO]->(:Operator) WHERE r.run_id = run.run_id
           RETURN count(r) AS n"""
    )
    return int(rows[0]["n"])


def test_dropped_bundle_is_ingested_and_attributed_with_no_other_action(
    db: Database, small_bundle: Path, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    scheduler = Scheduler(with_jobs(db.settings, inbox, settle_s=1.0), db=db)
    with running(scheduler):
        copy_in(inbox, "bundle-001", small_bundle)  # no marker: ready once it settles
        wait_for(lambda: (inbox / "done" / "bundle-001").is_dir(), 120, "the bundle in done/")
        run_id = wait_for(lambda: current_run(db), 120, "a complete attribution run")
    assert not (inbox / "bundle-001").exists()
    report = json.loads((inbox / "done" / "bundle-001.report.json").read_text())
    assert report["status"] == "ok" and report["ingest"]["tables"]["accounts"]["rows_loaded"] > 0
    assert report["incremental"]["skipped"] == "no current attribution run yet"
    assert _attributed(db) > 0
    assert job_state(db, "inbox")["last_status"] == "ok"
    attribution = job_state(db, "attribution")
    assert attribution["last_status"] == "ok" and run_id in attribution["last_detail_json"]
    assert attribution["next_run_at"] is not None
    text = _render(db)
    assert run_id in text and "inbox" in text and "attribution" in text


def test_malformed_bundles_land_in_failed_and_the_scheduler_goes_on(db: Database, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    scheduler = Scheduler(with_jobs(db.settings, inbox, attribute_after_ingest=False), db=db)
    with running(scheduler):
        drop(inbox, "no-accounts", {"sessions": [{"account_id": "a1", "ts": "2026-04-01T00:00:00Z", "ip": "10.0.0.1"}]})
        bad_columns = drop(inbox, "bad-columns", {"accounts": [{"who": "a1", "when": "yesterday"}]})
        wait_for(lambda: (inbox / "failed" / "bad-columns.reason.json").is_file(), 60, "bad-columns in failed/")
        wait_for(lambda: (inbox / "failed" / "no-accounts.reason.json").is_file(), 60, "no-accounts in failed/")
        drop(inbox, "good", operator_tables("good", operators=1, loners=2))
        wait_for(lambda: (inbox / "done" / "good").is_dir(), 60, "the good bundle in done/")
    assert not bad_columns.exists() and (inbox / "failed" / "bad-columns").is_dir()
    no_accounts = json.loads((inbox / "failed" / "no-accounts.reason.json").read_text())
    assert "no accounts table" in no_accounts["reason"]
    bad = json.loads((inbox / "failed" / "bad-columns.reason.json").read_text())
    assert bad["reason"].startswith("tables failed: accounts") and bad["ingest"]["tables"]["accounts"]["error"]
    n = db.read_raw("MATCH (a:Account) WHERE a.account_id STARTS WITH 'good-' RETURN count(a) AS n")[0]["n"]
    assert n == len(operator_tables("good", operators=1, loners=2)["accounts"])
    assert job_state(db, "inbox")["last_status"] == "ok"  # the last pass: the good bundle


def test_each_bundle_is_ingested_once(db: Database, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    scheduler = Scheduler(with_jobs(db.settings, inbox, attribute_after_ingest=False), db=db)
    try:
        drop(inbox, "b1", {"accounts": [account("once-1")]})
        first = scheduler.run_once()
        second = scheduler.run_once()
    finally:
        scheduler.close()
    assert [(b.name, b.status) for b in first.bundles] == [("b1", "done")]
    assert second.bundles == [] and first.attribution is None
    runs = db.read_raw("MATCH (r:IngestRun) RETURN count(r) AS n")[0]["n"]
    assert runs == 1


def _render(db: Database) -> str:
    console = Console(width=250, record=True, file=io.StringIO())
    console.print(runs_table(db))
    return console.export_text()
