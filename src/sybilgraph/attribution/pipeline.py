"""``sybilgraph attribute``: link accounts to operators and score campaigns.

Phases (each timed and stored on the run):
1. *read*: links and account features from the columnar store (``inputs.py``); analyst
   decisions, labels and the current operators from Neo4j.
2. *evidence*: the pairwise Fellegi-Sunter model fitted on this bundle (``evidence_model.py``):
   template pools, candidate pairs, u from random pairs, m by EM, the prior; pairs whose match
   probability reaches the Bayes decision become edges.
3. *communities*: Leiden on the GDS projection of those edges (``communities.py``).
4. *operators*: pieces merged, members judged by each group's own model (``grouping.py``,
   ``membership.py``), stable ids (``matching.py``), analyst decisions, labels, evidence, campaign
   scores (``scoring.py``), calibrated confidence (``calibration.py``).
5. *write*: everything under the new run id, with the fitted model; then one transaction makes
   the run current.

Only one attribution runs at a time (the fenced ``attribution`` lease, db/lease.py, renewed by a
heartbeat; the promotion is a fenced write, so a run that lost its lease cannot become current).
Until the final promotion the previous run stays current; a run that dies is marked failed by the next one, which also
deletes its relationships.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import secrets
import socket
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sybilgraph.attribution import scoring
from sybilgraph.attribution.calibration import calibrate, load_calibration
from sybilgraph.attribution.communities import detect_communities
from sybilgraph.attribution.evidence import evidence_tables
from sybilgraph.attribution.evidence_model import fit_pair_model
from sybilgraph.attribution.grouping import Edges, Grouping, edges_of, group_accounts
from sybilgraph.attribution.inputs import LINK_SCHEMA, read_inputs
from sybilgraph.attribution.matching import match_operators
from sybilgraph.attribution.organisations import attribute_organisations
from sybilgraph.attribution.pairs import PairTables, build_pair_tables, pool_templates
from sybilgraph.attribution.params import AttributionParams
from sybilgraph.attribution.profiles import build_profiles
from sybilgraph.db.lease import ATTRIBUTION_LEASE, Lease, hold
from sybilgraph.db.session import Database
from sybilgraph.errors import AttributionError
from sybilgraph.progress import NullReporter, Reporter
from sybilgraph.timing import timed

__all__ = ["run_attribution", "AttributionResult", "LOCK_NAME", "KEEP_RUNS", "attribution_rows", "read_links", "run_dir"]

log = logging.getLogger("sybilgraph.attribution")

LOCK_NAME = ATTRIBUTION_LEASE
KEEP_RUNS = 10  # complete runs whose account attributions are kept as history


@dataclass
class AttributionResult:
    run_id: str
    timings_s: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    peak_rss_mb: dict[str, int] = field(default_factory=dict)
    # The edges communities were detected on, only when asked (benchmarks re-project them to
    # time bare Leiden); None otherwise, so runs do not hold them.
    edges: Edges | None = field(default=None, repr=False)
    # Per operator (features, score, size) and per placed account (operator, membership
    # log-odds), only when asked: `sybilgraph calibrate` fits the score and the calibration on them.
    details: dict[str, Any] | None = field(default=None, repr=False)


def new_run_id() -> str:
    return f"run-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def run_dir(settings: Any, run_id: str) -> Path:
    """Where a run keeps its fitted model and derived tables (for explanations and incremental)."""
    return Path(settings.runs_dir) / "attribution" / run_id


def run_attribution(
    db: Database,
    params: AttributionParams | None = None,
    reporter: Reporter | None = None,
    run_id: str | None = None,
    keep_edges: bool = False,
    keep_details: bool = False,
    null_accounts: Collection[str] | None = None,
) -> AttributionResult:
    """One attribution run. ``keep_details`` keeps per-operator features and per-account log-odds
    on the result (for ``sybilgraph calibrate``); with it, ``null_accounts`` (calibrate's benign
    truth) also yields the null groups of :func:`null_group_features`."""
    params = params or AttributionParams()
    reporter = reporter or NullReporter()
    run_id = run_id or new_run_id()
    holder = f"{socket.gethostname()}:{os.getpid()}:{run_id}"
    with _lock(db, holder) as lease:
        db.write("attribution/mark_abandoned_runs", run_id=run_id)
        db.write("attribution/create_run", run_id=run_id, seed=params.seed, params_json=params.to_json())
        result = AttributionResult(run_id=run_id)
        try:
            _run(db, params, reporter, result, lease, keep_edges, keep_details, null_accounts)
        except BaseException as e:
            db.write("attribution/fail_run", run_id=run_id, error=f"{type(e).__name__}: {e}")
            if isinstance(e, Exception) and not isinstance(e, AttributionError):
                raise AttributionError(f"attribution run {run_id} failed: {e}; the previous run stays current") from e
            raise
        _prune_history(db)
        return result


def _run(
    db: Database, params: AttributionParams, reporter: Reporter, result: AttributionResult, lease: Lease,
    keep_edges: bool = False, keep_details: bool = False, null_accounts: Collection[str] | None = None,
) -> None:
    run_id = result.run_id
    settings = db.settings
    with _phase(db, result, "read", lease):
        inputs = read_inputs(settings)
        previous = {r["operator_id"]: r["members"] for r in db.read("attribution/read_current_assignment")}
        decisions = db.read("attribution/read_decisions")
        labels = db.read("attribution/read_labels")
        analyst_labels = {r["operator_id"]: r["label"] for r in db.read("attribution/read_analyst_labels")}
        organisation_decisions = db.read("attribution/read_organisation_decisions")
    result.counts.update(accounts=inputs.n_accounts, links=inputs.links.num_rows)

    spill = str(settings.home / "tmp")
    with _phase(db, result, "evidence", lease):
        with reporter.phase("evidence model"):
            t = build_pair_tables(
                inputs.links, inputs.accounts, memory_limit=settings.attribution.memory_limit, spill_dir=spill,
                hub_fraction=params.hub_fraction, hub_min_accounts=params.hub_min_accounts,
            )
            fitted = fit_pair_model(t, params, inputs.labels)
            edges = edges_of(fitted.pairs, fitted.match_weight, params)
    result.counts.update(fitted.counts)
    result.counts["edges"] = len(edges)
    result.edges = edges if keep_edges else None

    try:
        with _phase(db, result, "communities", lease):
            communities = detect_communities(db, edges, t.n_accounts, params, graph_name=f"sybilgraph-{run_id}")
        result.timings_s.update({f"communities.{k}": v for k, v in communities.timings_s.items()})

        with _phase(db, result, "operators", lease):
            with timed(result.timings_s, "operators.membership"):
                profiles = build_profiles(inputs.accounts, t.account_ids)
                grouping = group_accounts(t, edges, communities.community, params, profiles)
            result.counts["merges"] = grouping.merges
            with timed(result.timings_s, "operators.matching"):
                clusters, confidence = _clusters(t, grouping, params)
                match = match_operators(clusters, previous, params.match_min_overlap)
                membership, confidence = _apply_decisions(clusters, match.ids, confidence, decisions)
            members_table = _members_table(t, membership)
            with timed(result.timings_s, "operators.evidence"):
                ev = evidence_tables(t.con, fitted.model, members_table)
                shares = _operator_shares(t, members_table)
            with timed(result.timings_s, "operators.scores"):
                operator_rows = _score_operators(t, profiles, membership, ev, shares, labels, analyst_labels, params)
            with timed(result.timings_s, "operators.organisations"):
                orgs = attribute_organisations(inputs.state, membership, operator_rows, organisation_decisions,
                                               params.models_dir, settings.attribution.memory_limit,
                                               keep_candidates=keep_details)
            if keep_details:
                result.details = {**_details(t, grouping, operator_rows, membership), "organisations": orgs}
                if null_accounts is not None:
                    result.details["null_groups"] = null_group_features(t, profiles, null_accounts, params.flag_min_accounts)
        result.counts.update(
            operators=len(operator_rows), attributed=members_table.num_rows,
            flagged_operators=sum(r["flagged"] for r in operator_rows), **orgs.counts,
        )
        _save_run_artifacts(settings, run_id, fitted.model.to_json(), t)
    finally:
        t.con.close()

    with _phase(db, result, "write", lease):
        db.write("attribution/set_run_model", run_id=run_id, model_json=fitted.model.to_json())
        db.write_batches("attribution/merge_operators", operator_rows, 2_000, run_id=run_id)
        rows = attribution_rows(
            ((a, op, confidence[a], ev.accounts.get(a, "[]")) for op, ms in membership.items() for a in ms), inputs.epochs
        )
        db.write_batches("attribution/create_attributions", rows, 10_000, run_id=run_id)
        lineage = [{"kind": lin.kind, "child": lin.child, "parent": lin.parent, "shared": lin.shared} for lin in match.lineage]
        db.write_batches("attribution/merge_lineage", lineage, 2_000, run_id=run_id)
        db.write_batches("attribution/create_organisation_hypotheses", orgs.rows(), 2_000, run_id=run_id)
    result.counts["lineage_events"] = len(match.lineage)
    db.write(
        "attribution/promote_run",
        fence=lease.fence,
        run_id=run_id,
        timings_json=json.dumps(result.timings_s),
        counts_json=json.dumps({**result.counts, "peak_rss_mb": result.peak_rss_mb}),
    )


def _clusters(t: PairTables, g: Grouping, params: AttributionParams) -> tuple[list[list[str]], dict[str, float]]:
    """Member account ids per group (largest first), and each member's calibrated confidence."""
    ids = t.account_ids
    conf = calibrate(g.log_odds, load_calibration(params.models_dir))
    confidence = {str(ids[a]): float(round(c, 6)) for a, c in zip(g.aid, conf)}
    by_group: dict[int, list[str]] = defaultdict(list)
    for a, gid in zip(g.aid, g.gid):
        by_group[int(gid)].append(str(ids[a]))
    clusters = [sorted(ms) for ms in by_group.values()]
    clusters.sort(key=lambda ms: (-len(ms), ms[0]))
    return clusters, confidence


def _members_table(t: PairTables, membership: dict[str, set[str]]) -> pa.Table:
    index = {str(a): i for i, a in enumerate(t.account_ids)}
    aids, ops = [], []
    for op, ms in membership.items():
        for a in ms:
            if a in index:
                aids.append(index[a])
                ops.append(op)
    return pa.table({"aid": pa.array(aids, pa.int32()), "operator_id": pa.array(ops, pa.string())})


def read_links(db: Database) -> pa.Table:
    """Every account-identifier link the graph holds, with rarity and usage count (from the
    columnar store, which holds what the graph holds)."""
    return read_inputs(db.settings).links.cast(LINK_SCHEMA)


def _apply_decisions(
    clusters: list[list[str]], ids: list[str], confidence: dict[str, float], decisions: list[dict[str, Any]]
) -> tuple[dict[str, set[str]], dict[str, float]]:
    """Analyst decisions win over the algorithm: rejected pairs are undone, confirmed ones kept."""
    membership: dict[str, set[str]] = {op: set(c) for op, c in zip(ids, clusters)}
    confidence = dict(confidence)
    for d in sorted(decisions, key=lambda d: d["decision"] != "rejected"):
        account, op = d["account_id"], d["operator_id"]
        if d["decision"] == "rejected":
            if account in membership.get(op, ()):
                membership[op].discard(account)
                confidence.pop(account, None)
        elif d["decision"] == "confirmed":
            for members in membership.values():
                members.discard(account)
            membership.setdefault(op, set()).add(account)
            confidence[account] = 1.0
    membership = {op: ms for op, ms in membership.items() if ms}
    return {op: set(sorted(ms)) for op, ms in sorted(membership.items())}, confidence


_SHARES_SQL = """
WITH ml AS (
    SELECT m.operator_id, l.aid, l.vid, l.kind, l.n
    FROM lk l JOIN membership m USING (aid)
),
vin AS (
    SELECT operator_id, vid, any_value(kind) AS kind, any_value(n) AS n, count(*) AS n_in
    FROM ml GROUP BY operator_id, vid
),
sizes AS (SELECT operator_id, count(*)::DOUBLE AS size FROM membership GROUP BY operator_id),
flags AS (
    SELECT ml.operator_id, ml.aid,
           bool_or(v.kind IN ('tls', 'user_agent') AND v.n_in >= 2 AND 2 * v.n_in >= v.n) AS owned_client,
           bool_or(v.kind = 'card' AND v.n_in >= 2) AS shared_card,
           bool_or(v.kind = 'email_domain' AND v.n_in >= 2 AND 2 * v.n_in >= v.n) AS own_domain
    FROM ml JOIN vin v USING (operator_id, vid)
    GROUP BY ml.operator_id, ml.aid
),
pool AS (
    SELECT operator_id, max(n_in) AS top FROM vin WHERE kind = 'template_pool' GROUP BY operator_id
)
SELECT s.operator_id,
       coalesce(count(*) FILTER (WHERE f.owned_client), 0) / s.size AS owned_client,
       coalesce(count(*) FILTER (WHERE f.shared_card), 0) / s.size AS shared_card,
       coalesce(count(*) FILTER (WHERE f.own_domain), 0) / s.size AS own_domain,
       coalesce(any_value(p.top), 0) / s.size AS template_pool
FROM sizes s LEFT JOIN flags f USING (operator_id) LEFT JOIN pool p USING (operator_id)
GROUP BY s.operator_id, s.size
"""


def _operator_shares(t: PairTables, members: pa.Table) -> dict[str, dict[str, float]]:
    """Per operator, the shares of members on its own identifiers (campaign-score features)."""
    t.con.register("membership", members)
    try:
        rows = t.con.execute(_SHARES_SQL).fetchall()
    finally:
        t.con.unregister("membership")
    return {
        op: {"owned_client": oc, "shared_card": sc, "own_domain": od, "template_pool": tp}
        for op, oc, sc, od, tp in rows
    }


def _score_operators(
    t: PairTables,
    profiles: Any,
    membership: dict[str, set[str]],
    ev: Any,
    shares: dict[str, dict[str, float]],
    labels: list[dict[str, Any]],
    analyst_labels: dict[str, str],
    params: AttributionParams,
) -> list[dict[str, Any]]:
    labels_of: dict[str, list[str]] = defaultdict(list)
    for r in labels:
        labels_of[r["account_id"]].append(r["label"])
    model = scoring.load_score_model(params.models_dir)
    features = _group_features(t, profiles, membership, shares)
    rows = []
    for op, members in membership.items():
        size = len(members)
        feats = features[op]
        score = model.score(feats)
        label, conflict = _operator_label(members, labels_of, analyst_labels.get(op))
        rows.append(
            {
                "operator_id": op,
                "size": size,
                "campaign_score": round(score, 6),
                "flagged": score >= params.flag_threshold and size >= params.flag_min_accounts,
                "label": label,
                "label_conflict": conflict,
                "features_json": json.dumps(feats),
                "evidence_json": ev.operators.get(op, "[]"),
            }
        )
    return rows


def _group_features(
    t: PairTables, profiles: Any, membership: dict[str, set[str]], shares: dict[str, dict[str, float]]
) -> dict[str, dict[str, float]]:
    """Campaign-score features of each group of accounts (operators, or calibrate's null groups)."""
    index = {str(a): i for i, a in enumerate(t.account_ids)}
    baseline = scoring.population_baseline(profiles)
    out = {}
    for op, members in membership.items():
        ids = np.array([index[a] for a in members if a in index], dtype=np.int64)
        out[op] = scoring.operator_features(ids, profiles, baseline, shares.get(op, {})) if len(ids) else dict.fromkeys(scoring.FEATURES, 0.0)
    return out


# Every value the pair model compares on (identifiers used by 2 accounts up to the hub cut-off,
# and template pools: ``lk`` of pairs.py holds exactly those), with its users. Single templates
# are not compared, so they are not values here either: they count through their pools.
_VALUE_USERS_SQL = """
SELECT kind, vid, list(aid ORDER BY aid) AS aids FROM lk GROUP BY kind, vid HAVING count(*) >= $min_size
ORDER BY kind, vid
"""


def null_group_features(
    t: PairTables, profiles: Any, accounts: Collection[str], min_size: int
) -> list[dict[str, Any]]:
    """Null groups for ``sybilgraph calibrate``: for every linkable identifier value, the accounts
    of ``accounts`` (the benign truth) that use it, one group when at least ``min_size``.

    A false accusation is a group of strangers held together by something they share (a niche
    client of heavy developers, a campus exit, a popular template). The operators attribution
    happens to form on the training draws show the score only those benign families the
    grouping fused there; the null groups show it every such group the benign population could
    form, so a family never fused in training (developers on one client at scale 0.2) is still a
    negative it has seen. Features as for operators (:func:`_group_features`)."""
    ids = np.asarray([str(a) for a in t.account_ids], dtype=object)
    keep = np.isin(ids, np.asarray(list(accounts), dtype=object))
    users = t.con.execute(_VALUE_USERS_SQL, {"min_size": min_size}).fetchall()
    groups: dict[str, set[str]] = {}
    for kind, vid, aids in users:
        a = np.asarray(aids, dtype=np.int64)
        a = a[keep[a]]
        if len(a) >= min_size:
            groups[f"null:{kind}:{vid}"] = set(ids[a].tolist())
    if not groups:
        return []
    shares = _operator_shares(t, _members_table(t, groups))
    features = _group_features(t, profiles, groups, shares)
    return [{"group_id": g, "size": len(ms), "features": features[g]} for g, ms in groups.items()]


def _details(t: PairTables, g: Grouping, operator_rows: list[dict[str, Any]], membership: dict[str, set[str]]) -> dict[str, Any]:
    operator_of = {a: op for op, ms in membership.items() for a in ms}
    ids = t.account_ids
    return {
        "operators": [
            {"operator_id": r["operator_id"], "size": r["size"], "campaign_score": r["campaign_score"],
             "features": json.loads(r["features_json"])}
            for r in operator_rows
        ],
        "members": [
            {"account_id": str(ids[a]), "operator_id": operator_of.get(str(ids[a])), "log_odds": float(lo)}
            for a, lo in zip(g.aid, g.log_odds)
        ],
    }


def _operator_label(members: set[str], labels_of: dict[str, list[str]], analyst: str | None) -> tuple[str | None, list[str]]:
    counts = Counter(lbl for a in members for lbl in labels_of.get(a, ()))
    names = sorted(counts, key=lambda n: (-counts[n], n))
    if analyst:
        return analyst, [n for n in names if n != analyst]
    if not names:
        return None, []
    return names[0], names[1:]


def attribution_rows(assignments: Iterable[tuple[str, str, float, str]], epochs: pa.Table) -> Iterator[dict[str, Any]]:
    """The rows of ``(:Account)-[:ATTRIBUTED_TO]->(:Operator)``, for the full run and incremental
    placement alike, from (account, operator, confidence, evidence_json): each carries
    ``controlled_from``, when the account's control changed (epoch ms, ``epochs.py``; None for an
    account with one life), because it is attributed by what it did from then on."""
    since = dict(zip(epochs.column("account_id").to_pylist(), epochs.column("controlled_from").to_pylist()))
    for account_id, operator_id, confidence, evidence_json in assignments:
        yield {"account_id": account_id, "operator_id": operator_id, "confidence": confidence,
               "evidence_json": evidence_json, "controlled_from": since.get(account_id)}


def _save_run_artifacts(settings: Any, run_id: str, model_json: str, t: PairTables) -> None:
    """The fitted model and the template pools of the run, for explanations and incremental."""
    target = run_dir(settings, run_id)
    target.mkdir(parents=True, exist_ok=True)
    (target / "model.json").write_text(model_json)
    pools = t.con.sql(
        """
        SELECT a.account_id, v.kind, v.value AS pool
        FROM lk l JOIN vals v USING (vid) JOIN accts a USING (aid)
        WHERE l.kind IN ('template_pool', 'loose_pool')
        ORDER BY a.account_id, v.value
        """
    ).to_arrow_table()
    pq.write_table(pools, target / "pools.parquet")
    pq.write_table(pool_templates(t), target / "pool_templates.parquet")


@contextmanager
def _lock(db: Database, holder: str) -> Iterator[Lease]:
    s = db.settings  # LeaseBusy when another run holds it
    with hold(db, LOCK_NAME, ttl_s=s.lease_ttl_s, heartbeat_s=s.lease_heartbeat_s, holder=holder) as lease:
        yield lease


@contextmanager
def _phase(db: Database, result: AttributionResult, name: str, lease: Lease) -> Iterator[None]:
    lease.check()  # LeaseLost when the heartbeat could not keep it
    db.write("attribution/update_run_progress", run_id=result.run_id, progress=name)
    with timed(result.timings_s, name):
        yield
    # Peak resident memory so far (Linux reports KiB): which phase grows the process.
    result.peak_rss_mb[name] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    log.info(json.dumps({"event": "attribution_phase", "run_id": result.run_id, "phase": name, "seconds": result.timings_s[name]}))


def _prune_history(db: Database) -> None:
    keep = [r["run_id"] for r in db.read("attribution/read_recent_runs", limit=KEEP_RUNS)]
    db.run_autocommit("attribution/delete_run_relationships", keep_run_ids=keep)
    db.write("attribution/delete_orphan_organisations")
