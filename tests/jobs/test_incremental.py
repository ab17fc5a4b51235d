"""Incremental attribution against the real database: a new account of a known operator is
placed with it within seconds of its ingest, provisionally, and the next full run confirms it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from sybilgraph.attribution import run_attribution
from sybilgraph.db.session import Database
from sybilgraph.ingest import ingest_bundle
from sybilgraph.jobs import Scheduler
from tests.jobs.jobs_support import account, drop, job_state, jobs_config

pytestmark = pytest.mark.integration

# The figure the issue asks for: ingest done -> provisional attribution written.
MAX_DELAY_S = 10.0


def _operator_with_card(db: Database) -> dict[str, Any]:
    """The largest current operator whose members share a card, a member using it, and that card."""
    return db.read_raw(
        """MATCH (run:AttributionRun {current: true})
           MATCH (a:Account)-[r:ATTRIBUTED_TO]->(o:Operator) WHERE r.run_id = run.run_id
           MATCH (a)-[:PAID_WITH]->(c:PaymentInstrument)
           WITH o, c, collect(a.account_id) AS users ORDER BY size(users) DESC, o.operator_id LIMIT 1
           RETURN o.operator_id AS operator, c.instrument_id AS card, users"""
    )[0]


def _attributions(db: Database, prefix: str) -> dict[str, dict[str, Any]]:
    rows = db.read_raw(
        """MATCH (a:Account)-[r:ATTRIBUTED_TO]->(o:Operator) WHERE a.account_id STARTS WITH $prefix
           MATCH (i:IngestRun {ingest_id: r.ingest_id})
           RETURN a.account_id AS account, o.operator_id AS operator, r.run_id AS run_id, r.provisional AS provisional,
                  r.confidence AS confidence, r.evidence_json AS evidence_json, r.source AS source,
                  duration.inSeconds(i.finished_at, r.attributed_at).seconds
                  + duration.inSeconds(i.finished_at, r.attributed_at).nanosecondsOfSecond / 1e9 AS delay_s""",
        prefix=prefix,
    )
    return {r["account"]: r for r in rows}


def _new_accounts_bundle(card: str) -> dict[str, list[dict[str, Any]]]:
    """inc-1 pays with the operator's card; inc-3 shares a fresh card with inc-1 only (a chain);
    inc-2 shares nothing with anybody."""
    def pay(a: str, token: str) -> dict[str, Any]:
        return {"account_id": a, "instrument_id": token, "bin": "411111", "last4": "1111",
                "issuer_country": "DE", "added_at": "2026-05-01T00:00:00Z"}

    return {
        "accounts": [account("inc-1"), account("inc-2"), account("inc-3")],
        "payment_methods": [pay("inc-1", card), pay("inc-1", "tok_inc_chain"), pay("inc-3", "tok_inc_chain")],
    }


def test_new_account_of_an_operator_is_attributed_within_seconds(
    db: Database, small_bundle: Path, tmp_path: Path
) -> None:
    ingest_bundle(small_bundle, db.settings, db)
    first = run_attribution(db).run_id
    target = _operator_with_card(db)
    inbox = tmp_path / "inbox"
    scheduler = Scheduler(db.settings, jobs_config(inbox, attribute_after_ingest=False), db=db)
    try:
        dropped = time.perf_counter()
        drop(inbox, "new-accounts", _new_accounts_bundle(target["card"]))
        report = scheduler.run_once()
        wall_s = time.perf_counter() - dropped
    finally:
        scheduler.close()

    [outcome] = report.bundles
    assert outcome.status == "done" and outcome.incremental is not None
    assert outcome.incremental.run_id == first and outcome.incremental.candidates == 3
    placed = _attributions(db, "inc-")
    assert set(placed) == {"inc-1", "inc-3"}  # inc-2 shares nothing: left alone
    for a in ("inc-1", "inc-3"):
        p = placed[a]
        assert p["operator"] == target["operator"] and p["run_id"] == first
        assert p["provisional"] is True and p["source"] == "incremental" and 0 < p["confidence"] <= 1
    evidence = json.loads(placed["inc-1"]["evidence_json"])
    assert evidence[0]["kind"] == "card" and evidence[0]["value"] == target["card"]
    assert evidence[0]["members_sharing"] >= 2
    assert placed["inc-1"]["confidence"] > placed["inc-3"]["confidence"] * 0.5

    delay_s = max(placed[a]["delay_s"] for a in placed)
    print(f"\ningest->provisional attribution: {delay_s:.3f}s (database clock); "
          f"incremental step {outcome.incremental.seconds:.3f}s; ingest {outcome.ingest_s:.3f}s; "
          f"drop->attributed {wall_s:.3f}s")
    assert 0 <= delay_s < MAX_DELAY_S and outcome.incremental.seconds < MAX_DELAY_S
    assert job_state(db, "incremental")["last_status"] == "ok"

    # The next full run decides for itself, and here confirms; the provisional ones stay as history.
    second = run_attribution(db).run_id
    confirmed = db.read_raw(
        """MATCH (a:Account {account_id: 'inc-1'})-[r:ATTRIBUTED_TO {run_id: $run_id}]->(o:Operator)
           RETURN o.operator_id AS operator, r.provisional AS provisional""",
        run_id=second,
    )
    assert confirmed == [{"operator": target["operator"], "provisional": False}]
    history = db.read_raw(
        "MATCH (:Account {account_id: 'inc-1'})-[r:ATTRIBUTED_TO {run_id: $run_id}]->() RETURN r.provisional AS p",
        run_id=first,
    )
    assert history == [{"p": True}]


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
