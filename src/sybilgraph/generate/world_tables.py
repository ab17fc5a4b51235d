"""Tables only a drawn world writes: labels with organisations, organisations, ip_owners, the
takeover epochs, and the manifest of every drawn knob.

Why apart from tables.py: the classic bundle must stay byte-identical, so these live on their
own and read the world record (world.WorldRecord) the drawn population carries.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pyarrow as pa

from sybilgraph.generate.config import DAY_MS
from sybilgraph.generate.population import STATUS_SUSPENDED, Population
from sybilgraph.generate.world import WorldRecord, owners_rows
from sybilgraph.generate.writer import TIMESTAMP, table_from_columns

__all__ = [
    "EPOCHS_FILE",
    "epochs_table",
    "ip_owners_table",
    "label_rows",
    "labels_table",
    "organisations_table",
    "world_manifest",
]

EPOCHS_FILE = "truth_epochs.parquet"
EPOCHS_SCHEMA = pa.schema(
    [
        pa.field("account_id", pa.string(), nullable=False),
        pa.field("operator", pa.string(), nullable=False),
        pa.field("controlled_from", TIMESTAMP, nullable=False),
    ]
)


def _record(pop: Population) -> WorldRecord:
    assert isinstance(pop.world, WorldRecord)
    return pop.world


def label_rows(pop: Population) -> list[tuple[int, str, str, str | None]]:
    """(persona, label, source, organisation) of the accounts investigators know.

    A labelled operator has 0-5% of its accounts known (at least label_min), reported ones
    (suspended) five times likelier; some labels also name the organisation investigators
    believe runs the operator.
    """
    rec = _record(pop)
    rng = np.random.default_rng([pop.seed, 30])
    out: list[tuple[int, str, str, str | None]] = []
    for plan, build in zip(rec.world.operators, rec.builds, strict=True):
        if plan.label is None or not len(build.personas):
            continue
        members = build.personas
        k = min(len(members), max(plan.label_min, round(plan.label_share * len(members))))
        w = np.where(pop.a["status"][members] == STATUS_SUSPENDED, 5.0, 1.0)
        chosen = np.sort(rng.choice(members, k, replace=False, p=w / w.sum()))
        org = rec.orgs[plan.organisation].reference if plan.label_names_organisation else None
        out.extend((int(i), plan.label, plan.label_source, org) for i in chosen)
    return out


def labels_table(pop: Population) -> pa.Table:
    rows = label_rows(pop)
    idx = np.array([r[0] for r in rows], dtype=np.int64)
    return table_from_columns(
        "labels",
        {
            "account_id": pop.account_id.take(idx),
            "operator_label": pa.array([r[1] for r in rows], type=pa.string()),
            "organisation": pa.array([r[3] for r in rows], type=pa.string()),
            "source": pa.array([r[2] for r in rows], type=pa.string()),
        },
    )


def organisations_table(pop: Population) -> pa.Table:
    listed = [e for e in _record(pop).orgs if e.listed]
    return table_from_columns(
        "organisations",
        {
            "org_id": pa.array([e.org_id for e in listed], type=pa.string()),
            "name": pa.array([e.name for e in listed], type=pa.string()),
            "country": pa.array([e.country for e in listed], type=pa.string()),
            "domains": pa.array([";".join(e.domains) for e in listed], type=pa.string()),
            "kind": pa.array([e.kind for e in listed], type=pa.string()),
        },
    )


def ip_owners_table(pop: Population) -> pa.Table:
    rows = owners_rows(_record(pop), pop.seed)
    return table_from_columns(
        "ip_owners",
        {
            "cidr": pa.array([r[0] for r in rows], type=pa.string()),
            "owner": pa.array([r[1] for r in rows], type=pa.string()),
            "asn": pa.array([r[2] for r in rows], type=pa.int64()),
            "kind": pa.array([r[3] for r in rows], type=pa.string()),
        },
    )


def epochs_table(pop: Population) -> pa.Table:
    """truth_epochs (not a contract table): hijacked accounts and when the operator took over."""
    rec = _record(pop)
    acct, op, t = [], [], []
    for plan, build in zip(rec.world.operators, rec.builds, strict=True):
        if build.takeover_time is None:
            continue
        acct.append(build.personas)
        op.extend([plan.truth] * len(build.personas))
        t.append(build.takeover_time)
    if not acct:
        return EPOCHS_SCHEMA.empty_table()
    personas = np.concatenate(acct)
    times = np.concatenate(t)
    order = np.lexsort((personas, times))
    return pa.Table.from_arrays(
        [
            pop.account_id.take(personas[order]),
            pa.array(np.array(op)[order], type=pa.string()),
            pa.array(times[order], type=TIMESTAMP),
        ],
        schema=EPOCHS_SCHEMA,
    )


def _iso(ms_value: int) -> str:
    return str(np.datetime64(int(ms_value), "ms").astype("datetime64[s]")) + "Z"


def _identifier(pop: Population, kind: str, item: int) -> str:
    if kind == "card":
        return str(pop.inst_text[item])
    if kind == "device":
        return str(pop.device_text[item])
    if kind in ("office", "cloud"):
        return str(pop.ip_text[item])
    return pop.domains[item]


def world_manifest(pop: Population) -> dict[str, Any]:
    """Everything drawn: benign rates, look-alikes, organisations and every operator's knobs,
    trails (leaks), decoys and takeover times."""
    rec = _record(pop)
    operators = []
    labelled = {r[1] for r in label_rows(pop)}
    for i, (plan, build) in enumerate(zip(rec.world.operators, rec.builds, strict=True)):
        personas = build.personas
        org = rec.orgs[plan.organisation]
        details = {k: v for k, v in build.details.items() if k != "vm_of_persona"}
        if "vm_of_persona" in build.details:
            vm_of = build.details["vm_of_persona"]
            assert isinstance(vm_of, dict)
            details["vm_accounts"] = np.bincount(np.array(list(vm_of.values()))).tolist()
        entry: dict[str, Any] = {
            "operator": plan.truth,
            "label": plan.label if plan.label in labelled else None,
            "label_source": plan.label_source if plan.label in labelled else None,
            "family": plan.family,
            "accounts": int(len(personas)),
            "interactions": int(pop.n_interactions[personas].sum()),
            "organisation": {"reference": org.reference, "name": org.name, "listed": org.listed, "kind": org.kind},
            "leaks": [
                {"account_id": str(pop.account_id[leak.persona]), "kind": leak.kind, "identifier": _identifier(pop, leak.kind, leak.item)}
                for leak in rec.leaks[i]
            ],
            "leaves_trail": bool(rec.leaks[i]),
            "decoys": rec.decoys[i],
            "knobs": plan.knobs(),
            "built": details,
        }
        if plan.family == "sub_crews":
            entry["crew_accounts"] = np.bincount(build.crew).tolist()
        if build.takeover_time is not None and len(build.takeover_time):
            t = build.takeover_time
            entry["takeover"] = {
                "accounts": int(len(t)),
                "first": _iso(int(t.min())),
                "last": _iso(int(t.max())),
                "median_days_into_campaign": round(float(np.median(t - t.min())) / DAY_MS, 2),
                "file": EPOCHS_FILE,
            }
        operators.append(entry)
    orgs = [
        {"reference": e.reference, "org_id": e.org_id, "name": e.name, "kind": e.kind, "listed": e.listed, "role": e.role,
         "domains": e.domains, "group": e.group}
        for e in rec.orgs
        if e.role in ("operator_org", "decoy_lab", "large_customer", "saas_platform")
    ]
    # The family of every benign multi-account group but households (all HH-* are households).
    family_of_role = {"organisation": "organisation", "operator_org": "operator_organisation",
                      "decoy_lab": "benign_ai_lab", "large_customer": "large_open_customer"}
    groups = {e.group: family_of_role[e.role] for e in rec.orgs if e.group is not None}
    return {
        **rec.world.manifest(),
        "operators": operators,
        "organisations": orgs,
        "benign_families": rec.families,
        "benign_groups": dict(sorted(groups.items())),
        "large_open_customers": rec.large_customers,
        "saas_platforms": rec.saas_platforms,
        "world_plan": {"organisations": [dataclasses.asdict(o) for o in rec.world.organisations]},
    }
