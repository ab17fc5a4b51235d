"""Incremental attribution: place newly ingested accounts with existing operators in seconds.

Why: a full run (the evidence model fitted anew, Leiden over the whole graph) takes minutes at
production scale and runs on a schedule; an operator's fresh account should show up with its
operator right after its bundle lands. This module does not refit or re-cluster. It uses the
current run's own evidence model, exactly as the full run does (one builder, one model):

1. the run's fitted pairwise model (``model.json``) and template pools (``pool_templates``),
   stored with the run;
2. candidate pairs touching the new accounts, by the full run's blocking
   (``evidence_model.score_candidates`` with a focus), scored by that model; pairs at or above
   the Bayes decision are edges;
3. every operator a new account has an edge into judges it with the full run's membership model
   (``membership.py``, each group fitted on its current members); the account joins the
   operator that accepts it with the highest log-odds, unless an analyst rejected that pair.
   Accounts placed in one round count as members in the next, so a chain of new accounts tied to
   an operator through each other is placed too.

The result is written as ``(:Account)-[:ATTRIBUTED_TO {run_id: <current run>, provisional:
true, confidence, evidence_json, controlled_from, source: 'incremental'}]->(:Operator)``, the
full run's row (``pipeline.attribution_rows``). The next full run
writes its own relationships; the provisional ones stay with the old run as history. If a full
run becomes current while this one computes, it starts over against the new run, so a
provisional attribution never lands on a run that is already history.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sybilgraph.attribution.calibration import calibrate
from sybilgraph.attribution.evidence import evidence_tables
from sybilgraph.attribution.evidence_model import score_candidates
from sybilgraph.attribution.fellegi_sunter import FSModel
from sybilgraph.attribution.grouping import MEMBERSHIP_COMPARISONS, edges_of, is_accepted
from sybilgraph.attribution.inputs import read_inputs
from sybilgraph.attribution.membership import membership_scores
from sybilgraph.attribution.pairs import PairTables, build_pair_tables
from sybilgraph.attribution.params import AttributionParams
from sybilgraph.attribution.pipeline import attribution_rows, run_dir
from sybilgraph.attribution.profiles import build_profiles
from sybilgraph.db.session import Database
from sybilgraph.ingest.columnar import ColumnarStore
from sybilgraph.settings import Settings

__all__ = [
    "IncrementalResult",
    "Placement",
    "attribute_new_accounts",
    "new_account_ids",
    "place_accounts",
]

log = logging.getLogger("sybilgraph.jobs")

READ_BATCH = 5_000
MAX_ROUNDS = 5
RUN_CHANGE_RETRIES = 2


@dataclass(frozen=True)
class Placement:
    operator_id: str
    confidence: float
    log_odds: float  # membership log-odds (bits) against the operator's own model


@dataclass
class IncrementalResult:
    run_id: str | None
    candidates: int = 0
    placements: dict[str, Placement] = field(default_factory=dict)
    created: int = 0
    seconds: float = 0.0
    skipped: str | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "candidates": self.candidates,
            "attributed": len(self.placements),
            "created": self.created,
            "seconds": round(self.seconds, 3),
            "skipped": self.skipped,
            "operators": sorted({p.operator_id for p in self.placements.values()}),
        }


# -- which accounts are new ----------------------------------------------------------------------
def new_account_ids(settings: Settings, ingest_id: str) -> list[str]:
    """Accounts of one ingested bundle that no other ingested bundle has (columnar store)."""
    store = ColumnarStore(settings.columnar_dir)
    mine = _account_ids(store.bundles_dir / ingest_id / "accounts")
    if len(mine) == 0:
        return []
    others = [e.ingest_id for e in store.entries() if e.ingest_id != ingest_id]
    seen = pa.chunked_array([_account_ids(store.bundles_dir / i / "accounts") for i in others], pa.string())
    if len(seen):
        mine = mine.filter(pc.invert(pc.is_in(mine, value_set=seen.combine_chunks())))
    return sorted(set(mine.to_pylist()))


def _account_ids(directory: Path) -> pa.Array:
    files = sorted(directory.glob("*.parquet"))
    if not files:
        return pa.array([], pa.string())
    return pa.concat_arrays(
        [pq.read_table(f, columns=["account_id"]).column(0).combine_chunks().cast(pa.string()) for f in files]
    )


# -- the step ------------------------------------------------------------------------------------
def attribute_new_accounts(
    db: Database,
    account_ids: Sequence[str],
    params: AttributionParams | None = None,
    max_accounts: int = 20_000,
    ingest_id: str | None = None,
) -> IncrementalResult:
    """Provisionally attribute ``account_ids`` (new accounts) to existing operators."""
    params = params or AttributionParams()
    t0 = time.perf_counter()
    result = IncrementalResult(run_id=None)
    for _ in range(RUN_CHANGE_RETRIES + 1):
        result = _attempt(db, account_ids, params, max_accounts, ingest_id)
        if result.skipped or result.run_id == current_run_id(db):
            break
        log.info(json.dumps({"event": "incremental_run_changed", "stale_run_id": result.run_id}))
    result.seconds = time.perf_counter() - t0
    log.info(json.dumps({"event": "incremental_attribution", **result.summary()}))
    return result


def current_run_id(db: Database) -> str | None:
    rows = db.read("attribution/read_current_run")
    return rows[0]["run_id"] if rows else None


def _attempt(
    db: Database, account_ids: Sequence[str], params: AttributionParams, max_accounts: int, ingest_id: str | None
) -> IncrementalResult:
    run_id = current_run_id(db)
    if run_id is None:
        return IncrementalResult(run_id=None, skipped="no current attribution run yet")
    candidates = _unattributed(db, run_id, account_ids)
    result = IncrementalResult(run_id=run_id, candidates=len(candidates))
    if not candidates:
        result.skipped = "no new unattributed accounts"
        return result
    if len(candidates) > max_accounts:
        result.skipped = f"{len(candidates)} new accounts (more than {max_accounts}): left to the full run"
        return result
    artifacts = run_dir(db.settings, run_id)
    if not (artifacts / "model.json").is_file():
        result.skipped = f"run {run_id} has no stored evidence model ({artifacts / 'model.json'}); left to the full run"
        return result
    model = FSModel.from_json((artifacts / "model.json").read_text())
    pool_file = artifacts / "pool_templates.parquet"
    pools = pq.read_table(pool_file) if pool_file.is_file() else None
    members = {r["operator_id"]: r["members"] for r in db.read("attribution/read_current_assignment")}
    rejected = _rejected(db, candidates)
    inputs = read_inputs(db.settings)
    t = build_pair_tables(
        inputs.links, inputs.accounts, memory_limit=db.settings.attribution.memory_limit,
        spill_dir=str(db.settings.home / "tmp"), pool_templates=pools,
        hub_fraction=params.hub_fraction, hub_min_accounts=params.hub_min_accounts,
    )
    try:
        placements, evidence = place_accounts(t, model, params, members, candidates, rejected, inputs.accounts)
    finally:
        t.con.close()
    result.placements = placements
    if placements:
        # The full run's rows: a hijacked account is attributed from its takeover on here too.
        rows = list(attribution_rows(
            ((a, p.operator_id, round(p.confidence, 6), evidence.get(a, "[]")) for a, p in sorted(placements.items())),
            inputs.epochs,
        ))
        out = db.write("jobs/create_provisional_attributions", rows=rows, run_id=run_id, ingest_id=ingest_id)
        result.created = int(out[0]["created"]) if out else 0
        if result.created:
            # The API caches answers per run and data version: new provisional members change them.
            db.write("db/bump_data_version", reason="incremental placement")
    return result


def place_accounts(
    t: PairTables,
    model: FSModel,
    params: AttributionParams,
    members: dict[str, list[str]],
    new_accounts: Sequence[str],
    rejected: set[tuple[str, str]],
    accounts: pa.Table,
) -> tuple[dict[str, Placement], dict[str, str]]:
    """Place ``new_accounts`` with the operators of ``members`` (operator -> account ids), by the
    run's pairwise model and each operator's membership model. Pure (no database)."""
    index = {str(a): i for i, a in enumerate(t.account_ids)}
    focus = np.array(sorted(index[a] for a in new_accounts if a in index), dtype=np.int64)
    if len(focus) == 0 or not members:
        return {}, {}
    pairs, match_weight = score_candidates(t, model, params, focus)
    edges = edges_of(pairs, match_weight, params)
    operators = sorted(members)
    gid_of_op = {op: i for i, op in enumerate(operators)}
    group_of = np.full(t.n_accounts, -1, dtype=np.int64)
    for op, ms in members.items():
        for a in ms:
            if a in index:
                group_of[index[a]] = gid_of_op[op]
    fresh = np.zeros(t.n_accounts, dtype=bool)
    fresh[focus] = True
    profiles = build_profiles(accounts, t.account_ids)
    placed: dict[int, tuple[int, float]] = {}  # aid -> (gid, log-odds)
    for _ in range(MAX_ROUNDS):
        src = np.concatenate([edges.a, edges.b])
        dst = np.concatenate([edges.b, edges.a])
        g = group_of[dst]
        keep = fresh[src] & (g >= 0) & ~np.isin(src, list(placed))
        if not keep.any():
            break
        cand = np.unique(np.stack([src[keep], g[keep]], axis=1), axis=0)
        groups_needed = np.unique(cand[:, 1])
        in_needed = np.isin(group_of, groups_needed)
        groups = pa.table({"aid": pa.array(np.flatnonzero(in_needed), pa.int32()), "gid": pa.array(group_of[in_needed], pa.int64())})
        candidates = pa.table({"aid": pa.array(cand[:, 0], pa.int32()), "gid": pa.array(cand[:, 1], pa.int64())})
        scores = membership_scores(
            t.con, t.n_accounts, groups, candidates, MEMBERSHIP_COMPARISONS, profiles, keep_from=params.membership_probability
        )
        tbl = scores.table
        aid = tbl.column("aid").to_numpy()
        gid = tbl.column("gid").to_numpy()
        member = np.asarray(tbl.column("member").to_numpy(zero_copy_only=False), dtype=bool)
        post = tbl.column("posterior").to_numpy()
        lo = tbl.column("log_odds").to_numpy()
        ok = ~member & fresh[aid] & is_accepted(post, params.membership_probability)
        ok &= np.array([(str(t.account_ids[a]), operators[g]) not in rejected for a, g in zip(aid, gid)], dtype=bool) if len(aid) else ok
        round_new = 0
        for i in np.flatnonzero(ok)[np.argsort(-lo[ok], kind="stable")]:
            a = int(aid[i])
            if a in placed:
                continue
            placed[a] = (int(gid[i]), float(lo[i]))
            group_of[a] = int(gid[i])
            round_new += 1
        if round_new == 0:
            break
    if not placed:
        return {}, {}
    aids = np.array(sorted(placed), dtype=np.int64)
    conf = calibrate(np.array([placed[a][1] for a in aids]))
    placements = {
        str(t.account_ids[a]): Placement(operators[placed[a][0]], float(c), placed[a][1]) for a, c in zip(aids, conf)
    }
    # Evidence only for the operators that received an account.
    used = np.isin(group_of, [g for g, _ in placed.values()])
    member_rows = pa.table(
        {
            "aid": pa.array(np.flatnonzero(used), pa.int32()),
            "operator_id": pa.array([operators[g] for g in group_of[used]], pa.string()),
        }
    )
    ev = evidence_tables(t.con, model, member_rows)
    return placements, {a: ev.accounts.get(a, "[]") for a in placements}


def _unattributed(db: Database, run_id: str, account_ids: Sequence[str]) -> list[str]:
    found: list[str] = []
    for batch in _batches(sorted(set(account_ids)), READ_BATCH):
        found += [r["account_id"] for r in db.read("jobs/read_unattributed_accounts", account_ids=batch, run_id=run_id)]
    return found


def _rejected(db: Database, candidates: list[str]) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for batch in _batches(candidates, READ_BATCH):
        out |= {(r["account_id"], r["operator_id"]) for r in db.read("jobs/read_rejected_decisions", account_ids=batch)}
    return out


def _batches(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
