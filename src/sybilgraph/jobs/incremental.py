"""Incremental attribution: place newly ingested accounts with existing operators in seconds.

Why: a full run (Leiden over the whole evidence graph) takes minutes at production scale and
runs hourly; an operator's fresh account should show up with its operator right after its
bundle lands, not at the next full run. This module does not rerun community detection. It asks
one question per new account: does its evidence, weighed exactly as the full run weighs it,
point at the members of one current operator?

The evidence model is the full run's (``attribution/weights.py``, ``params.py``,
``candidates.py``): each identifier the new account shares with another account weighs
``kind_weight * ln(N / n)`` (hubs weigh nothing), scaled by how much both accounts rely on it,
summed per family, with the content-overlap rule; a pair is an edge only when its sum reaches
``min_edge_weight`` *and* it is corroborated (a personal identifier such as a card or device,
a small IP, two families, or one overwhelming family). Unlike the full run, every pair of the
new account with its neighbours is weighed exactly (the sorted-neighbourhood window exists to
bound all-pairs work over the whole population; one account's pairs are few).

An account then joins the operator whose members hold the largest share of its edge weight,
when that share (purity) reaches ``min_purity``, no analyst rejected the pair, and, as the full
run's core rule demands (``clusters.py``), its weight into the operator is at least
``core_ratio`` times that of the operator's typical member (operators of ``core_min_size`` or
more; the typical member's weight comes from the full run's own ``candidate_edges`` over the
operator's members, cached per run). Its confidence is the full run's (``purity * strength``,
calibrated). New accounts placed this way
count as members for the other new accounts of the bundle (a few rounds), so a chain of new
accounts tied to an operator through each other is placed too.

The result is written as ``(:Account)-[:ATTRIBUTED_TO {run_id: <current run>, provisional:
true, confidence, evidence_json, source: 'incremental'}]->(:Operator)``. The next full run
writes its own relationships (confirming or correcting); the provisional ones stay with the old
run as history. If a full run becomes current while this one computes, it starts over against
the new run, so a provisional attribution never lands on a run that is already history.
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sybilgraph.attribution.calibration import calibrate
from sybilgraph.attribution.candidates import candidate_edges, weighted_links
from sybilgraph.attribution.clusters import raw_confidence
from sybilgraph.attribution.params import AttributionParams
from sybilgraph.attribution.weights import hub_cutoff
from sybilgraph.db.session import Database
from sybilgraph.identifiers import KINDS
from sybilgraph.ingest.columnar import ColumnarStore
from sybilgraph.settings import Settings

__all__ = [
    "CoreWeights",
    "IncrementalResult",
    "Placement",
    "assign",
    "attribute_new_accounts",
    "new_account_ids",
    "pair_edges",
]

log = logging.getLogger("sybilgraph.jobs")

KIND_OF_REL = {k.rel: k.name for k in KINDS.values()}
LINK_SCHEMA = pa.schema(
    [("account_id", pa.string()), ("kind", pa.string()), ("value", pa.string()),
     ("n_accounts", pa.int64()), ("count", pa.int64())]
)
READ_BATCH = 5_000
MAX_ROUNDS = 5
TOP_EVIDENCE = 5
RUN_CHANGE_RETRIES = 2

# The full run's edge rule (candidates.py), for pairs of one new account with its neighbours.
_CONTRIBUTIONS_SQL = """
CREATE TEMP TABLE contributions AS
SELECT a.account_id AS src, b.account_id AS dst, a.kind, a.value, a.family, a.standalone,
       a.w AS identifier_weight, a.w * least(a.use, b.use) AS w
FROM wl a
JOIN fresh f ON f.account_id = a.account_id
JOIN wl b ON b.kind = a.kind AND b.value = a.value AND b.account_id <> a.account_id
"""

_EDGES_SQL = """
WITH mass AS (
    SELECT account_id, family, sum(w * use) AS mass FROM wl GROUP BY account_id, family
),
shared AS (
    SELECT src, dst, family, sum(w) AS fw, bool_or(standalone) AS standalone
    FROM contributions GROUP BY src, dst, family
),
per_family AS (
    SELECT s.src, s.dst, s.family, s.standalone,
           CASE WHEN s.family = 'content'
                 AND s.fw < $content_min_overlap * greatest(ms.mass, md.mass) THEN 0.0
                ELSE s.fw END AS fw
    FROM shared s
    JOIN mass ms ON ms.account_id = s.src AND ms.family = s.family
    JOIN mass md ON md.account_id = s.dst AND md.family = s.family
)
SELECT src, dst, sum(fw) AS weight
FROM per_family
GROUP BY src, dst
HAVING sum(fw) >= $min_weight
   AND (bool_or(standalone)
        OR count(*) FILTER (WHERE fw >= $family_min) >= 2
        OR max(fw) FILTER (WHERE family IN ('content', 'device', 'payment', 'client')) >= $single_family_min)
ORDER BY src, dst
"""

_EVIDENCE_SQL = """
WITH shared AS (
    SELECT c.src AS account_id, c.kind, c.value, count(DISTINCT c.dst) + 1 AS members_sharing,
           max(c.identifier_weight) AS weight
    FROM contributions c
    JOIN placed p ON p.account_id = c.src
    JOIN members m ON m.account_id = c.dst AND m.operator_id = p.operator_id
    GROUP BY c.src, c.kind, c.value
)
SELECT account_id,
       list({'kind': kind, 'value': value, 'members_sharing': members_sharing, 'weight': round(weight, 3)}
            ORDER BY members_sharing * weight DESC, kind, value)[1:$top] AS evidence
FROM shared GROUP BY account_id
"""


@dataclass(frozen=True)
class Placement:
    operator_id: str
    confidence: float
    purity: float
    inside_weight: float


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


class CoreWeights:
    """The evidence weight of an operator's typical member (median over its members), per run.

    What the full run's core rule compares a member against. Computed with the full run's
    ``candidate_edges`` over the operator's members and cached: a run's operators do not change.
    """

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], float] = {}

    def typical(self, db: Database, run_id: str, operator_id: str, n_total: int, params: AttributionParams) -> float:
        key = (run_id, operator_id)
        if any(cached_run != run_id for cached_run, _ in self._cache):
            self._cache.clear()  # a new run: the old run's operators are history
        if key not in self._cache:
            self._cache[key] = _typical_member_weight(db, run_id, operator_id, n_total, params)
        return self._cache[key]


def _typical_member_weight(db: Database, run_id: str, operator_id: str, n_total: int, params: AttributionParams) -> float:
    members = [r["account_id"] for r in db.read("jobs/read_operator_members", run_id=run_id, operator_id=operator_id)]
    if len(members) < params.core_min_size:
        return 0.0  # the full run keeps every member of a small community
    edges = candidate_edges(_read_links(db, members), n_total, params)
    inside: dict[str, float] = dict.fromkeys(members, 0.0)
    for src, dst, weight in zip(edges["src"].to_pylist(), edges["dst"].to_pylist(), edges["weight"].to_pylist()):
        inside[src] += weight
        inside[dst] += weight
    return float(np.median(list(inside.values())))


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
    min_purity: float = 0.5,
    max_accounts: int = 20_000,
    ingest_id: str | None = None,
    core_weights: CoreWeights | None = None,
) -> IncrementalResult:
    """Provisionally attribute ``account_ids`` (new accounts) to existing operators.

    Pass one ``core_weights`` across calls (the scheduler does) to reuse operators' typical weights.
    """
    params = params or AttributionParams()
    core_weights = core_weights or CoreWeights()
    t0 = time.perf_counter()
    result = IncrementalResult(run_id=None)
    for _ in range(RUN_CHANGE_RETRIES + 1):
        result = _attempt(db, account_ids, params, min_purity, max_accounts, ingest_id, core_weights)
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
    db: Database,
    account_ids: Sequence[str],
    params: AttributionParams,
    min_purity: float,
    max_accounts: int,
    ingest_id: str | None,
    core_weights: CoreWeights,
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
    placements, evidence = _plan(db, run_id, candidates, params, min_purity, core_weights)
    result.placements = placements
    if placements:
        rows = [
            {"account_id": a, "operator_id": p.operator_id, "confidence": round(p.confidence, 6),
             "evidence_json": evidence.get(a, "[]")}
            for a, p in sorted(placements.items())
        ]
        out = db.write("jobs/create_provisional_attributions", rows=rows, run_id=run_id, ingest_id=ingest_id)
        result.created = int(out[0]["created"]) if out else 0
    return result


def _unattributed(db: Database, run_id: str, account_ids: Sequence[str]) -> list[str]:
    found: list[str] = []
    for batch in _batches(sorted(set(account_ids)), READ_BATCH):
        found += [r["account_id"] for r in db.read("jobs/read_unattributed_accounts", account_ids=batch, run_id=run_id)]
    return found


def _plan(
    db: Database,
    run_id: str,
    candidates: list[str],
    params: AttributionParams,
    min_purity: float,
    core_weights: CoreWeights,
) -> tuple[dict[str, Placement], dict[str, str]]:
    n_total = int(db.read("jobs/count_accounts")[0]["accounts"])
    n_max = hub_cutoff(n_total, params)
    operator_of: dict[str, str] = {}
    neighbours: set[str] = set()
    for batch in _batches(candidates, READ_BATCH):
        for r in db.read("jobs/read_incremental_neighbours", account_ids=batch, run_id=run_id, n_max=n_max):
            neighbours.add(r["account_id"])
            if r["operator_id"] is not None:
                operator_of[r["account_id"]] = r["operator_id"]
    if not neighbours:
        return {}, {}
    rejected = _rejected(db, candidates)
    links = _read_links(db, sorted(set(candidates) | neighbours))
    con = duckdb.connect()
    try:
        edges = pair_edges(con, links, candidates, n_total, params)

        def typical(operator_id: str) -> float:
            return core_weights.typical(db, run_id, operator_id, n_total, params)

        placements = assign(edges, operator_of, rejected, params, min_purity, typical)
        evidence = _evidence(con, placements, operator_of)
    finally:
        con.close()
    return placements, evidence


def _rejected(db: Database, candidates: list[str]) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for batch in _batches(candidates, READ_BATCH):
        out |= {(r["account_id"], r["operator_id"]) for r in db.read("jobs/read_rejected_decisions", account_ids=batch)}
    return out


def _read_links(db: Database, account_ids: list[str]) -> pa.Table:
    cols: dict[str, list[Any]] = {name: [] for name in LINK_SCHEMA.names}
    for batch in _batches(account_ids, READ_BATCH):
        for r in db.read("jobs/read_account_links", account_ids=batch):
            cols["account_id"].append(r["account_id"])
            cols["kind"].append(KIND_OF_REL[r["rel"]])
            cols["value"].append(r["value"])
            cols["n_accounts"].append(r["n_accounts"])
            cols["count"].append(r["count"])
    return pa.table(cols, schema=LINK_SCHEMA)


# -- evidence and placement (no database) --------------------------------------------------------
def pair_edges(
    con: duckdb.DuckDBPyConnection, links: pa.Table, fresh: Sequence[str], n_total: int, params: AttributionParams
) -> dict[str, list[tuple[str, float]]]:
    """Evidence edges of each ``fresh`` account to any account in ``links``, by the full run's rule.

    ``links`` must hold every link of the fresh accounts and of their neighbours (the content
    rule weighs a shared template against all the templates an account uses).
    """
    wl = weighted_links(con, links, n_total, params)
    con.register("wl", wl)
    con.register("fresh", pa.table({"account_id": pa.array(sorted(set(fresh)), pa.string())}))
    con.execute(_CONTRIBUTIONS_SQL)
    rows = con.execute(
        _EDGES_SQL,
        {
            "min_weight": params.min_edge_weight,
            "family_min": params.family_min_weight,
            "single_family_min": params.single_family_min_weight,
            "content_min_overlap": params.content_min_overlap,
        },
    ).fetchall()
    edges: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for src, dst, weight in rows:
        edges[src].append((dst, float(weight)))
    return dict(edges)


def assign(
    edges: dict[str, list[tuple[str, float]]],
    operator_of: dict[str, str],
    rejected: set[tuple[str, str]],
    params: AttributionParams,
    min_purity: float,
    typical: Callable[[str], float] | None = None,
) -> dict[str, Placement]:
    """Each account with edges joins the operator holding most of its edge weight, if enough.

    ``typical(operator)``: the weight of its typical member, for the core rule (None: no rule).
    """
    placed: dict[str, Placement] = {}
    for _ in range(MAX_ROUNDS):
        changed = False
        for account in sorted(edges):
            if account in placed:
                continue
            placement = _place(account, edges[account], operator_of, placed, rejected, params, min_purity, typical)
            if placement is not None:
                placed[account] = placement
                changed = True
        if not changed:
            break
    return placed


def _place(
    account: str,
    account_edges: list[tuple[str, float]],
    operator_of: dict[str, str],
    placed: dict[str, Placement],
    rejected: set[tuple[str, str]],
    params: AttributionParams,
    min_purity: float,
    typical: Callable[[str], float] | None,
) -> Placement | None:
    inside: dict[str, float] = defaultdict(float)
    total = 0.0
    for other, weight in account_edges:
        total += weight
        operator = operator_of.get(other) or (placed[other].operator_id if other in placed else None)
        if operator is not None:
            inside[operator] += weight
    choices = [(w, op) for op, w in inside.items() if (account, op) not in rejected]
    if not choices or total <= 0:
        return None
    weight, operator = max(choices)
    purity = weight / total
    if purity < min_purity:
        return None
    if typical is not None and weight < params.core_ratio * typical(operator):
        return None  # peripheral: the full run's core rule would leave it out
    raw = float(raw_confidence(np.array([weight]), np.array([total]), params)[0])
    return Placement(operator_id=operator, confidence=calibrate(raw), purity=purity, inside_weight=weight)


def _evidence(con: duckdb.DuckDBPyConnection, placements: dict[str, Placement], operator_of: dict[str, str]) -> dict[str, str]:
    """Per placed account: the identifiers it shares with its operator's members, heaviest first."""
    if not placements:
        return {}
    members = {**operator_of, **{a: p.operator_id for a, p in placements.items()}}
    con.register("placed", pa.table({"account_id": list(placements), "operator_id": [p.operator_id for p in placements.values()]}))
    con.register("members", pa.table({"account_id": list(members), "operator_id": list(members.values())}))
    rows = con.execute(_EVIDENCE_SQL, {"top": TOP_EVIDENCE}).fetchall()
    return {account: json.dumps(evidence) for account, evidence in rows}


def _batches(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
