"""Incremental attribution against the real database: a new account of a known operator is
placed with it within seconds of its ingest, provisionally, and the next full run confirms it."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from sybilgraph.attribution import run_attribution
from sybilgraph.db.session import Database
from sybilgraph.ingest import ingest_bundle
from sybilgraph.jobs import Scheduler
from tests.bundles import write_bundle
from tests.jobs.jobs_support import account, clone_account, drop, job_state, jobs_config

pytestmark = pytest.mark.integration

# The figure the issue asks for: ingest done -> provisional attribution written.
MAX_DELAY_S = 10.0


def _target(db: Database) -> dict[str, Any]:
    """The largest flagged operator, three of its most connected members, and a card its members share."""
    return db.read_raw(
        """MATCH (run:AttributionRun {current: true})
           MATCH (o:Operator {flagged: true})<-[r:ATTRIBUTED_TO]-(:Account) WHERE r.run_id = run.run_id
           WITH run, o, count(r) AS size ORDER BY size DESC, o.operator_id LIMIT 1
           MATCH (o)<-[r:ATTRIBUTED_TO]-(m:Account) WHERE r.run_id = run.run_id
           WITH o, m ORDER BY COUNT { (m)-->() } DESC, m.account_id
           WITH o, collect(m) AS members
           MATCH (c:PaymentInstrument)<-[:PAID_WITH]-(user:Account) WHERE user IN members
           WITH o, members, c, count(user) AS users ORDER BY users DESC LIMIT 1
           RETURN o.operator_id AS operator, [m IN members[0..3] | m.account_id] AS sources,
                  c.instrument_id AS card"""
    )[0]


def _attributions(db: Database, prefix: str) -> dict[str, dict[str, Any]]:
    rows = db.read_raw(
        """MATCH (a:Account)-[r:ATTRIBUTED_TO]->(o:Operator) WHERE a.account_id STARTS WITH $prefix
           MATCH (i:IngestRun {ingest_id: r.ingest_id})
           WITH a, r, o, duration.inSeconds(i.finished_at, r.attributed_at) AS d
           RETURN a.account_id AS account, o.operator_id AS operator, r.run_id AS run_id,
                  r.provisional AS provisional, r.confidence AS confidence, r.evidence_json AS evidence_json,
                  r.source AS source, d.seconds + d.nanosecondsOfSecond / 1e9 AS delay_s""",
        prefix=prefix,
    )
    return {r["account"]: r for r in rows}


def test_new_account_of_an_operator_is_attributed_within_seconds(
    db: Database, small_bundle: Path, tmp_path: Path
) -> None:
    ingest_bundle(small_bundle, db.settings, db)
    first = run_attribution(db).run_id
    target = _target(db)
    inbox = tmp_path / "inbox"
    scheduler = Scheduler(db.settings, jobs_config(inbox, attribute_after_ingest=False), db=db)
    try:
        staged = _stage(small_bundle, target, tmp_path)
        dropped = time.perf_counter()
        os.replace(staged, inbox / "new-accounts")
        report = scheduler.run_once()
        wall_s = time.perf_counter() - dropped
    finally:
        scheduler.close()

    [outcome] = report.bundles
    assert outcome.status == "done" and outcome.incremental is not None
    assert outcome.incremental.run_id == first and outcome.incremental.candidates == 3
    placed = _attributions(db, "inc-")
    assert set(placed) == {"inc-clone"}  # inc-card is peripheral, inc-stranger tied to nobody
    clone = placed["inc-clone"]
    assert clone["operator"] == target["operator"] and clone["run_id"] == first
    assert clone["provisional"] is True and clone["source"] == "incremental" and 0.5 < clone["confidence"] <= 1
    evidence = json.loads(clone["evidence_json"])
    assert evidence and all(e["members_sharing"] >= 2 and e["weight"] > 0 for e in evidence)

    delay_s = clone["delay_s"]
    print(f"\ningest->provisional attribution: {delay_s:.3f}s (database clock); "
          f"incremental step {outcome.incremental.seconds:.3f}s; ingest {outcome.ingest_s:.3f}s; "
          f"drop->attributed {wall_s:.3f}s")
    assert 0 <= delay_s < MAX_DELAY_S and outcome.incremental.seconds < MAX_DELAY_S
    assert job_state(db, "incremental")["last_status"] == "ok"

    # The next full run decides for itself, and agrees; the provisional attribution stays as history.
    second = run_attribution(db).run_id
    decided = db.read_raw(
        """MATCH (a:Account)-[r:ATTRIBUTED_TO {run_id: $run_id}]->(o:Operator) WHERE a.account_id STARTS WITH 'inc-'
           RETURN a.account_id AS account, o.operator_id AS operator, r.provisional AS provisional""",
        run_id=second,
    )
    print("DEBUG", target, db.read_raw("""MATCH (run:AttributionRun {current:true}) MATCH (a)-[r:ATTRIBUTED_TO]->(o:Operator) WHERE r.run_id = run.run_id AND o.operator_id IN ['op-9c221aac27d0'] RETURN o.operator_id AS op, collect(a.account_id) AS m"""),
      db.read_raw("MATCH (c:Operator)-[l:SPLIT_FROM|MERGED_INTO]->(p) RETURN c.operator_id, type(l), p.operator_id, l.shared, l.run_id"))
    assert decided == [{"account": "inc-clone", "operator": target["operator"], "provisional": False}]
    history = db.read_raw(
        "MATCH (:Account {account_id: 'inc-clone'})-[r:ATTRIBUTED_TO {run_id: $run_id}]->() RETURN r.provisional AS p",
        run_id=first,
    )
    assert history == [{"p": True}]


def _stage(small_bundle: Path, target: dict[str, Any], tmp: Path) -> Path:
    """The new-accounts bundle, written beside the inbox with its READY marker: inc-clone draws on
    three members' cards, devices, networks and templates; inc-card only pays with the operator's
    card (peripheral: the full run leaves such accounts out); inc-stranger shares nothing."""
    bundle = clone_account(small_bundle, target["sources"], "inc-clone", tmp / "staging" / "new-accounts")
    pay = {"account_id": "inc-card", "instrument_id": target["card"], "bin": "411111", "last4": "1111",
           "issuer_country": "DE", "added_at": "2026-05-01T00:00:00Z"}
    extra = write_bundle(tmp / "extra", {"accounts": [account("inc-card"), account("inc-stranger")],
                                         "payment_methods": [pay]}, fmt="parquet")
    for name in ("accounts", "payment_methods"):
        _append_parquet(bundle / f"{name}.parquet", extra / f"{name}.parquet")
    (bundle / "READY").touch()
    (tmp / "inbox").mkdir(exist_ok=True)
    return bundle


def _append_parquet(target: Path, extra: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = pq.read_table(extra)
    if target.is_file():
        base = pq.read_table(target)
        rows = pa.concat_tables([base, rows.select(base.column_names).cast(base.schema)])
    pq.write_table(rows, target)


def test_nothing_is_provisional_before_the_first_full_run(db: Database, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    scheduler = Scheduler(db.settings, jobs_config(inbox, attribute_after_ingest=False), db=db)
    try:
        drop(inbox, "first", {"accounts": [account("early-1")]})
        report = scheduler.run_once()
    finally:
        scheduler.close()
    [outcome] = report.bundles
    assert outcome.incremental is not None and outcome.incremental.skipped == "no current attribution run yet"
    assert job_state(db, "incremental")["last_status"] == "skipped"
