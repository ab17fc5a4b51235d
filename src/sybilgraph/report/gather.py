"""Collect one operator's case: Neo4j for the graph, the columnar store for behaviour, masked on the way in.

Reads go through a ``Reader`` (``read(name, **params) -> rows``, statements by name from
``cypher/report/`` and the API's operator statements), so the same code serves the CLI (the
sync session) and the API (its async driver, from a worker thread); this module imports no
database driver. Identifier values are masked by the caller's ``Mask`` as soon as they are read:
the ``CaseFile`` that comes out holds only what the reader's role may see.

Evidence weights are the run's own fitted evidence model (``attribution.evidence.identifier_weight``
on the model stored with the run), so the table ranks identifiers as attribution weighed them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sybilgraph import __version__
from sybilgraph.attribution.scoring import FEATURES, load_score_model
from sybilgraph.attribution.evidence import identifier_weight
from sybilgraph.attribution.fellegi_sunter import FSModel
from sybilgraph.errors import ReportError
from sybilgraph.identifiers import KINDS
from sybilgraph.report.behaviour import read_behaviour
from sybilgraph.report.model import (
    CaseFile,
    Decision,
    Delivery,
    Feature,
    IdentifierRow,
    LabelCount,
    LineageLink,
    Member,
    OrganisationEvidence,
    OrganisationHypothesis,
    Provenance,
    Summary,
)

__all__ = ["CaseOptions", "Mask", "Reader", "gather_case", "params_digest"]

Reader = Callable[..., list[dict[str, Any]]]
# (kind, value, card BIN, card last 4) -> the value as the reader may see it
Mask = Callable[[str, str, str | None, str | None], str]

KIND_OF_REL = {k.rel: k.name for k in KINDS.values()}
LINEAGE = (("split_from", "split from"), ("split_into", "split into"), ("merged_into", "merged into"),
           ("merged_from", "merged from"))


@dataclass(frozen=True)
class CaseOptions:
    role: str
    report_command: str
    identifiers_shown: int = 25  # rows of the evidence table
    members_shown: int = 2_000  # rows embedded in the members table
    behaviour_memory_limit: str = "1GB"


def gather_case(read: Reader, operator_id: str, mask: Mask, options: CaseOptions,
                interaction_files: Sequence[str] = ()) -> CaseFile:
    head = read("report/read_case_operator", id=operator_id)
    if not head:
        raise ReportError(f"no operator with id '{operator_id}' (list them with the API's operators query)")
    op = head[0]
    if op["run_id"] is None:
        raise ReportError("no attribution run is current yet: run 'sybilgraph attribute' first")
    params = _params(op["params_json"])
    members = tuple(_member(r) for r in read("report/read_case_members", id=operator_id))
    campaign = read("report/read_campaign_accounts")[0]["accounts"] if interaction_files else []
    # The interaction scan (DuckDB, native threads) runs while Neo4j answers the evidence reads.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="case-behaviour") as pool:
        behaviour_job = pool.submit(read_behaviour, interaction_files, [m.account_id for m in members], campaign,
                                    options.behaviour_memory_limit)
        shared = _shared(read, operator_id, op, params)
        strongest = _strongest(read, operator_id, shared, mask, options.identifiers_shown)
        lineage, decisions = _lineage(read, operator_id), _decisions(read, operator_id)
        labels = tuple(LabelCount(r["name"], r["source"], int(r["accounts"]))
                       for r in read("report/read_case_labels", id=operator_id))
        provenance = _provenance(read, op, params, options)
        behaviour = behaviour_job.result()
    summary = Summary(
        operator_id=op["operator_id"],
        label=op["label"],
        analyst_label=op["analyst_label"],
        label_conflict=tuple(op["label_conflict"] or ()),
        size=int(op["size"] or 0),
        flagged=bool(op["flagged"]),
        campaign_score=float(op["campaign_score"] or 0.0),
        flag_threshold=params.get("flag_threshold") if isinstance(params.get("flag_threshold"), (int, float)) else None,
        in_current_run=bool(op["in_current_run"]),
        features=_features(op["features_json"], _score_weights(params)),
        organisations=tuple(_organisation(o, mask) for o in op["organisations"] or ()),
        confidences=tuple(m.confidence for m in members if m.confidence is not None),
    )
    return CaseFile(
        summary=summary,
        identifiers=strongest,
        identifiers_total=len(shared),
        identifier_kinds=_by_kind(shared),
        members=members,
        members_shown=options.members_shown,
        lineage=lineage,
        decisions=decisions,
        labels=labels,
        behaviour=behaviour,
        provenance=provenance,
    )


def _params(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def params_digest(params: dict[str, Any]) -> str:
    """SHA-256 of the parameters as canonical JSON: two runs with the same digest used the same settings."""
    return hashlib.sha256(json.dumps(params, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _ms(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    to_native = getattr(value, "to_native", None)  # a driver DateTime from a map
    return to_native() if callable(to_native) else None


def _member(r: dict[str, Any]) -> Member:
    return Member(
        account_id=r["account_id"],
        confidence=float(r["confidence"]) if r["confidence"] is not None else None,
        provisional=bool(r["provisional"]),
        created_at=_ms(r["created_at"]),
        status=r["status"],
        country=r["country"],
        n_interactions=int(r["n_interactions"] or 0),
    )


def _score_weights(params: dict[str, Any]) -> dict[str, float]:
    """The fitted campaign-score coefficients the run used (its ``models_dir``, else the
    package's); the package's when that directory is gone from this machine."""
    models_dir = params.get("models_dir") if isinstance(params.get("models_dir"), str) else ""
    try:
        model = load_score_model(models_dir or "")
    except OSError:
        model = load_score_model("")
    return {k: float(model.coefficients[k]) for k in FEATURES if k in model.coefficients}


def _features(text: str | None, weights: dict[str, float]) -> tuple[Feature, ...]:
    raw = _params(text)
    values = {k: float(v) for k, v in raw.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    # The scorer's order first (by how much each counts), then anything newer.
    ranked = sorted(weights, key=lambda k: -abs(weights[k]))
    order = [k for k in ranked if k in values] + sorted(k for k in values if k not in weights)
    return tuple(Feature(k, values[k], weights.get(k)) for k in order)


@dataclass(frozen=True)
class _Shared:
    """An identifier members share, as the first (counting) pass sees it."""

    kind: str
    ref: str  # the node's element id, for the second pass
    n_accounts: int
    members_sharing: int
    weight: float

    @property
    def evidence(self) -> float:
        return self.weight * self.members_sharing


def _run_model(read: Reader, run_id: str) -> FSModel | None:
    """The evidence model the run fitted (stored with it), or None for a run without one."""
    rows = read("attribution/read_run_model", run_id=run_id)
    text = rows[0]["model_json"] if rows else None
    return FSModel.from_json(text) if text else None


def _shared(read: Reader, operator_id: str, op: dict[str, Any], params: dict[str, Any]) -> list[_Shared]:
    """Every shared identifier, weighed by the run's own fitted evidence model, in attribution's
    evidence order."""
    model = _run_model(read, op["run_id"])
    population = int(op["population"] or 0)
    shared = [
        _Shared(kind, r["ref"], int(r["n_accounts"]), int(r["members_sharing"]),
                identifier_weight(model, kind, int(r["n_accounts"]), population) if population and model else 0.0)
        for r in read("report/read_case_identifiers", id=operator_id)
        if (kind := KIND_OF_REL.get(r["rel"])) is not None
    ]
    shared.sort(key=lambda i: (-i.evidence, -i.weight, i.kind, i.ref))
    return shared


def _strongest(read: Reader, operator_id: str, shared: Sequence[_Shared], mask: Mask, n: int) -> tuple[IdentifierRow, ...]:
    top = [i for i in shared if i.weight > 0][:n]
    details = {r["ref"]: r for r in read("report/read_case_identifier_details", id=operator_id, refs=[i.ref for i in top])}
    rows = []
    for i in top:
        d = details.get(i.ref)
        if d is None:  # gone between the two reads (a run promoted meanwhile): leave it out
            continue
        rows.append(IdentifierRow(
            kind=i.kind, shown=mask(i.kind, str(d["value"]), d["bin"], d["last4"]), n_accounts=i.n_accounts,
            members_sharing=i.members_sharing, weight=i.weight, first_seen=_ms(d["first_seen"]),
            last_seen=_ms(d["last_seen"]), members=frozenset(d["members"]),
        ))
    return tuple(rows)


def _by_kind(shared: Sequence[_Shared]) -> tuple[tuple[str, int, float], ...]:
    counts: dict[str, int] = {}
    evidence: dict[str, float] = {}
    for i in shared:
        counts[i.kind] = counts.get(i.kind, 0) + 1
        evidence[i.kind] = evidence.get(i.kind, 0.0) + i.evidence
    return tuple(sorted(((k, counts[k], evidence[k]) for k in counts), key=lambda t: (-t[2], t[0])))


def _organisation(o: dict[str, Any], mask: Mask) -> OrganisationHypothesis:
    items = []
    try:
        evidence = json.loads(o.get("evidence_json") or "[]")
    except json.JSONDecodeError:
        evidence = []
    for e in evidence if isinstance(evidence, list) else []:
        if not isinstance(e, dict) or not e.get("kind"):
            continue
        value = e.get("value") or e.get("identifier")
        accounts = e.get("accounts")
        items.append(OrganisationEvidence(
            kind=str(e["kind"]),
            shown=mask(str(e["kind"]), str(value), e.get("bin"), e.get("last4")) if value is not None else "",
            accounts=len(accounts) if isinstance(accounts, list) else (int(accounts) if isinstance(accounts, int) else None),
            strength=next((float(e[k]) for k in ("weight", "strength", "llr") if isinstance(e.get(k), (int, float))), None),
        ))
    return OrganisationHypothesis(
        org_id=str(o.get("org_id")), name=str(o.get("name") or o.get("org_id")), confirmed=o.get("confirmed"),
        score=o.get("score"), rank=o.get("rank"), evidence=tuple(items), probability=o.get("probability"),
        asserted=o.get("asserted"),
    )


def _lineage(read: Reader, operator_id: str) -> tuple[LineageLink, ...]:
    rows = read("api/read_operator_lineage", ids=[operator_id])
    if not rows:
        return ()
    out = []
    for key, relation in LINEAGE:
        for link in rows[0].get(key) or ():
            out.append(LineageLink(relation, link["operator_id"], link.get("run_id"), link.get("shared")))
    return tuple(out)


def _decisions(read: Reader, operator_id: str) -> tuple[Decision, ...]:
    rows = read("api/read_operator_decisions", ids=[operator_id])
    items = rows[0]["items"] if rows else []
    return tuple(Decision(i["account_id"], i["decision"], i.get("by"), _ms(i.get("at")), i.get("reason")) for i in items)


def _provenance(read: Reader, op: dict[str, Any], params: dict[str, Any], options: CaseOptions) -> Provenance:
    deliveries = tuple(
        Delivery(
            ingest_id=str(d.get("ingest_id")), bundle=d.get("bundle") or d.get("bundle_id"), seq=d.get("seq"),
            status=d.get("status"), finished_at=_ms(r["finished_at"]), rows_loaded=d.get("rows_loaded"),
        )
        for r in read("report/read_deliveries", before=op["run_started_at"])
        for d in [r["delivery"]]
    )
    attribute = None
    if params:
        attribute = f"sybilgraph attribute --seed {params.get('seed', op['seed'])}"
        if "flag_threshold" in params:
            attribute += f" --flag-threshold {params['flag_threshold']:g}"
    return Provenance(
        run_id=op["run_id"],
        run_started_at=_ms(op["run_started_at"]),
        run_finished_at=_ms(op["run_finished_at"]),
        seed=op["seed"],
        params=params,
        params_digest=params_digest(params) if params else None,
        deliveries=deliveries,
        report_command=options.report_command,
        attribute_command=attribute,
        generated_at=datetime.now(UTC),
        generator=f"sybilgraph {__version__}",
        role=options.role,
    )
