"""The organisation step over HTTP: hypotheses with evidence, "unattributed" rather than a weak guess,
masking per role, the organisation queries, and the audited decision later runs honour."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from sybilgraph import cypher
from sybilgraph.api import create_app
from sybilgraph.db.session import Database
from sybilgraph.settings import Settings
from tests.api.api_queries import DECIDE_ORGANISATION, OPERATOR_ORGANISATIONS, ORGANISATION_FULL, ORGANISATIONS_PAGE
from tests.api.api_seed import CARD_TOKEN
from tests.api.api_support import ADMIN, ANALYST, VIEWER, ApiServer
from tests.api.conftest import api_settings, app_settings

pytestmark = pytest.mark.integration


def _operator(c, op: str, leads: bool = False) -> dict:  # type: ignore[no-untyped-def]
    return c.data(OPERATOR_ORGANISATIONS, {"id": op, "leads": leads})["operator"]


def test_an_attributed_operator_names_its_organisation_with_the_evidence(server: ApiServer) -> None:
    with server.client(ANALYST) as c:
        op = _operator(c, "op-kestrel")
    assert op["organisationStatus"] == "ATTRIBUTED"
    [h] = op["organisations"]  # the asserted hypothesis only: the weaker lead is not an answer
    assert (h["organisation"], h["rank"], h["asserted"], h["score"]) == (
        {"id": "ORG-ACME", "name": "Acme Labs", "confirmed": True}, 1, True, 14.5)
    assert [e["comparison"] for e in h["evidence"]] == ["domain", "card"]  # strongest first
    domain, card = h["evidence"]
    assert [a["id"] for a in domain["accounts"]] == ["a1", "a2"] and domain["members"] == 2
    assert domain["identifiers"][0]["kind"] == "EMAIL_DOMAIN" and domain["identifiers"][0]["value"] == "example.org"
    assert card["identifiers"][0]["value"].startswith("BIN 411111 · last4 1234 · #")  # analysts see cards masked
    assert domain["operator"] == {"id": "op-kestrel"} and domain["popularity"] == 0.0002


def test_an_operator_below_the_threshold_is_unattributed_and_leads_are_for_analysts(server: ApiServer) -> None:
    with server.client(VIEWER) as viewer, server.client(ANALYST) as analyst:
        heron = _operator(viewer, "op-heron")
        assert heron["organisationStatus"] == "UNATTRIBUTED" and heron["organisations"] == []
        body = viewer.gql(OPERATOR_ORGANISATIONS, {"id": "op-heron", "leads": True})
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert "'leads' requires the analyst role" in body["errors"][0]["message"]
        leads = _operator(analyst, "op-heron", leads=True)["organisations"]
        assert [(h["organisation"]["id"], h["rank"], h["asserted"]) for h in leads] == [("Kite Hosting", 1, False)]
        kestrel = _operator(analyst, "op-kestrel", leads=True)["organisations"]
        assert [(h["organisation"]["id"], h["asserted"]) for h in kestrel] == [("ORG-ACME", True), ("Kite Hosting", False)]


def test_viewers_see_evidence_and_domains_masked(server: ApiServer) -> None:
    with server.client(VIEWER) as viewer, server.client(ADMIN) as admin:
        v = _operator(viewer, "op-kestrel")["organisations"][0]["evidence"]
        a = _operator(admin, "op-kestrel")["organisations"][0]["evidence"]
        v_org = viewer.data(ORGANISATION_FULL, {"id": "ORG-ACME"})["organisation"]
        a_org = admin.data(ORGANISATION_FULL, {"id": "ORG-ACME"})["organisation"]
    assert v[0]["identifiers"][0]["value"].startswith("email_domain#") and "example.org" not in json.dumps(v)
    assert v[1]["identifiers"][0]["value"].startswith("BIN 411111") and CARD_TOKEN not in json.dumps(v)
    assert a[0]["identifiers"][0]["value"] == "example.org" and a[1]["identifiers"][0]["value"] == CARD_TOKEN
    # The organisation's own domains follow the e-mail domain mask: no way around the evidence's mask.
    assert v_org["domains"] == [v[0]["identifiers"][0]["value"]] and a_org["domains"] == ["example.org"]
    assert "example.org" not in json.dumps(v_org)


def test_an_organisation_groups_its_operators_accounts_and_evidence(server: ApiServer, api_home: Path) -> None:
    with server.client(VIEWER) as c:
        org = c.data(ORGANISATION_FULL, {"id": "ORG-ACME"})["organisation"]
        assert c.data('{ organisation(id: "ORG-NONE") { id } }')["organisation"] is None
        later = c.data('query P($after: String) { organisation(id: "ORG-ACME") { accounts(first: 2, after: $after) '
                       '{ edges { node { id } } pageInfo { hasNextPage } } } }',
                       {"after": org["accounts"]["pageInfo"]["endCursor"]})["organisation"]["accounts"]
    assert (org["name"], org["confirmed"], org["kind"], org["nOperators"]) == ("Acme Labs", True, "ai_lab", 1)
    assert org["operators"] == [{"id": "op-kestrel", "label": "OP-KESTREL"}]  # run-1's op-old is not current
    assert [(h["operator"]["id"], h["rank"]) for h in org["hypotheses"]] == [("op-kestrel", 1)]
    assert [e["comparison"] for e in org["evidence"]] == ["domain", "card"]
    accounts = org["accounts"]
    assert accounts["totalCount"] == 4 and [e["node"]["id"] for e in accounts["edges"]] == ["a1", "a2"]
    assert accounts["pageInfo"]["hasNextPage"] and accounts["edges"][0]["operator"] == {"id": "op-kestrel"}
    assert [e["node"]["id"] for e in later["edges"]] == ["a3", "a4"] and not later["pageInfo"]["hasNextPage"]
    # Audited as operators are: the record names the operators and accounts whose data left.
    lines = (api_home / "audit" / "audit.jsonl").read_text().splitlines()
    record = next(r for r in map(json.loads, reversed(lines)) if r.get("operation") == "OrganisationFull")
    assert record["operators"] == ["op-kestrel"] and {"a1", "a2"} <= set(record["accounts"])


def test_organisations_are_filtered_and_paged(server: ApiServer) -> None:
    with server.client(VIEWER) as c:
        def ids(flt: dict | None, first: int = 10, after: str | None = None) -> tuple[list[str], dict]:
            conn = c.data(ORGANISATIONS_PAGE, {"filter": flt, "first": first, "after": after})["organisations"]
            return [e["node"]["id"] for e in conn["edges"]], conn

        assert ids(None)[0] == ["ORG-ACME", "Kite Hosting", "ORG-QUIET"]  # by name
        assert ids({"name": "ACME"})[0] == ["ORG-ACME"]
        assert ids({"attributed": True})[0] == ["ORG-ACME"]
        assert ids({"confirmed": False})[0] == ["Kite Hosting"]
        assert ids({"confirmed": True, "attributed": False})[0] == ["ORG-QUIET"]
        first, conn = ids(None, first=2)
        assert first == ["ORG-ACME", "Kite Hosting"] and conn["totalCount"] == 3 and conn["pageInfo"]["hasNextPage"]
        assert ids(None, first=2, after=conn["pageInfo"]["endCursor"])[0] == ["ORG-QUIET"]
        body = c.gql(ORGANISATIONS_PAGE, {"first": 2, "after": "bogus"})
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.fixture()
def writable(neo4j_settings: Settings, fresh_graph: Database, tmp_path: Path) -> Iterator[ApiServer]:
    app = create_app(app_settings(neo4j_settings, tmp_path), api_settings=api_settings())
    with ApiServer(app) as srv:
        yield srv


def test_decide_organisation_is_audited_and_stored_for_later_runs(writable: ApiServer, fresh_graph: Database,
                                                                  tmp_path: Path) -> None:
    variables = {"operatorId": "op-heron", "organisationId": "Kite Hosting", "decision": "CONFIRMED",
                 "reason": "their office range and card"}
    with writable.client(VIEWER) as viewer:
        assert viewer.gql(DECIDE_ORGANISATION, variables)["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    with writable.client(ANALYST) as c:
        d = c.data(DECIDE_ORGANISATION, variables)["decideOrganisation"]
        assert (d["decision"], d["by"], d["reason"], d["operator"], d["organisation"]["id"]) == (
            "CONFIRMED", "alice", "their office range and card", {"id": "op-heron"}, "Kite Hosting")
        decisions = _operator(c, "op-heron")["organisationDecisions"]
        assert [(x["decision"], x["organisation"]["id"]) for x in decisions] == [("CONFIRMED", "Kite Hosting")]
        # An analyst may name an organisation no table lists (created unconfirmed) but not reject one.
        named = c.data(DECIDE_ORGANISATION, {**variables, "organisationId": "Heron Capital"})["decideOrganisation"]
        assert named["organisation"] == {"id": "Heron Capital", "name": "Heron Capital", "confirmed": False}
        for changes, message in [
            ({"organisationId": "ORG-NONE", "decision": "REJECTED"},
             "Organisation 'ORG-NONE' does not exist (only a confirmation can name a new one)."),
            ({"operatorId": "op-zz"}, "Operator 'op-zz' does not exist."),
            ({"reason": " "}, "Argument 'reason' must be 1 to 2000 characters."),
        ]:
            body = c.gql(DECIDE_ORGANISATION, {**variables, **changes})
            assert body["errors"][0]["message"] == message
    audit = [json.loads(line) for line in (tmp_path / "audit" / "audit.jsonl").read_text().splitlines()]
    intent = next(r for r in audit if r.get("event") == "intent" and r.get("mutation") == "decideOrganisation")
    outcome = next(r for r in audit if r.get("event") == "outcome" and r.get("mutation") == "decideOrganisation")
    assert (intent["operators"], intent["organisations"], intent["decision"]) == (["op-heron"], ["Kite Hosting"], "confirmed")
    assert outcome["committed"] is True and intent["request_id"] == outcome["request_id"]
    assert [r["outcome"] for r in audit if r.get("operation") == "DecideOrganisation"][:2] == ["denied", "allowed"]
    # Attribution reads decisions with its own statement (the latest per operator and organisation).
    if cypher.path_of("attribution/read_organisation_decisions").exists():
        latest = fresh_graph.read("attribution/read_organisation_decisions")
        assert {"operator_id": "op-heron", "org_id": "Kite Hosting", "decision": "confirmed"} in latest
