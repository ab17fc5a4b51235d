"""Reading the attribution graph over HTTP: accounts, identifiers, operators, paths, runs.

Each test drives the running app (uvicorn on loopback) against the real Neo4j seeded by
``api_seed`` and checks values, pagination and that responses cost a bounded number of
statements (DataLoaders: never one query per row).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.api.api_queries import (
    ACCOUNT_FULL,
    ACCOUNTS_BY_IDENTIFIER,
    CONNECTION,
    ME,
    OPERATOR_FULL,
    OPERATORS_PAGE,
    RUN,
    RUNS,
)
from tests.api.api_seed import CARD_TOKEN
from tests.api.api_support import ADMIN, ANALYST, VIEWER, ApiServer

pytestmark = pytest.mark.integration


def last_audit(home: Path) -> dict:
    lines = (home / "audit" / "audit.jsonl").read_text().splitlines()
    return json.loads(lines[-1])


def test_me(server: ApiServer) -> None:
    with server.client(ANALYST) as c:
        assert c.data(ME) == {"me": {"user": "alice", "role": "ANALYST"}}


def test_account_profile_activity_and_attribution(server: ApiServer) -> None:
    with server.client(ADMIN) as c:
        a = c.data(ACCOUNT_FULL, {"id": "a1"})["account"]
    assert a["id"] == "a1"
    assert a["createdAt"] == "2026-02-20T10:00:00+00:00"
    assert (a["emailDomain"], a["country"], a["status"], a["signupIp"]) == ("example.org", "SG", "active", "203.0.113.7")
    act = a["activity"]
    assert act["nInteractions"] == 100
    assert act["inputTokens"] == 3_000_000_000  # beyond 32 bits: the Long scalar
    assert act["totalTokens"] == 3_000_090_000
    assert len(act["hourOfWeek"]) == 168 and act["hourOfWeek"][2] == 40 and act["hourOfWeek"][27] == 60
    assert act["categoryMix"] == [{"category": "coding", "count": 70, "share": 0.7}, {"category": "math", "count": 30, "share": 0.3}]
    assert act["firstInteraction"] == "2026-03-01T02:00:00+00:00"
    assert (act["nSessions"], act["nIps"], act["nCards"]) == (3, 2, 1)

    kinds = {i["kind"]: i for i in a["identifiers"]}
    assert set(kinds) == {"CARD", "DEVICE", "IP", "SUBNET", "TLS", "TEMPLATE", "EMAIL_DOMAIN"}
    card = kinds["CARD"]
    assert (card["value"], card["nAccounts"], card["count"]) == (CARD_TOKEN, 4, 1)
    assert card["accounts"]["totalCount"] == 4
    assert [e["node"]["id"] for e in card["accounts"]["edges"]] == ["a1", "a2"]
    assert card["accounts"]["pageInfo"]["hasNextPage"] is True

    cur = a["attribution"]
    assert cur["current"] is True and cur["runId"] == "run-2" and cur["confidence"] == 0.9
    assert cur["operator"] == {"id": "op-kestrel", "label": "OP-KESTREL", "size": 4, "flagged": True}
    assert cur["run"] == {"id": "run-2", "status": "COMPLETE", "current": True}
    assert [e["kind"] for e in cur["evidence"]] == ["CARD", "IP"]
    assert cur["evidence"][0]["membersSharing"] == 4

    hist = a["attributionHistory"]
    assert [(h["runId"], h["current"], h["operator"]["id"], h["operator"]["retired"]) for h in hist] == [
        ("run-2", True, "op-kestrel", False),
        ("run-1", False, "op-old", True),
    ]
    assert a["knownLabels"] == [{"name": "OP-KESTREL", "source": "ticket-4711"}]
    assert a["decisions"] == []
    assert cur["controlledFrom"] is None
    assert a["controlEpochs"] == [{"start": a["createdAt"], "end": None, "attributed": True}]


def test_a_hijacked_account_shows_its_control_epochs(server: ApiServer) -> None:
    query = "query E($id: ID!) { account(id: $id) { createdAt attribution { controlledFrom } controlEpochs { start end attributed } } }"
    with server.client(ADMIN) as c:
        a = c.data(query, {"id": "a5"})["account"]
    change = "2026-03-05T00:00:00+00:00"
    assert a["attribution"]["controlledFrom"] == change
    assert a["controlEpochs"] == [
        {"start": a["createdAt"], "end": change, "attributed": False},  # the owner's life
        {"start": change, "end": None, "attributed": True},  # the hijacker's, attributed
    ]


def test_account_decisions_and_provisional(server: ApiServer) -> None:
    with server.client(VIEWER) as c:
        a = c.data(ACCOUNT_FULL, {"id": "a4"})["account"]
    assert a["attribution"]["provisional"] is True and a["attribution"]["confidence"] == 1.0
    assert a["decisions"] == [{
        "decision": "CONFIRMED", "by": "alice", "at": "2026-03-07T09:00:00+00:00", "reason": "same card as a1",
        "account": {"id": "a4"}, "operator": {"id": "op-kestrel"},
    }]
    assert a["signupIp"] is None


def test_missing_account_and_operator_are_null(server: ApiServer) -> None:
    with server.client(VIEWER) as c:
        assert c.data('{ account(id: "nobody") { id } operator(id: "nobody") { id } run(id: "nope") { id } }') == {
            "account": None, "operator": None, "run": None,
        }


def test_account_identifiers_filtered_by_kind(server: ApiServer) -> None:
    with server.client(ADMIN) as c:
        ids = c.data('{ account(id: "a6") { identifiers(kind: IP) { kind value } } }')["account"]["identifiers"]
    assert sorted(i["value"] for i in ids) == ["198.51.100.23", "2001:db8:1:2::5"]


def test_accounts_by_identifier_pages_through_every_user(server: ApiServer) -> None:
    seen: list[str] = []
    after = None
    with server.client(ANALYST) as c:
        for _ in range(5):
            conn = c.data(ACCOUNTS_BY_IDENTIFIER, {
                "identifier": {"kind": "TEMPLATE", "value": "9f86d081884c7d65"}, "first": 4, "after": after,
            })["accounts"]
            assert conn["totalCount"] == 6
            seen += [e["node"]["id"] for e in conn["edges"]]
            assert conn["pageInfo"]["hasPreviousPage"] is (after is not None)
            if not conn["pageInfo"]["hasNextPage"]:
                break
            after = conn["pageInfo"]["endCursor"]
        assert seen == ["a1", "a2", "a3", "a4", "a5", "a6"]
        edge = c.data(ACCOUNTS_BY_IDENTIFIER, {"identifier": {"kind": "CARD", "value": CARD_TOKEN}, "first": 1})["accounts"]["edges"][0]
        assert (edge["uses"], edge["firstSeen"], edge["lastSeen"]) == (1, "2026-03-01T00:00:00+00:00", "2026-03-03T00:00:00+00:00")
        for kind, value, n in [("IP", "203.0.113.7", 4), ("SUBNET", "203.0.113.0/24", 5), ("DEVICE", "dev-bbb-0002", 2),
                               ("TLS", "t13d1516h2_8daaf6152771", 3), ("EMAIL_DOMAIN", "mailbox.test", 3),
                               ("IP", "192.0.2.1", 0)]:
            conn = c.data(ACCOUNTS_BY_IDENTIFIER, {"identifier": {"kind": kind, "value": value}, "first": 10})["accounts"]
            assert conn["totalCount"] == n == len(conn["edges"]), (kind, value)


def test_operator_detail(server: ApiServer) -> None:
    with server.client(ADMIN) as c:
        o = c.data(OPERATOR_FULL, {"id": "op-kestrel"})["operator"]
    assert (o["label"], o["labelConflict"], o["analystLabel"]) == ("OP-KESTREL", ["OP-FALCON"], None)
    assert (o["size"], o["campaignScore"], o["flagged"], o["retired"]) == (4, 0.91, True, False)
    assert (o["firstRunId"], o["lastRunId"]) == ("run-2", "run-2")
    assert o["features"] == [{"name": "night_share", "value": 0.75}, {"name": "template_reuse", "value": 0.9}]
    assert [(t["kind"], t["value"], t["membersSharing"], t["nAccounts"]) for t in o["topIdentifiers"]] == [
        ("CARD", CARD_TOKEN, 4, 4), ("DEVICE", "dev-aaa-0001", 4, 4), ("IP", "203.0.113.7", 4, 4), ("TEMPLATE", "9f86d081884c7d65", 4, 6),
    ]
    m = o["members"]
    assert m["totalCount"] == 4 and m["pageInfo"]["hasNextPage"] is True
    assert [(e["node"]["id"], e["confidence"], e["provisional"]) for e in m["edges"]] == [
        ("a1", 0.9, False), ("a2", 0.9, False), ("a3", 0.9, False),
    ]
    assert o["lineage"]["splitFrom"] == [{"runId": "run-2", "shared": 4, "operator": {"id": "op-old"}}]
    assert o["lineage"]["splitInto"] == o["lineage"]["mergedInto"] == o["lineage"]["mergedFrom"] == []
    assert o["timeline"] == [
        {"day": "2026-03-01", "interactions": 6, "inputTokens": 600, "outputTokens": 60, "activeAccounts": 3},
        {"day": "2026-03-02", "interactions": 5, "inputTokens": 500, "outputTokens": 50, "activeAccounts": 3},
        {"day": "2026-03-03", "interactions": 7, "inputTokens": 700, "outputTokens": 70, "activeAccounts": 3},
    ]
    assert o["history"] == [{"runId": "run-2", "startedAt": "2026-03-08T00:00:00+00:00", "size": 4, "campaignScore": 0.91,
                             "flagged": True, "label": None}]
    assert o["decisions"] == [{"decision": "CONFIRMED", "by": "alice", "at": "2026-03-07T09:00:00+00:00",
                               "reason": "same card as a1", "account": {"id": "a4"}}]


def test_operator_members_second_page_and_timeline_window(server: ApiServer) -> None:
    with server.client(VIEWER) as c:
        first = c.data('{ operator(id: "op-kestrel") { members(first: 3) { pageInfo { endCursor } } } }')
        cursor = first["operator"]["members"]["pageInfo"]["endCursor"]
        page = c.data('query($c: String) { operator(id: "op-kestrel") { members(first: 3, after: $c) '
                      '{ pageInfo { hasNextPage hasPreviousPage } edges { node { id } } } '
                      'timeline(from: "2026-03-02", to: "2026-03-02") { day interactions } } }', {"c": cursor})
    members = page["operator"]["members"]
    assert [e["node"]["id"] for e in members["edges"]] == ["a4"]
    assert members["pageInfo"] == {"hasNextPage": False, "hasPreviousPage": True}
    assert page["operator"]["timeline"] == [{"day": "2026-03-02", "interactions": 5}]


def test_retired_operator_lineage(server: ApiServer) -> None:
    with server.client(VIEWER) as c:
        o = c.data(OPERATOR_FULL, {"id": "op-old"})["operator"]
    assert o["retired"] is True
    assert o["members"]["totalCount"] == 0 and o["members"]["edges"] == []
    assert o["timeline"] == []
    assert o["lineage"]["splitInto"] == [{"runId": "run-2", "shared": 4, "operator": {"id": "op-kestrel"}}]
    assert o["lineage"]["mergedInto"] == [{"runId": "run-2", "shared": 2, "operator": {"id": "op-heron"}}]
    with server.client(VIEWER) as c:
        heron = c.data('{ operator(id: "op-heron") { lineage { mergedFrom { shared operator { id } } } '
                       'history { runId campaignScore } decisions { decision reason account { id } } } }')["operator"]
    assert heron["lineage"]["mergedFrom"] == [{"shared": 2, "operator": {"id": "op-old"}}]
    assert heron["history"] == [{"runId": "run-2", "campaignScore": 0.2}, {"runId": "run-1", "campaignScore": 0.3}]
    assert heron["decisions"] == [{"decision": "REJECTED", "reason": "shares only gmail.com", "account": {"id": "a7"}}]


def _all_operator_ids(c, variables: dict) -> list[str]:  # type: ignore[no-untyped-def]
    ids: list[str] = []
    after = None
    for _ in range(50):
        conn = c.data(OPERATORS_PAGE, {**variables, "after": after})["operators"]
        ids += [e["node"]["id"] for e in conn["edges"]]
        if not conn["pageInfo"]["hasNextPage"]:
            return ids
        after = conn["pageInfo"]["endCursor"]
    raise AssertionError("pagination did not end")


def test_operators_order_filter_and_pagination(server: ApiServer) -> None:
    with server.client(VIEWER) as c:
        page = c.data(OPERATORS_PAGE, {"first": 3})["operators"]
        assert page["totalCount"] == 27  # current run only: op-old is retired
        assert [e["node"]["id"] for e in page["edges"]] == ["op-f24", "op-f23", "op-kestrel"]  # score desc: 0.96, 0.92, 0.91
        by_score = _all_operator_ids(c, {"first": 4})
        assert len(by_score) == 27 == len(set(by_score)) and "op-old" not in by_score
        asc = _all_operator_ids(c, {"first": 5, "orderBy": {"field": "SIZE", "direction": "ASC"}})
        sizes = {e["node"]["id"]: e["node"]["size"] for e in c.data(OPERATORS_PAGE, {"first": 100})["operators"]["edges"]}
        assert [sizes[i] for i in asc] == sorted(sizes.values())
        assert asc == sorted(asc, key=lambda i: (sizes[i], i))
        flagged = c.data(OPERATORS_PAGE, {"first": 100, "filter": {"flagged": True, "minSize": 4}})["operators"]
        assert all(e["node"]["flagged"] and e["node"]["size"] >= 4 for e in flagged["edges"])
        assert flagged["totalCount"] == len(flagged["edges"]) > 0
        labelled = c.data(OPERATORS_PAGE, {"first": 10, "filter": {"label": "op-kestrel"}})["operators"]
        assert [e["node"]["id"] for e in labelled["edges"]] == ["op-kestrel"] and labelled["totalCount"] == 1
        empty = c.data(OPERATORS_PAGE, {"first": 0})["operators"]
        assert empty["edges"] == [] and empty["totalCount"] == 27 and empty["pageInfo"]["hasNextPage"] is True


def test_cursor_of_another_ordering_is_refused(server: ApiServer) -> None:
    with server.client(VIEWER) as c:
        cursor = c.data(OPERATORS_PAGE, {"first": 1})["operators"]["pageInfo"]["endCursor"]
        body = c.gql(OPERATORS_PAGE, {"first": 1, "after": cursor, "orderBy": {"field": "SIZE", "direction": "ASC"}})
        assert body["errors"][0]["message"] == "Invalid cursor for 'after'."
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        body = c.gql(OPERATORS_PAGE, {"first": 1, "after": "not-a-cursor!"})
        assert body["errors"][0]["message"] == "Invalid cursor for 'after'."


def test_connection_shortest_evidence_path(server: ApiServer) -> None:
    with server.client(ADMIN) as c:
        p = c.data(CONNECTION, {"a": "a1", "b": "a8"})["connection"]
        assert p["hops"] == 2
        assert [a["id"] for a in p["accounts"]] == ["a1", "a6", "a8"]
        assert [(s["from"]["id"], s["via"]["kind"], s["via"]["value"], s["via"]["nAccounts"], s["to"]["id"]) for s in p["steps"]] == [
            ("a1", "TEMPLATE", "9f86d081884c7d65", 6, "a6"),
            ("a6", "IP", "2001:db8:1:2::5", 2, "a8"),
        ]
        # a7 shares only gmail.com (a hub of 100 000 accounts): no evidence path.
        assert c.data(CONNECTION, {"a": "a1", "b": "a7"})["connection"] is None
        assert c.data(CONNECTION, {"a": "a1", "b": "nobody"})["connection"] is None
        body = c.gql(CONNECTION, {"a": "a1", "b": "a1"})
        assert body["errors"][0]["message"] == "Arguments 'a' and 'b' must name two different accounts."
    with server.client(VIEWER) as c:
        steps = c.data(CONNECTION, {"a": "a1", "b": "a8"})["connection"]["steps"]
        assert steps[0]["via"]["value"].startswith("template#")
        assert steps[1]["via"]["value"] == "2001:db8:1::/48"


def test_runs_and_progress(server: ApiServer) -> None:
    with server.client(VIEWER) as c:
        runs = c.data(RUNS, {"first": 2})["runs"]
        assert runs["totalCount"] == 4
        assert [e["node"]["id"] for e in runs["edges"]] == ["run-3", "run-2"]
        running, current = (e["node"] for e in runs["edges"])
        assert (running["status"], running["progress"], running["finishedAt"], running["durationSeconds"]) == ("RUNNING", "communities", None, None)
        assert current["current"] is True and current["durationSeconds"] == 240.0
        assert current["parameters"] == {"seed": 42, "flag_threshold": 0.5}
        assert current["timings"] == [{"phase": "read", "seconds": 1.25}, {"phase": "similarity", "seconds": 2.5}, {"phase": "write", "seconds": 0.25}]
        assert current["counts"] == {"accounts": 8, "operators": 27} and current["metrics"] == {"ari": 0.9}
        rest = c.data(RUNS, {"first": 2, "after": runs["pageInfo"]["endCursor"]})["runs"]
        assert [e["node"]["id"] for e in rest["edges"]] == ["run-1", "run-0"] and rest["pageInfo"]["hasNextPage"] is False
        failed = c.data(RUNS, {"first": 5, "status": "FAILED"})["runs"]
        assert failed["totalCount"] == 1
        assert c.data(RUN, {"id": "run-3"})["run"]["progress"] == "communities"


def test_run_errors_are_viewer_safe(server: ApiServer) -> None:
    """Exception text can name data or paths: viewers read that a run failed, analysts why."""
    for key, expected in ((VIEWER, "The run failed; analysts can read why."), (ANALYST, "RuntimeError: boom")):
        with server.client(key) as c:
            failed = c.data(RUNS, {"first": 5, "status": "FAILED"})["runs"]
            assert [(e["node"]["id"], e["node"]["error"]) for e in failed["edges"]] == [("run-0", expected)]
            assert c.data(RUN, {"id": "run-0"})["run"]["error"] == expected
            assert c.data(RUN, {"id": "run-2"})["run"]["error"] is None


def test_statements_per_request_do_not_grow_with_the_page(server: ApiServer, api_home: Path) -> None:
    """DataLoaders: 3 operators or 25, with members, evidence and accounts: a bounded number of statements.

    A loader batches what one tick of the event loop asks for, so a statement can run twice when
    the same loader is reached at two depths of the tree (decisions' accounts, members' accounts),
    but the count follows the shape of the query, never the number of rows.
    """
    q = """query Wide($first: Int!) { operators(first: $first) { edges { node {
        id topIdentifiers { value } lineage { splitFrom { operator { id label } } } history { runId }
        decisions { by account { id } } timeline { day }
        members(first: 10) { edges { node { id emailDomain identifiers { value accounts(first: 3) { totalCount } }
                                          attribution { confidence evidence { value } run { id } } decisions { by } } } } } } } }"""
    counts = []
    with server.client(VIEWER) as c:
        for first in (3, 25):
            c.data(q, {"first": first})
            record = last_audit(api_home)
            assert record["operation"] == "Wide" and record["outcome"] == "allowed"
            counts.append(record["db_statements"])
    assert counts[1] < 25, counts  # fewer statements than operators on the page
    assert counts[1] <= counts[0] + 6, counts


def test_lookups_find_identifiers_the_graph_does_not_link(server: ApiServer) -> None:
    """An IP one account alone used has no node: the answer comes from the columnar store, same shape."""
    from tests.api.api_seed import HOME_IP

    q = """query($v: String!, $k: IdentifierKind!) { accounts(identifier: {kind: $k, value: $v}, first: 5) {
        totalCount source edges { uses firstSeen lastSeen node { id } } pageInfo { hasNextPage } } }"""
    with server.client(ANALYST) as c:
        home = c.data(q, {"k": "IP", "v": HOME_IP})["accounts"]
        assert home == {"totalCount": 1, "source": "COLUMNAR", "pageInfo": {"hasNextPage": False}, "edges": [{
            "uses": 12, "firstSeen": "2026-03-01T00:00:00+00:00", "lastSeen": "2026-03-02T00:00:00+00:00",
            "node": {"id": "a7"}}]}
        shared = c.data(q, {"k": "IP", "v": "203.0.113.7"})["accounts"]
        assert shared["source"] == "GRAPH" and shared["totalCount"] == 4
        nobody = c.data(q, {"k": "DEVICE", "v": "dev-never-seen"})["accounts"]
        assert nobody["totalCount"] == 0 and nobody["edges"] == []
        # Two lookups in one request, one from each source, one statement and one scan.
        both = c.data("""{ a: accounts(identifier: {kind: DEVICE, value: "dev-zzz-0009"}) { totalCount source }
                           b: accounts(identifier: {kind: DEVICE, value: "dev-bbb-0002"}) { totalCount source } }""")
        assert both == {"a": {"totalCount": 1, "source": "COLUMNAR"}, "b": {"totalCount": 2, "source": "GRAPH"}}
