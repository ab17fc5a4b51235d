"""Analyst mutations: labels, decisions the next run honours, and background attribution runs."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sybilgraph import cypher
from sybilgraph.api import create_app
from sybilgraph.db.lease import ATTRIBUTION_LEASE, hold
from sybilgraph.db.session import Database
from sybilgraph.errors import AttributionError
from sybilgraph.settings import Settings
from tests.api.api_queries import DECIDE, LABEL_OPERATOR, OPERATORS_PAGE, RUN, START_RUN
from tests.api.api_support import ADMIN, ANALYST, ApiServer
from tests.api.conftest import api_settings, app_settings

pytestmark = pytest.mark.integration

class FakeAttribution:
    """Stands in for sybilgraph.attribution: takes the attribution lease as it does, creates the run
    node it is given, then works until released."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.release = threading.Event()
        self.finished = threading.Event()
        self.run_ids: list[str] = []

    def __call__(self, settings: Settings, run_id: str) -> str:
        with hold(self.db, ATTRIBUTION_LEASE, ttl_s=60):
            self.run_ids.append(run_id)
            self.db.driver.execute_query(
                "CREATE (:AttributionRun {run_id: $id, status: 'running', current: false, started_at: datetime(), "
                "seed: 42, params_json: '{\"seed\": 42}', progress: 'read'})", id=run_id)
            self.release.wait(30)
            self.db.driver.execute_query(
                "MATCH (r:AttributionRun {run_id: $id}) SET r.status = 'complete', r.progress = 'complete', "
                "r.finished_at = datetime()", id=run_id)
            self.finished.set()
        return run_id


def records(home: Path) -> list[dict]:
    """The operation records of the audit log (mutations also write intent and outcome records)."""
    lines = (home / "audit" / "audit.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r.get("event") == "operation"]


@pytest.fixture()
def fake(fresh_graph: Database) -> Iterator[FakeAttribution]:
    f = FakeAttribution(fresh_graph)
    yield f
    f.release.set()


@pytest.fixture()
def writable(neo4j_settings: Settings, tmp_path: Path, fake: FakeAttribution) -> Iterator[ApiServer]:
    app = create_app(app_settings(neo4j_settings, tmp_path), api_settings=api_settings(), run_attribution=fake)
    with ApiServer(app) as srv:
        yield srv


def test_label_operator(writable: ApiServer, fresh_graph: Database, tmp_path: Path) -> None:
    with writable.client(ANALYST) as c:
        op = c.data(LABEL_OPERATOR, {"id": "op-heron", "label": "  OP-HERON  "})["labelOperator"]
        assert op == {"id": "op-heron", "label": "OP-HERON", "analystLabel": "OP-HERON"}
        found = c.data(OPERATORS_PAGE, {"first": 5, "filter": {"label": "OP-HERON"}})["operators"]["edges"]
        assert [e["node"]["id"] for e in found] == ["op-heron"]
        body = c.gql(LABEL_OPERATOR, {"id": "op-none", "label": "X"})
        assert body["errors"][0]["message"] == "Operator 'op-none' does not exist."
        assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        body = c.gql(LABEL_OPERATOR, {"id": "op-heron", "label": "   "})
        assert body["errors"][0]["message"] == "Argument 'label' must be 1 to 64 printable characters."
    row = fresh_graph.driver.execute_query(
        "MATCH (o:Operator {operator_id: 'op-heron'}) RETURN o.analyst_label AS l, o.label_set_by AS by").records[0]
    assert (row["l"], row["by"]) == ("OP-HERON", "alice")
    labelled = [r for r in records(tmp_path) if r["operation"] == "LabelOperator"]
    assert labelled[0]["operators"] == ["op-heron"] and labelled[0]["outcome"] == "allowed"


def test_decide_attribution_is_stored_for_the_next_run(writable: ApiServer, fresh_graph: Database) -> None:
    with writable.client(ANALYST) as c:
        d = c.data(DECIDE, {"accountId": "a6", "operatorId": "op-heron", "decision": "REJECTED",
                            "reason": "device shared at a library"})["decideAttribution"]
        assert (d["decision"], d["by"], d["reason"], d["account"], d["operator"]) == (
            "REJECTED", "alice", "device shared at a library", {"id": "a6"}, {"id": "op-heron"})
        assert d["at"].startswith("20")
        history = c.data('{ account(id: "a6") { decisions { decision by } } }')["account"]["decisions"]
        assert history == [{"decision": "REJECTED", "by": "alice"}]
        for variables, message in [
            ({"accountId": "zz", "operatorId": "op-heron"}, "Account 'zz' does not exist."),
            ({"accountId": "a6", "operatorId": "op-zz"}, "Operator 'op-zz' does not exist."),
        ]:
            body = c.gql(DECIDE, {**variables, "decision": "CONFIRMED", "reason": "r"})
            assert body["errors"][0]["message"] == message
        body = c.gql(DECIDE, {"accountId": "a6", "operatorId": "op-heron", "decision": "CONFIRMED", "reason": ""})
        assert body["errors"][0]["message"] == "Argument 'reason' must be 1 to 2000 characters."
    # The attribution pipeline reads decisions with its own statement: ours must be what it expects.
    decisions = fresh_graph.read("attribution/read_decisions") if cypher.path_of("attribution/read_decisions").exists() else []
    if decisions:
        assert {"account_id": "a6", "operator_id": "op-heron", "decision": "rejected"} in decisions
    rel = fresh_graph.driver.execute_query(
        "MATCH (:Account {account_id: 'a6'})-[d:DECISION]->(:Operator {operator_id: 'op-heron'}) "
        "RETURN d.decision AS decision, d.by AS by, d.reason AS reason, d.at IS NOT NULL AS dated").records
    assert [r.data() for r in rel] == [{"decision": "rejected", "by": "alice", "reason": "device shared at a library", "dated": True}]


def test_start_attribution_run_returns_at_once(writable: ApiServer, fake: FakeAttribution) -> None:
    with writable.client(ANALYST) as c:
        t0 = time.monotonic()
        started = c.data(START_RUN)["startAttributionRun"]
        assert time.monotonic() - t0 < 10
        run_id = started["runId"]
        assert run_id == fake.run_ids[0] and not fake.finished.is_set()
        assert started["run"] == {"id": run_id, "status": "RUNNING", "progress": "read"}
        body = c.gql(START_RUN)  # the lease, not this server, says one run at a time
        assert body["errors"][0]["message"].startswith("another attribution run is in progress (")
        assert body["errors"][0]["extensions"]["code"] == "CONFLICT"
        fake.release.set()
        assert fake.finished.wait(10)
        run = c.data(RUN, {"id": run_id})["run"]
        assert (run["status"], run["progress"], run["parameters"]) == ("COMPLETE", "complete", {"seed": 42})
        # The thread has finished: a new run may start.
        deadline = time.monotonic() + 10
        while True:
            body = c.gql(START_RUN)
            if "errors" not in body or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert "errors" not in body, body


def test_the_run_returned_is_the_run_started_under_a_concurrent_run(neo4j_settings: Settings, fresh_graph: Database,
                                                                     tmp_path: Path) -> None:
    """A scheduler's run that appears while the API's run is starting is not taken for it."""
    scheduler_run = threading.Event()

    def slow_start(settings: Settings, run_id: str) -> str:
        fresh_graph.driver.execute_query(  # another process starts a run first ...
            "CREATE (:AttributionRun {run_id: 'run-scheduler', status: 'running', current: false, started_at: datetime()})")
        scheduler_run.set()
        time.sleep(0.5)  # ... and ours creates its node only later
        fresh_graph.driver.execute_query(
            "CREATE (:AttributionRun {run_id: $id, status: 'running', current: false, started_at: datetime()})", id=run_id)
        time.sleep(2)
        return run_id

    with _server_with(neo4j_settings, tmp_path, slow_start) as srv, srv.client(ANALYST) as c:
        started = c.data(START_RUN)["startAttributionRun"]
    assert scheduler_run.is_set()
    assert started["runId"] != "run-scheduler" and started["runId"].startswith("run-")
    assert started["run"]["id"] == started["runId"] and started["run"]["status"] == "RUNNING"


def _server_with(neo4j_settings: Settings, home: Path, fn) -> ApiServer:  # type: ignore[no-untyped-def]
    return ApiServer(create_app(app_settings(neo4j_settings, home), api_settings=api_settings(), run_attribution=fn))


def test_attribution_not_wired(neo4j_settings: Settings, seeded: Database, tmp_path: Path) -> None:
    app = create_app(app_settings(neo4j_settings, tmp_path), api_settings=api_settings())
    with ApiServer(app) as srv, srv.client(ADMIN) as c:
        body = c.gql(START_RUN)
    assert body["data"] is None
    assert body["errors"][0]["message"] == "attribution not available"
    assert body["errors"][0]["extensions"]["code"] == "NOT_AVAILABLE"


def test_attribution_failure_is_reported(neo4j_settings: Settings, seeded: Database, tmp_path: Path) -> None:
    def locked(settings: Settings, run_id: str) -> str:
        raise AttributionError("another attribution run is in progress (host:1:run-x); its lock expires at later")

    with _server_with(neo4j_settings, tmp_path, locked) as srv, srv.client(ANALYST) as c:
        body = c.gql(START_RUN)
    assert body["errors"][0]["message"] == (
        "another attribution run is in progress (host:1:run-x); its lock expires at later")
    assert body["errors"][0]["extensions"]["code"] == "ATTRIBUTION_FAILED"


def test_a_callable_that_returns_quickly(neo4j_settings: Settings, seeded: Database, tmp_path: Path) -> None:
    given: list[str] = []

    def quick(settings: Settings, run_id: str) -> str:
        given.append(run_id)
        return run_id

    with _server_with(neo4j_settings, tmp_path, quick) as srv, srv.client(ANALYST) as c:
        assert c.data(START_RUN)["startAttributionRun"]["runId"] == given[0]
