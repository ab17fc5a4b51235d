"""Over HTTP against the real Neo4j, one test per finding of the hardening issue: the cost limit,
a deadline that cancels the work it started, the viewer's masking oracle, per-key rate limits,
spoofed X-Forwarded-For, trusted documents, and production as the default."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from fastapi import Request
from fastapi.responses import Response

from sybilgraph.api import create_app
from sybilgraph.api.app import request_headers, to_response
from sybilgraph.settings.api import ApiSection, Role
from sybilgraph.api.documents import document_sha256
from sybilgraph.api.masking import Masker
from sybilgraph.api.columnar import active_scans
from sybilgraph.db.session import Database
from sybilgraph.errors import ConfigError
from sybilgraph.settings import Settings
from tests.api.api_queries import ACCOUNTS_BY_IDENTIFIER, DECIDE, LABEL_OPERATOR
from tests.api.api_support import ANALYST, KEYS, VIEWER, ApiServer
from tests.api.conftest import AUDIT_KEY, MASK_KEY, api_settings, app_settings

pytestmark = pytest.mark.integration

MASKER = Masker(MASK_KEY.encode())


def operations(home: Path) -> list[dict]:
    lines = (home / "audit" / "audit.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r.get("event") == "operation"]


@pytest.fixture()
def make_server(neo4j_settings: Settings, seeded: Database, tmp_path: Path) -> Iterator:  # type: ignore[type-arg]
    servers: list[ApiServer] = []

    def make(**overrides: object) -> ApiServer:
        home = tmp_path / f"home{len(servers)}"
        srv = ApiServer(create_app(app_settings(neo4j_settings, home), api_settings=api_settings(**overrides)))
        srv.home = home  # type: ignore[attr-defined]
        servers.append(srv.__enter__())
        return srv

    yield make
    for srv in servers:
        srv.__exit__(None, None, None)


# -- cost ------------------------------------------------------------------------------------------
EXPENSIVE = """query Expensive { operators(first: 100) { edges { node { members(first: 100) { edges { node {
    identifiers { accounts(first: 100) { edges { node { id } } } } } } } } } } }"""


def test_an_expensive_query_is_refused_before_it_runs(server: ApiServer, api_home: Path) -> None:
    with server.client(VIEWER) as c:
        body = c.gql(EXPENSIVE)
    assert body == {"data": None, "errors": [{
        "message": "Query too expensive: its estimated cost is 40420302, over the viewer budget of 50000 "
                   "(each field counts once per object returned; page sizes multiply down the query).",
        "extensions": {"code": "COST_LIMIT_EXCEEDED"},
    }]}
    record = operations(api_home)[-1]
    assert (record["operation"], record["outcome"], record["db_statements"], record["cost"]) == (
        "Expensive", "denied", 0, 40420302)
    with server.client(VIEWER) as c:  # the same shape with small pages is fine
        small = EXPENSIVE.replace("first: 100", "first: 5")
        assert "errors" not in c.gql(small)


# -- the deadline ------------------------------------------------------------------------------------
def _api_transactions(db: Database) -> list[dict]:
    rows = db.driver.execute_query(
        "SHOW TRANSACTIONS YIELD transactionId, metaData, currentQuery RETURN transactionId, metaData").records
    return [r.data() for r in rows if (r["metaData"] or {}).get("app") == "sybilgraph-api"]


def test_the_deadline_cancels_the_database_work_it_started(make_server, fresh_graph: Database) -> None:  # type: ignore[no-untyped-def]
    srv = make_server(query_timeout_s=1.0)
    locked, release = threading.Event(), threading.Event()

    def hold_the_operator() -> None:  # another writer holds op-heron's lock past the API's deadline
        with fresh_graph.driver.session() as s, s.begin_transaction() as tx:
            tx.run("MATCH (o:Operator {operator_id: 'op-heron'}) SET o.held = true").consume()
            locked.set()
            release.wait(20)
            tx.rollback()

    holder = threading.Thread(target=hold_the_operator, daemon=True)
    holder.start()
    assert locked.wait(10)
    try:
        with srv.client(ANALYST) as c:
            t0 = time.monotonic()
            body = c.gql(LABEL_OPERATOR, {"id": "op-heron", "label": "OP-HERON"})
            waited = time.monotonic() - t0
        assert body["errors"][0]["message"] == "Query timed out after 1 s."
        assert body["errors"][0]["extensions"]["code"] == "TIMEOUT"
        assert waited < 5
        deadline = time.monotonic() + 5
        while _api_transactions(fresh_graph) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _api_transactions(fresh_graph) == []  # Neo4j stopped the API's transaction too
    finally:
        release.set()
        holder.join(10)
    label = fresh_graph.driver.execute_query(
        "MATCH (o:Operator {operator_id: 'op-heron'}) RETURN o.analyst_label AS l").records[0]["l"]
    assert label is None


def test_the_deadline_interrupts_the_duckdb_scan(neo4j_settings: Settings, seeded: Database, tmp_path: Path) -> None:
    home = tmp_path / "big"
    out = home / "columnar" / "bundles" / "ingest-0001" / "interactions"
    out.mkdir(parents=True)
    duckdb.sql(f"""COPY (SELECT 'a' || (1 + i % 4)::VARCHAR AS account_id,
                              TIMESTAMPTZ '2026-03-01 00:00:00+00' + to_seconds(i % 8000000) AS ts,
                              100::BIGINT AS input_tokens, 10::BIGINT AS output_tokens
                       FROM range(25000000) t(i)) TO '{out / "part-00000.parquet"}' (FORMAT parquet)""")
    app = create_app(app_settings(neo4j_settings, home), api_settings=api_settings(query_timeout_s=0.3))
    with ApiServer(app) as srv, srv.client(VIEWER) as c:
        body = c.gql('{ operator(id: "op-kestrel") { timeline { day interactions } } }')
        assert body["errors"][0]["message"] == "Query timed out after 0.3 s."
        deadline = time.monotonic() + 5
        while active_scans() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert active_scans() == 0


# -- masking: the viewer's oracle is closed -------------------------------------------------------------
def test_viewers_pivot_by_handle_not_by_value(server: ApiServer, api_home: Path) -> None:
    with server.client(VIEWER) as viewer, server.client(ANALYST) as analyst:
        raw = viewer.gql(ACCOUNTS_BY_IDENTIFIER, {"identifier": {"kind": "IP", "value": "203.0.113.7"}, "first": 5})
        assert raw["data"] is None and raw["errors"][0]["message"] == (
            "Forbidden: looking accounts up by a raw identifier value requires the analyst role (you have viewer); "
            "pivot from an identifier you were shown with accounts(handle: ...).")
        assert raw["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        # What the viewer was shown: the /24 and a handle beside it.
        shown = viewer.data('{ account(id: "a1") { identifiers(kind: IP) { value handle } } }')
        ip = shown["account"]["identifiers"][0]
        assert ip["value"] == "203.0.113.0/24" and ip["handle"].startswith("idh1_")
        masked = viewer.gql(ACCOUNTS_BY_IDENTIFIER, {"identifier": {"kind": "IP", "value": ip["value"]}, "first": 5})
        assert masked["errors"][0]["message"] == (
            "'203.0.113.0/24' is a masked value, not an identifier: look it up by the handle shown beside it, "
            "accounts(handle: \"...\") (the 'handle' field of the identifier).")
        pivot = viewer.data(ACCOUNTS_BY_IDENTIFIER, {"handle": ip["handle"], "first": 5})["accounts"]
        assert [e["node"]["id"] for e in pivot["edges"]] == ["a1", "a2", "a3", "a4"]
        forged = viewer.gql(ACCOUNTS_BY_IDENTIFIER, {"handle": "idh1_" + "A" * 40, "first": 5})
        assert forged["errors"][0]["message"] == (
            "Invalid identifier handle: pass the 'handle' of an identifier this server showed you.")
        # The 20-aliases x 13-guesses attack: every guess is refused, none answers.
        guesses = " ".join(f'g{i}: accounts(identifier: {{kind: IP, value: "203.0.113.{i}"}}) {{ totalCount }}'
                           for i in range(20))
        attack = viewer.gql("{ " + guesses + " }")
        assert attack["data"] is None and {e["extensions"]["code"] for e in attack["errors"]} == {"FORBIDDEN"}
        # Analysts keep the raw lookup, and get the same accounts.
        by_value = analyst.data(ACCOUNTS_BY_IDENTIFIER, {"identifier": {"kind": "IP", "value": "203.0.113.7"}, "first": 5})
        assert by_value["accounts"]["edges"] == pivot["edges"]
    record = operations(api_home)[-1]
    assert record["lookups"] == [{"kind": "ip", "ref": MASKER.ref("ip", "203.0.113.7")}]
    assert "203.0.113.7" not in (api_home / "audit" / "audit.jsonl").read_text()


def test_identifier_lookups_are_rate_limited_per_key(make_server) -> None:  # type: ignore[no-untyped-def]
    srv = make_server(lookup_rate_limits=dict.fromkeys(("viewer", "analyst", "admin"), {"per_second": 0.1, "burst": 3}))
    with srv.client(ANALYST) as c:
        variables = {"identifier": {"kind": "DEVICE", "value": "dev-aaa-0001"}, "first": 1}
        for _ in range(3):
            assert "errors" not in c.gql(ACCOUNTS_BY_IDENTIFIER, variables)
        r = c.post(ACCOUNTS_BY_IDENTIFIER, variables)
    assert r.status_code == 429 and r.headers["retry-after"] == "10"
    assert r.json()["errors"] == [{"message": "Rate limit exceeded for identifier lookups with this API key; retry after 10 s.",
                                   "extensions": {"code": "RATE_LIMITED"}}]


# -- rate limits ------------------------------------------------------------------------------------------
def test_requests_over_the_rate_get_429_with_retry_after(make_server) -> None:  # type: ignore[no-untyped-def]
    srv = make_server(rate_limits={"viewer": {"per_second": 0.5, "burst": 2}, "analyst": {"per_second": 100, "burst": 100},
                                   "admin": {"per_second": 100, "burst": 100}})
    with srv.client(VIEWER) as viewer, srv.client(ANALYST) as analyst:
        assert [viewer.post("{ me { user } }").status_code for _ in range(2)] == [200, 200]
        r = viewer.post("{ me { user } }")
        assert r.status_code == 429 and r.headers["retry-after"] == "2"
        assert r.json() == {"data": None, "errors": [{
            "message": "Rate limit exceeded for this API key; retry after 2 s.", "extensions": {"code": "RATE_LIMITED"}}]}
        assert analyst.post("{ me { user } }").status_code == 200  # another key, another bucket
    record = operations(srv.home)[-2]
    assert (record["user"], record["outcome"], record["errors"][0]["code"]) == ("vera", "denied", "RATE_LIMITED")


def test_strangers_are_limited_by_address(make_server) -> None:  # type: ignore[no-untyped-def]
    srv = make_server(unauthenticated_rate_limit={"per_second": 0.2, "burst": 2})
    with srv.client("guess-1") as c:
        assert [c.post("{ me { user } }").status_code for _ in range(3)] == [401, 401, 429]


# -- proxies ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("overrides", "expected"), [
    ({}, "127.0.0.1"),                                     # no proxy configured: the TCP peer
    ({"trusted_proxies": ["127.0.0.0/8"]}, "198.51.100.9"),  # our proxy appended the client it saw
    ({"trusted_proxy_count": 1}, "198.51.100.9"),
    ({"trusted_proxies": ["10.0.0.0/8"]}, "127.0.0.1"),      # the peer is not our proxy: header ignored
])
def test_a_spoofed_x_forwarded_for_does_not_set_the_origin(make_server, overrides: dict, expected: str) -> None:  # type: ignore[no-untyped-def]
    srv = make_server(**overrides)
    # The client wrote 6.6.6.6 itself; the proxy (the loopback peer) appended the address it saw.
    with srv.client(VIEWER) as c:
        c.http.post("/graphql", json={"query": "{ me { user } }"}, headers={"X-Forwarded-For": "6.6.6.6, 198.51.100.9"})
    assert operations(srv.home)[-1]["origin"] == expected


# -- trusted documents -------------------------------------------------------------------------------------------
ME = "query Me { me { user } }"


def test_trusted_documents_by_hash_and_trusted_only_mode(make_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    manifest = tmp_path / "documents.json"
    manifest.write_text(json.dumps([ME]))
    sha = document_sha256(ME)
    srv = make_server(trusted_documents=manifest)
    with srv.client(VIEWER) as c:
        assert c.http.post("/graphql", json={"documentId": f"sha256:{sha}"}).json() == {"data": {"me": {"user": "vera"}}}
        apollo = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha}}}
        assert c.http.post("/graphql", json=apollo).json() == {"data": {"me": {"user": "vera"}}}
        unknown = c.http.post("/graphql", json={"documentId": "sha256:" + "0" * 64}).json()
        assert unknown["errors"] == [{"message": f"No trusted document has the id 'sha256:{'0' * 64}'; send the query text.",
                                      "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}]
        assert c.data("{ me { role } }") == {"me": {"role": "VIEWER"}}  # other text still runs here ...
    strict = make_server(trusted_documents=manifest, trusted_documents_only=True)
    with strict.client(VIEWER) as c:
        assert c.gql(ME) == {"data": {"me": {"user": "vera"}}}
        body = c.gql("{ me { role } }")  # ... but not in trusted-only mode
        assert body["errors"][0]["message"] == "This server runs trusted documents only; this document is not one of them."
    assert operations(strict.home)[-1]["outcome"] == "denied"


# -- production is the default ------------------------------------------------------------------------------------------
def test_production_is_the_default_and_needs_an_audit_key(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    with pytest.raises(ConfigError) as e:
        create_app(settings, api_settings=ApiSection(keys=KEYS, mask_key=MASK_KEY))
    assert str(e.value) == ("refusing to start in production: SYBILGRAPH_API_AUDIT_KEY must be set to at least 16 "
                            "random characters")
    with pytest.raises(ConfigError, match="no API keys configured"):  # no demo keys unless development is asked for
        create_app(settings, api_settings=ApiSection(mask_key=MASK_KEY, audit_key=AUDIT_KEY))
    app = create_app(settings, api_settings=ApiSection(keys=KEYS, mask_key=MASK_KEY, audit_key=AUDIT_KEY))
    assert app.state.sybilgraph.production is True and app.openapi_url is None
    dev = create_app(settings, production=False, api_settings=ApiSection())
    assert dev.state.sybilgraph.production is False and len(dev.state.sybilgraph.authenticator) == 3  # the demo keys


# -- other endpoints go through the same gate ------------------------------------------------------------------
def test_a_rest_endpoint_is_authenticated_limited_and_audited(neo4j_settings: Settings, seeded: Database, tmp_path: Path) -> None:
    app = create_app(app_settings(neo4j_settings, tmp_path), api_settings=api_settings())

    @app.get("/example/operators/{operator_id}")  # any path: /reports/operators/{id} is the real case file (api/reports.py)
    async def report(operator_id: str, request: Request) -> Response:
        async def produce(ctx):  # type: ignore[no-untyped-def]
            row = await ctx.loaders.operator.load(operator_id)
            return 200, f"<h1>{row['operator_id']}</h1>".encode(), "text/html"

        client = request.client.host if request.client else "unknown"
        answer = await app.state.gateway.rest(request_headers(request), client, "report:operator", Role.ANALYST, produce)
        return to_response(answer)

    with ApiServer(app) as srv, srv.client(ANALYST) as analyst, srv.client(VIEWER) as viewer, srv.client(None) as nobody:
        ok = analyst.http.get("/example/operators/op-kestrel")
        assert (ok.status_code, ok.text, ok.headers["content-type"]) == (200, "<h1>op-kestrel</h1>", "text/html")
        denied = viewer.http.get("/example/operators/op-kestrel")
        assert denied.status_code == 403 and denied.json()["errors"][0]["message"] == (
            "Forbidden: 'report:operator' requires the analyst role (you have viewer).")
        assert nobody.http.get("/example/operators/op-kestrel").status_code == 401
    records = operations(tmp_path)[-3:]
    assert [(r["operation"], r["operation_type"], r["outcome"], r["operators"]) for r in records] == [
        ("report:operator", "rest", "allowed", ["op-kestrel"]), ("report:operator", "rest", "denied", []),
        ("report:operator", "rest", "denied", [])]


# -- the response cache: fast, and never stale ------------------------------------------------------------------
ATTRIBUTION = 'query A($id: ID!) { account(id: $id) { attribution { operator { id label } } decisions { decision reason } } }'


def test_cached_answers_are_never_stale(neo4j_settings: Settings, fresh_graph: Database, tmp_path: Path) -> None:
    app = create_app(app_settings(neo4j_settings, tmp_path),
                     api_settings=api_settings(cache_status_header=True, cache_check_interval_s=0.2))
    with ApiServer(app) as srv, srv.client(ANALYST) as c:
        def ask(account: str) -> tuple[str | None, dict]:
            r = c.post(ATTRIBUTION, {"id": account})
            assert r.status_code == 200 and "errors" not in r.json(), r.text
            return r.headers.get("x-sybilgraph-cache"), r.json()["data"]["account"]

        assert ask("a6")[0] == "miss"
        cache, before = ask("a6")
        assert cache == "hit" and before["decisions"] == []
        # A decision through the API: the very next answer has it.
        c.data(DECIDE, {"accountId": "a6", "operatorId": "op-heron", "decision": "REJECTED", "reason": "library NAT"})
        cache, after = ask("a6")
        assert cache == "miss" and after["decisions"] == [{"decision": "REJECTED", "reason": "library NAT"}]
        # A label through the API.
        c.data(LABEL_OPERATOR, {"id": "op-heron", "label": "OP-HERON"})
        assert ask("a6")[1]["attribution"]["operator"] == {"id": "op-heron", "label": "OP-HERON"}
        # A run promoted by another process (the scheduler): seen within the check interval.
        assert ask("a1")[1]["attribution"]["operator"]["id"] == "op-kestrel"
        fresh_graph.driver.execute_query("""
            MATCH (old:AttributionRun {run_id: 'run-2'}), (a:Account {account_id: 'a1'}), (h:Operator {operator_id: 'op-heron'})
            CREATE (new:AttributionRun {run_id: 'run-9', status: 'complete', current: true, started_at: datetime()})
            CREATE (a)-[:ATTRIBUTED_TO {run_id: 'run-9', confidence: 0.8, provisional: false, evidence_json: '[]'}]->(h)
            SET old.current = false""")
        time.sleep(0.3)
        cache, promoted = ask("a1")
        assert cache == "miss" and promoted["attribution"]["operator"]["id"] == "op-heron"
        # Any other writer bumps the data version after its change.
        fresh_graph.driver.execute_query("MATCH (a:Account {account_id: 'a1'})-[r:ATTRIBUTED_TO {run_id: 'run-9'}]->() DELETE r")
        fresh_graph.write("db/bump_data_version", reason="test")
        time.sleep(0.3)
        assert ask("a1")[1]["attribution"] is None
    hits = [r["cache"] for r in operations(tmp_path) if r["operation"] == "A"]
    assert hits.count("hit") >= 1 and hits[0] == "miss"
