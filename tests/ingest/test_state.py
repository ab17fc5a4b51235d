"""read_state gives exactly the aggregate the graph holds; the new kinds, enrichment and organisations."""

from __future__ import annotations

from pathlib import Path

import pytest

from sybilgraph.db.session import Database
from sybilgraph.identifiers import KINDS
from sybilgraph.ingest import ingest_bundle
from sybilgraph.ingest.state import STATE_SCHEMAS, GraphState, StateNotFound, read_state
from tests.bundles import ENRICHMENT, TINY, write_bundle

pytestmark = pytest.mark.integration


def _tiny_enriched() -> dict[str, list[dict]]:
    tables = {k: [dict(r) for r in v] for k, v in {**TINY, **ENRICHMENT}.items()}
    tables["labels"][0]["organisation"] = "org-acme"
    return tables


def test_state_before_any_ingest_says_so(tmp_path: Path, db: Database) -> None:
    with pytest.raises(StateNotFound, match="sybilgraph ingest"):
        read_state(db.settings)


def test_state_equals_the_graph(db: Database, tmp_path: Path) -> None:
    ingest_bundle(write_bundle(tmp_path / "b", _tiny_enriched()), db.settings, db)
    state = read_state(db.settings)
    assert isinstance(state, GraphState) and state.generation == 1
    for name in GraphState.table_names():
        assert getattr(state, name).schema.equals(STATE_SCHEMAS[name]), name
    # Every link of the state is a relationship of the graph, with its count, and nothing else is.
    graph_links = set()
    for kind in KINDS.values():
        rows = db.read_raw(
            f"MATCH (a:Account)-[r:{kind.rel}]->(n:{kind.label}) RETURN a.account_id AS a, n.{kind.key} AS v, r.count AS c"
        )
        graph_links |= {(r["a"], kind.name, r["v"], r["c"]) for r in rows}
    state_links = {(r["account_id"], r["kind"], r["value"], r["count"]) for r in state.links.to_pylist()}
    assert graph_links == state_links
    nodes = db.read_raw("MATCH (n) WHERE n.n_accounts IS NOT NULL RETURN count(n) AS n")[0]["n"]
    assert nodes == state.identifiers.num_rows
    accounts = {r["account_id"]: r for r in state.accounts.to_pylist()}
    a1 = db.read_raw("MATCH (a:Account {account_id: 'a1'}) RETURN a")[0]["a"]
    for column in ("n_interactions", "hour_hist", "model_names", "model_counts", "n_api_key_requests",
                   "active_days", "n_datacenter", "n_user_agents"):
        assert a1[column] == accounts["a1"][column], column


def test_new_kinds_enrichment_and_organisations_in_the_graph(db: Database, tmp_path: Path) -> None:
    ingest_bundle(write_bundle(tmp_path / "b", _tiny_enriched()), db.settings, db)
    ip = db.read_raw("MATCH (i:IP {ip: '10.0.0.1'}) RETURN i.owner AS owner, i.asn AS asn, i.net_kind AS kind")
    assert ip == [{"owner": "Cloudy Hosting", "asn": 64501, "kind": "datacenter"}]
    ua = db.read_raw("MATCH (a:Account)-[:USED_USER_AGENT]->(u:UserAgent {user_agent: 'UA'}) RETURN count(a) AS n")
    assert ua == [{"n": 3}]
    bins = db.read_raw("MATCH (a:Account)-[:USED_CARD_BIN]->(b:CardBin {bin: '411111'}) RETURN a.account_id AS a ORDER BY a")
    assert bins == [{"a": "a1"}, {"a": "a2"}]
    owner = db.read_raw(
        "MATCH (a:Account)-[r:USED_NETWORK]->(o:NetworkOwner {owner: 'Cloudy Hosting'}) RETURN a.account_id AS a, r.count AS c ORDER BY a"
    )
    assert owner == [{"a": "a1", "c": 4}, {"a": "a2", "c": 3}]
    assert db.read_raw("MATCH (k:ApiKey) RETURN count(k) AS n") == [{"n": 0}]  # every key is one account's
    orgs = db.read_raw("MATCH (o:Organisation) RETURN o ORDER BY o.org_id")
    assert [o["o"]["org_id"] for o in orgs] == ["org-acme", "org-uni"]
    acme = orgs[0]["o"]
    assert acme["confirmed"] is True and acme["domains"] == ["acme.test", "example.com"] and acme["kind"] == "ai_lab"
    label = db.read_raw("MATCH (:Account {account_id: 'a1'})-[r:HAS_LABEL]->(:Label) RETURN r.organisation AS o")
    assert label == [{"o": "org-acme"}]
    state = read_state(db.settings)
    assert {r["org_id"] for r in state.organisations.to_pylist()} == {"org-acme", "org-uni"}
    assert state.labels.column("organisation").to_pylist() == ["org-acme"]
    assert state.ip_owners.num_rows == 4
