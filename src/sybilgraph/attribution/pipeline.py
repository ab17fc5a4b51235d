"""``sybilgraph attribute``: link accounts to operators and score campaigns.

Phases (each timed and stored on the run):
1. *read*: account-identifier links, labels, analyst decisions and the current operators, from Neo4j.
2. *similarity*: weighted account pairs from shared identifiers (``candidates.py``).
3. *communities*: Leiden on the GDS projection of those pairs (``communities.py``).
4. *operators*: clusters, stable ids (``matching.py``), analyst decisions, labels, evidence,
   campaign scores (``scoring.py``).
5. *write*: everything under the new run id, then one transaction makes the run current.

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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa

from sybilgraph import cypher
from sybilgraph.attribution import scoring
from sybilgraph.attribution.candidates import edges_and_weighted_links
from sybilgraph.attribution.clusters import Cluster, build_clusters
from sybilgraph.attribution.communities import detect_communities
from sybilgraph.attribution.evidence import evidence_tables
from sybilgraph.attribution.matching import match_operators
from sybilgraph.attribution.params import AttributionParams
from sybilgraph.db.lease import ATTRIBUTION_LEASE, Lease, hold
from sybilgraph.db.session import Database
from sybilgraph.errors import AttributionError
from sybilgraph.identifiers import KINDS
from sybilgraph.progress import NullReporter, Reporter
from sybilgraph.timing import timed

__all__ = ["run_attribution", "AttributionResult", "LOCK_NAME", "KEEP_RUNS"]

log = logging.getLogger("sybilgraph.attribution")

LOCK_NAME = ATTRIBUTION_LEASE
KEEP_RUNS = 10  # complete runs whose account attributions are kept as history
KIND_OF_REL = {k.rel: k.name for k in KINDS.values()}
LINK_SCHEMA = pa.schema(
    [("account_id", pa.string()), ("kind", pa.string()), ("value", pa.string()),
     ("n_accounts", pa.int64()), ("count", pa.int64())]
)


@dataclass
class AttributionResult:
    run_id: str
    timings_s: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    peak_rss_mb: dict[str, int] = field(default_factory=dict)
    # The weighted account pairs communities were detected on, only when asked (benchmarks
    # re-project them to time bare Leiden); None otherwise, so runs do not hold them.
    edges: pa.Table | None = field(default=None, repr=False)


def new_run_id() -> str:
    return f"run-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def run_attribution(
    db: Database,
    params: AttributionParams | None = None,
    reporter: Reporter | None = None,
    run_id: str | None = None,
    keep_edges: bool = False,
) -> AttributionResult:
    params = params or AttributionParams()
    reporter = reporter or NullReporter()
    run_id = run_id or new_run_id()
    holder = f"{socket.gethostname()}:{os.getpid()}:{run_id}"
    with _lock(db, holder) as lease:
        db.write("attribution/mark_abandoned_runs", run_id=run_id)
        db.write("attribution/create_run", run_id=run_id, seed=params.seed, params_json=params.to_json())
        result = AttributionResult(run_id=run_id)
        try:
            _run(db, params, reporter, result, lease, keep_edges)
        except BaseException as e:
            db.write("attribution/fail_run", run_id=run_id, error=f"{type(e).__name__}: {e}")
            if isinstance(e, Exception) and not isinstance(e, AttributionError):
                raise AttributionError(f"attribution run {run_id} failed: {e}; the previous run stays current") from e
            raise
        _prune_history(db)
        return result


def _run(
    db: Database, params: AttributionParams, reporter: Reporter, result: AttributionResult, lease: Lease,
    keep_edges: bool = False,
) -> None:
    run_id = result.run_id
    with _phase(db, result, "read", lease):
        links = read_links(db)
        population = db.read("attribution/read_population_summary")[0]
        n_total = int(population["accounts"])
        previous = {r["operator_id"]: r["members"] for r in db.read("attribution/read_current_assignment")}
        decisions = db.read("attribution/read_decisions")
        labels = db.read("attribution/read_labels")
        analyst_labels = {r["operator_id"]: r["label"] for r in db.read("attribution/read_analyst_labels")}
    result.counts.update(accounts=n_total, links=links.num_rows)

    with _phase(db, result, "similarity", lease):
        edges, wl = edges_and_weighted_links(
            links, n_total, params,
            memory_limit=db.settings.attribution.memory_limit, spill_dir=str(db.settings.home / "tmp"),
        )
        del links  # the weighted links carry everything later phases need
    result.counts["edges"] = edges.num_rows
    result.edges = edges if keep_edges else None

    with _phase(db, result, "communities", lease):
        communities = detect_communities(db, edges, params, graph_name=f"sybilgraph-{run_id}")
    result.timings_s.update({f"communities.{k}": v for k, v in communities.timings_s.items()})

    with _phase(db, result, "operators", lease):
        with timed(result.timings_s, "operators.clusters"):
            clusters = build_clusters(communities, edges, params)
        with timed(result.timings_s, "operators.matching"):
            match = match_operators([c.members for c in clusters], previous, params.match_min_overlap)
            membership, confidence = _apply_decisions(clusters, match.ids, decisions)
        members_table = pa.table(
            {
                "account_id": [a for op, ms in membership.items() for a in ms],
                "operator_id": [op for op, ms in membership.items() for _ in ms],
            },
            schema=pa.schema([("account_id", pa.string()), ("operator_id", pa.string())]),
        )
        with timed(result.timings_s, "operators.evidence"):
            ev = evidence_tables(
                wl, members_table,
                memory_limit=db.settings.attribution.memory_limit, spill_dir=str(db.settings.home / "tmp"),
            )
        with timed(result.timings_s, "operators.scores"):
            operator_rows = _score_operators(db, membership, ev, population, labels, analyst_labels, params)
    result.counts.update(operators=len(operator_rows), attributed=members_table.num_rows,
                         flagged_operators=sum(r["flagged"] for r in operator_rows))

    with _phase(db, result, "write", lease):
        db.write_batches("attribution/merge_operators", operator_rows, 2_000, run_id=run_id)
        rows = (
            {"account_id": a, "operator_id": op, "confidence": confidence[a], "evidence_json": ev.accounts.get(a, "[]")}
            for op, ms in membership.items()
            for a in ms
        )
        db.write_batches("attribution/create_attributions", rows, 10_000, run_id=run_id)
        lineage = [{"kind": lin.kind, "child": lin.child, "parent": lin.parent, "shared": lin.shared} for lin in match.lineage]
        db.write_batches("attribution/merge_lineage", lineage, 2_000, run_id=run_id)
    result.counts["lineage_events"] = len(match.lineage)
    db.write(
        "attribution/promote_run",
        fence=lease.fence,
        run_id=run_id,
        timings_json=json.dumps(result.timings_s),
        counts_json=json.dumps({**result.counts, "peak_rss_mb": result.peak_rss_mb}),
    )


def read_links(db: Database, chunk_rows: int = 200_000) -> pa.Table:
    """Every account-identifier link the graph holds, with rarity and usage count.

    Records become Arrow in chunks, so millions of links never sit in memory as Python objects.
    """
    chunks: list[pa.RecordBatch] = []
    cols: tuple[list[Any], ...] = ([], [], [], [], [])

    def flush() -> None:
        if cols[0]:
            chunks.append(pa.RecordBatch.from_arrays([pa.array(c) for c in cols], schema=LINK_SCHEMA))
            for c in cols:
                c.clear()

    with db.session() as s:
        for account_id, rel, value, n, count in s.run(cypher.load("attribution/read_links")):
            cols[0].append(account_id)
            cols[1].append(KIND_OF_REL[rel])
            cols[2].append(value)
            cols[3].append(n)
            cols[4].append(count)
            if len(cols[0]) >= chunk_rows:
                flush()
    flush()
    return pa.Table.from_batches(chunks, schema=LINK_SCHEMA)


def _apply_decisions(
    clusters: list[Cluster], ids: list[str], decisions: list[dict[str, Any]]
) -> tuple[dict[str, set[str]], dict[str, float]]:
    """Analyst decisions win over the algorithm: rejected pairs are undone, confirmed ones kept."""
    membership: dict[str, set[str]] = {op: set(c.members) for op, c in zip(ids, clusters)}
    confidence: dict[str, float] = {a: c.confidence[a] for c in clusters for a in c.members}
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


def _score_operators(
    db: Database,
    membership: dict[str, set[str]],
    ev: Any,
    population: dict[str, Any],
    labels: list[dict[str, Any]],
    analyst_labels: dict[str, str],
    params: AttributionParams,
) -> list[dict[str, Any]]:
    all_members = sorted(a for ms in membership.values() for a in ms)
    activity: dict[str, scoring.AccountActivity] = {}
    for start in range(0, len(all_members), 5_000):
        for r in db.read("attribution/read_account_activity", account_ids=all_members[start : start + 5_000]):
            activity[r["account_id"]] = scoring.account_activity(
                r["created_at"] or 0, r["n_interactions"], r["input_tokens"], r["output_tokens"],
                r["first_interaction"], r["last_interaction"], r["hour_hist"], r["category_names"], r["category_counts"],
            )
    baseline = scoring.PopulationBaseline(
        per_active_day=float(population["per_active_day"] or 1.0) or 1.0,
        output_ratio=float(population["output_ratio"] or 1.0) or 1.0,
    )
    labels_of: dict[str, list[str]] = defaultdict(list)
    for r in labels:
        labels_of[r["account_id"]].append(r["label"])

    rows = []
    for op, members in membership.items():
        size = len(members)
        info = ev.operators.get(op, {"evidence_json": "[]", "top_template_members": 0, "top_tls_members": 0})
        feats = scoring.operator_features(
            [activity[a] for a in members if a in activity],
            baseline,
            template_reuse=info["top_template_members"] / size,
            automation_tls=info["top_tls_members"] / size,
        )
        score = scoring.campaign_score(feats)
        label, conflict = _operator_label(members, labels_of, analyst_labels.get(op))
        rows.append(
            {
                "operator_id": op,
                "size": size,
                "campaign_score": round(score, 6),
                "flagged": score >= params.flag_threshold and size >= params.flag_min_accounts,
                "label": label,
                "label_conflict": conflict,
                "features_json": json.dumps({k: round(v, 4) for k, v in feats.items()}),
                "evidence_json": info["evidence_json"],
            }
        )
    return rows


def _operator_label(members: set[str], labels_of: dict[str, list[str]], analyst: str | None) -> tuple[str | None, list[str]]:
    counts = Counter(lbl for a in members for lbl in labels_of.get(a, ()))
    names = sorted(counts, key=lambda n: (-counts[n], n))
    if analyst:
        return analyst, [n for n in names if n != analyst]
    if not names:
        return None, []
    return names[0], names[1:]


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
