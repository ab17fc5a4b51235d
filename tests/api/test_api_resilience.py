"""Neo4j going away and coming back, slow answers, and an empty columnar store."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from sybilgraph.api import create_app
from sybilgraph.db.session import Database
from sybilgraph.settings import Settings
from tests.api.api_support import VIEWER, ApiServer, TcpProxy, free_port
from tests.api.conftest import app_settings

pytestmark = pytest.mark.integration

UNAVAILABLE = {"message": "The graph database is unavailable; try again shortly.", "code": "DATABASE_UNAVAILABLE"}
QUERY = '{ account(id: "a1") { id } }'


def error_of(body: dict) -> dict:
    e = body["errors"][0]
    return {"message": e["message"], "code": e["extensions"]["code"]}


@pytest.fixture()
def proxy(neo4j_settings: Settings) -> Iterator[TcpProxy]:
    target = urlparse(neo4j_settings.bolt_uri)
    p = TcpProxy(target.hostname or "127.0.0.1", target.port or 7687).start()
    yield p
    p.close()


def test_neo4j_unreachable(neo4j_settings: Settings, tmp_path: Path) -> None:
    closed = f"bolt://127.0.0.1:{free_port()}"
    app = create_app(app_settings(neo4j_settings, tmp_path, uri=closed))
    with ApiServer(app) as srv, srv.client(VIEWER) as c:
        assert c.http.get("/healthz").json() == {"status": "ok"}
        r = c.http.get("/readyz")
        assert r.status_code == 503
        assert r.json() == {"status": "unavailable", "reason": "The graph database is unavailable; try again shortly."}
        t0 = time.monotonic()
        body = c.gql(QUERY)
        assert time.monotonic() - t0 < 10
    assert body["data"] == {"account": None}
    assert error_of(body) == UNAVAILABLE
    assert "Traceback" not in json.dumps(body)
    record = json.loads((tmp_path / "audit" / "audit.jsonl").read_text().splitlines()[-1])
    assert record["outcome"] == "failed" and record["errors"][0]["code"] == "DATABASE_UNAVAILABLE"


def test_recovers_when_neo4j_returns(neo4j_settings: Settings, seeded: Database, tmp_path: Path, proxy: TcpProxy) -> None:
    app = create_app(app_settings(neo4j_settings, tmp_path, uri=f"bolt://127.0.0.1:{proxy.port}"))
    with ApiServer(app) as srv, srv.client(VIEWER) as c:
        assert c.data(QUERY) == {"account": {"id": "a1"}}
        assert c.http.get("/readyz").status_code == 200
        proxy.stop()  # Neo4j is away: every connection cut, nothing answers
        assert error_of(c.gql('{ account(id: "a2") { id } }')) == UNAVAILABLE  # (a1's answer may be cached)
        assert c.http.get("/readyz").status_code == 503
        assert c.http.get("/healthz").status_code == 200
        proxy.start()  # ... and back: no restart of the API needed
        deadline = time.monotonic() + 20
        while True:
            body = c.gql(QUERY)
            if "errors" not in body or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert body == {"data": {"account": {"id": "a1"}}}
        assert c.http.get("/readyz").json() == {"status": "ready"}


def test_slow_queries_hit_the_deadline(neo4j_settings: Settings, seeded: Database, tmp_path: Path, proxy: TcpProxy) -> None:
    app = create_app(app_settings(neo4j_settings, tmp_path, uri=f"bolt://127.0.0.1:{proxy.port}", query_timeout_s=0.5))
    with ApiServer(app) as srv, srv.client(VIEWER) as c:
        assert c.data(QUERY) == {"account": {"id": "a1"}}  # warm: the connection is open
        proxy.delay_s = 2.0
        t0 = time.monotonic()
        body = c.gql('{ account(id: "a2") { id } }')  # not an answer the cache holds
        assert time.monotonic() - t0 < 2.0
        assert body == {"data": None, "errors": [{"message": "Query timed out after 0.5 s.", "extensions": {"code": "TIMEOUT"}}]}
        proxy.delay_s = 0.0
    record = json.loads((tmp_path / "audit" / "audit.jsonl").read_text().splitlines()[-1])
    assert record["outcome"] == "failed" and record["errors"] == [{"code": "TIMEOUT", "message": "Query timed out after 0.5 s."}]


def test_timeline_without_interaction_files(neo4j_settings: Settings, seeded: Database, tmp_path: Path) -> None:
    app = create_app(app_settings(neo4j_settings, tmp_path))
    with ApiServer(app) as srv, srv.client(VIEWER) as c:
        assert c.data('{ operator(id: "op-kestrel") { timeline { day } } }') == {"operator": {"timeline": []}}
