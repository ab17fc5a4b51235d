"""The warm-up after a bulk import: a delivery's writes rehearsed and rolled back."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from sybilgraph.db import session
from sybilgraph.db.digest import graph_digest
from sybilgraph.db.session import Database
from sybilgraph.identifiers import KINDS
from sybilgraph.ingest import ingest_bundle
from sybilgraph.ingest.columnar import ColumnarStore
from sybilgraph.ingest.rehearsal import MARK, rehearsal
from sybilgraph.ingest.state import GRAPH_TABLES, STATE_SCHEMAS, StateDir
from sybilgraph.ingest.sync import rehearse_sync
from tests.bundles import ENRICHMENT, TINY, write_bundle


def _table(name: str, rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=STATE_SCHEMAS[name])


def _graph(accounts: int) -> dict[str, pa.Table]:
    """Accounts a0.. each linked to one template of its own and to two shared IPs."""
    ids = [f"a{i}" for i in range(accounts)]
    ips = ["10.0.0.1", "10.0.0.2"]
    link = {"count": 1, "first_seen": 0, "last_seen": 0}
    return {
        "accounts": _table("accounts", [{"account_id": a} for a in ids]),
        "identifiers": _table("identifiers", [{"kind": "ip", "value": ip, "n_accounts": accounts, "hub": False} for ip in ips]
                              + [{"kind": "template", "value": f"t{a}", "n_accounts": 1, "hub": False} for a in ids]),
        "links": _table("links", [{"account_id": a, "kind": "ip", "value": ip, **link} for a in ids for ip in ips]
                        + [{"account_id": a, "kind": "template", "value": f"t{a}", **link} for a in ids]),
        "ip_subnets": _table("ip_subnets", [{"ip": ip, "subnet": "10.0.0.0/24"} for ip in ips]),
        "organisations": _table("organisations", [{"org_id": "o1", "name": "Org"}]),
        "labels": _table("labels", [{"account_id": ids[-1], "operator_label": "op"}]),
    }


def _marked(values: pa.ChunkedArray) -> list[bool]:
    return pc.starts_with(values, MARK).to_pylist()


def test_a_rehearsal_is_new_accounts_on_new_and_stored_identifiers() -> None:
    plan = rehearsal(_graph(10), accounts=3, few=1)
    accounts = plan.upserts["accounts"].column("account_id").to_pylist()
    # The first three accounts and the labelled one, every key marked.
    assert sorted(accounts) == sorted(MARK + a for a in ("a0", "a1", "a2", "a9"))
    assert all(_marked(plan.upserts["labels"]["operator_label"])) and all(_marked(plan.upserts["organisations"]["org_id"]))
    identifiers = plan.upserts["identifiers"]
    for kind in ("ip", "template"):
        marks = _marked(identifiers.filter(pc.equal(identifiers["kind"], kind))["value"])
        assert any(marks) and not all(marks), kind  # each kind both new and stored
    # Links hang on the rehearsal's accounts and identifiers, marked alike.
    links = plan.upserts["links"]
    assert all(_marked(links["account_id"])) and links.num_rows == 4 * 3
    pairs = set(zip(identifiers["kind"].to_pylist(), identifiers["value"].to_pylist()))
    assert set(zip(links["kind"].to_pylist(), links["value"].to_pylist())) <= pairs
    # A new IP under a new subnet, a stored one under its own.
    subnets = plan.upserts["ip_subnets"]
    assert _marked(subnets["ip"]) == _marked(subnets["subnet"]) and any(_marked(subnets["ip"]))


def test_a_rehearsal_deletes_what_it_wrote_but_no_stored_node() -> None:
    plan = rehearsal(_graph(10), accounts=3, few=1)
    for name in GRAPH_TABLES:
        if name != "identifiers":
            assert plan.deletes[name].num_rows == plan.upserts[name].num_rows, name
    deleted = plan.deletes["identifiers"]
    assert deleted.num_rows and all(_marked(deleted["value"]))
    assert deleted.num_rows == sum(_marked(plan.upserts["identifiers"]["value"]))


def test_a_graph_smaller_than_the_rehearsal_is_rehearsed_whole() -> None:
    plan = rehearsal(_graph(2), accounts=200)
    assert plan.upserts["accounts"].num_rows == 2 and plan.rows > 0


@pytest.mark.integration
def test_a_rehearsal_runs_the_write_statements_and_leaves_the_graph_as_it_was(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest_bundle(write_bundle(tmp_path / "b", {**TINY, **ENRICHMENT}), db.settings, db)
    before = graph_digest(db)
    state = StateDir(ColumnarStore(db.settings.columnar_dir).state_dir)
    tables = {name: state.read(name) for name in GRAPH_TABLES}
    sent: list[str] = []
    effect: Counter[str] = Counter()

    def counting(tx: Any, queries: list[tuple[str, str, list[Any]]], fence: Any, label: str) -> None:
        for name, query, rows in queries:
            sent.append(name)
            counters = tx.run(query, {"rows": rows}).consume().counters
            effect.update(created=counters.nodes_created, deleted=counters.nodes_deleted,
                          linked=counters.relationships_created, unlinked=counters.relationships_deleted)

    monkeypatch.setattr(session, "_run_unwinds", counting)
    assert rehearse_sync(db, tables, accounts=10) > 0
    # The writes happened in the transaction, and none reached the store.
    assert min(effect["created"], effect["deleted"], effect["linked"], effect["unlinked"]) > 0, effect
    assert graph_digest(db) == before
    kinds = {kind for kind in pc.unique(tables["links"]["kind"]).to_pylist()}
    expected = {KINDS[k].merge_links for k in kinds} | {KINDS[k].delete_links for k in kinds}
    expected |= {"ingest/merge_accounts", "ingest/delete_accounts", "ingest/merge_labels", "ingest/delete_labels"}
    assert expected <= set(sent)
