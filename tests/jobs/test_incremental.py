"""Incremental attribution against the real database: a new account of a known operator is
placed with it within seconds of its ingest, provisionally, and the next full run confirms it."""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from sybilgraph.attribution import run_attribution
from sybilgraph.db.session import Database
from sybilgraph.ingest import ingest_bundle
from sybilgraph.jobs import Scheduler
from sybilgraph.jobs.incremental import attribute_new_accounts
from tests.bundles import write_bundle
from tests.jobs.jobs_support import account, drop, job_state, with_jobs

pytestmark = pytest.mark.integration


def _target(db: Database) -> dict[str, Any]:
    """The largest flagged operator and its pool: identifiers at least three members share."""
    operator = db.read_raw(
        """MATCH (run:AttributionRun {current: true})
           MATCH (o:Operator {flagged: true})<-[r:ATTRIBUTED_TO]-(:Account) WHERE r.run_id = run.run_id
           WITH o, count(r) AS size ORDER BY size DESC, o.operator_id LIMIT 1
           RETURN o.operator_id AS operator"""
    )[0]["operator"]
    rows = db.read_raw(
        """MATCH (run:AttributionRun {current: true})
           MATCH (:Operator {operator_id: $operator})<-[r:ATTRIBUTED_TO]-(m:Account) WHERE r.run_id = run.run_id
           MATCH (m)-[:PAID_WITH|USED_IP|USED_DEVICE|USED_TLS|USED_TEMPLATE]->(i)
           WITH i, count(DISTINCT m) AS members WHERE members >= 3
           WITH labels(i)[0] AS label, i, members ORDER BY members DESC
           WITH label, collect(coalesce(i.instrument_id, i.ip, i.device_id, i.fingerprint))[0..8] AS values
           RETURN label, values""",
        operator=operator,
    )
    pool = {r["label"]: r["values"] for r in rows}
    assert pool.get("PaymentInstrument"), f"operator {operator} has no shared card: {pool}"
    return {"operator": operator, "card": pool["PaymentInstrument"][0], "pool": pool}


def _pool_account(account_id: str, pool: dict[str, list[str]]) -> dict[str, list[dict[str, Any]]]:
    """A fresh account of the operator: its cards, devices, TLS clients, IPs and templates."""
    ips = pool.get("IP") or ["198.51.100.7"]
    devices = pool.get("Device") or [""]
    tls = pool.get("TlsFingerprint") or [""]
    ts = [f"2026-05-0{1 + d}T{h:02d}:{m:02d}:00Z" for d in range(7) for h in range(0, 24, 3) for m in (5, 35)]
    payments = [{"account_id": account_id, "instrument_id": c, "bin": "411111", "last4": "1111",
                 "issuer_country": "DE", "added_at": ts[0]} for c in pool["PaymentInstrument"]]
    sessions = [{"account_id": account_id, "ts": ts[k], "ip": ips[k % len(ips)], "device_id": devices[k % len(devices)],
                 "user_agent": "UA", "tls_fingerprint": tls[k % len(tls)]} for k in range(24)]
    templates = pool.get("PromptTemplate") or []
    interactions = [{"account_id": account_id, "ts": ts[k % len(ts)], "ip": ips[k % len(ips)],
                     "device_id": devices[k % len(devices)], "api_key_id": f"k_{account_id}", "model": "m1",
                     "input_tokens": 900, "output_tokens": 2500, "prompt_fingerprint": templates[k % len(templates)],
                     "category": "reasoning"} for k in range(6 * len(templates))]
    tables = {"accounts": [account(account_id)], "payment_methods": payments, "sessions": sessions}
    if interactions:
        tables["interactions"] = interactions
    return tables


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


def _first_run(db: Database, bundle: Path) -> tuple[str, dict[str, Any]]:
    """The bundle ingested and attributed: the first run and its largest flagged operator."""
    ingest_bundle(bundle, db.settings, db)
    return run_attribution(db).run_id, _target(db)


def test_new_account_of_an_operator_is_attributed_within_seconds(
    db: Database, small_bundle: Path, tmp_path: Path
) -> None:
    first, target = _first_run(db, small_bundle)
    inbox = tmp_path / "inbox"
    scheduler = Scheduler(with_jobs(db.settings, inbox, attribute_after_ingest=False), db=db)
    try:
        staged = _stage(target, tmp_path)
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
    assert set(placed) == {"inc-pool"}  # inc-card is peripheral, inc-stranger tied to nobody
    new = placed["inc-pool"]
    assert new["operator"] == target["operator"] and new["run_id"] == first
    assert new["provisional"] is True and new["source"] == "incremental" and 0.5 < new["confidence"] <= 1
    evidence = json.loads(new["evidence_json"])
    assert evidence and all(e["members_sharing"] >= 2 and e["weight"] > 0 for e in evidence)

    delay_s = new["delay_s"]
    print(f"\ningest->provisional attribution: {delay_s:.3f}s (database clock); "
          f"incremental step {outcome.incremental.seconds:.3f}s; ingest {outcome.ingest_s:.3f}s; "
          f"drop->attributed {wall_s:.3f}s")
    # How fast is a benchmark's question (machines here are shared and noisy), not a test's.
    assert delay_s >= 0 and outcome.incremental.seconds > 0
    assert job_state(db, "incremental")["last_status"] == "ok"

    # The next full run decides for itself (here it agrees, and also leaves inc-card out); the
    # provisional attribution stays with the first run as history.
    second = run_attribution(db).run_id
    decided = db.read_raw(
        """MATCH (a:Account)-[r:ATTRIBUTED_TO {run_id: $run_id}]->(o:Operator) WHERE a.account_id STARTS WITH 'inc-'
           RETURN a.account_id AS account, o.operator_id AS operator, r.provisional AS provisional""",
        run_id=second,
    )
    assert decided == [{"account": "inc-pool", "operator": target["operator"], "provisional": False}]
    history = db.read_raw(
        "MATCH (:Account {account_id: 'inc-pool'})-[r:ATTRIBUTED_TO {run_id: $run_id}]->() RETURN r.provisional AS p",
        run_id=first,
    )
    assert history == [{"p": True}]


def _stage(target: dict[str, Any], tmp: Path) -> Path:
    """The new-accounts bundle, written beside the inbox with its READY marker: inc-pool uses the
    operator's pool; inc-card only pays with one of its cards (peripheral: the full run leaves
    such accounts out); inc-stranger shares nothing."""
    tables = _pool_account("inc-pool", target["pool"])
    tables["accounts"] += [account("inc-card"), account("inc-stranger")]
    tables["payment_methods"].append({"account_id": "inc-card", "instrument_id": target["card"], "bin": "411111",
                                      "last4": "1111", "issuer_country": "DE", "added_at": "2026-05-01T00:00:00Z"})
    bundle = write_bundle(tmp / "staging" / "new-accounts", tables)
    (bundle / "READY").touch()
    (tmp / "inbox").mkdir(exist_ok=True)
    return bundle


def test_nothing_is_provisional_before_the_first_full_run(db: Database, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    scheduler = Scheduler(with_jobs(db.settings, inbox, attribute_after_ingest=False), db=db)
    try:
        drop(inbox, "first", {"accounts": [account("early-1")]})
        report = scheduler.run_once()
    finally:
        scheduler.close()
    [outcome] = report.bundles
    assert outcome.incremental is not None and outcome.incremental.skipped == "no current attribution run yet"
    assert job_state(db, "incremental")["last_status"] == "skipped"


def _hijacked_account(account_id: str, pool: dict[str, list[str]]) -> dict[str, list[dict[str, Any]]]:
    """An aged account: its owner's phone, home line and browser through April, then, from
    2026-05-01T00:05Z on, the operator's pool (``_pool_account``): a takeover (epochs.py)."""
    tables = _pool_account(account_id, pool)
    tables["sessions"] = [
        {"account_id": account_id, "ts": f"2026-04-{d:02d}T{h:02d}:15:00Z", "ip": "100.64.201.77",
         "device_id": f"owner-phone-{account_id}", "user_agent": "OwnerBrowser/1.0", "tls_fingerprint": f"owner-tls-{account_id}"}
        for d in range(2, 28, 2) for h in (8, 19)
    ] + tables["sessions"]
    return tables


def test_a_hijacked_account_placed_incrementally_is_attributed_from_its_takeover_as_the_full_run_does(
    db: Database, small_bundle: Path, tmp_path: Path
) -> None:
    first, target = _first_run(db, small_bundle)
    ingest_bundle(write_bundle(tmp_path / "hijacked", _hijacked_account("inc-hijacked", target["pool"])), db.settings, db)

    result = attribute_new_accounts(db, ["inc-hijacked"])
    assert result.run_id == first and set(result.placements) == {"inc-hijacked"}, result.summary()
    query = """MATCH (:Account {account_id: 'inc-hijacked'})-[r:ATTRIBUTED_TO {run_id: $run_id}]->(o:Operator)
               RETURN o.operator_id AS operator, r.provisional AS provisional, r.controlled_from AS controlled_from"""
    takeover = int(datetime(2026, 5, 1, 0, 5, tzinfo=timezone.utc).timestamp() * 1000)
    assert db.read_raw(query, run_id=first) == [
        {"operator": target["operator"], "provisional": True, "controlled_from": takeover}
    ]
    # The next full run places it with the same operator from the same moment.
    second = run_attribution(db).run_id
    assert db.read_raw(query, run_id=second) == [
        {"operator": target["operator"], "provisional": False, "controlled_from": takeover}
    ]
