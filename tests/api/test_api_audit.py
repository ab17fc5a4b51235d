"""The audit log: one keyed, chained record per operation, written before changes commit, that no
input can break or bloat, repaired after a torn write, and checked by ``sybilgraph audit verify``."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sybilgraph.api import create_app
from sybilgraph.api.audit import GENESIS, MAX_RECORD_BYTES, AuditHead, AuditLog, canonical_json, record_hash, verify_chain
from sybilgraph.cli import app as cli
from sybilgraph.db.session import Database
from sybilgraph.settings import Settings
from tests.api.api_queries import ACCOUNTS_BY_IDENTIFIER, DECIDE, LABEL_OPERATOR
from tests.api.api_support import ANALYST, VIEWER, ApiServer
from tests.api.conftest import AUDIT_KEY, api_settings, app_settings

pytestmark = pytest.mark.integration

KEY = AUDIT_KEY.encode()


def records(home: Path) -> list[dict]:
    path = home / "audit" / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def operations(home: Path) -> list[dict]:
    return [r for r in records(home) if r.get("event") == "operation"]


def test_every_operation_writes_exactly_one_record(server: ApiServer, api_home: Path) -> None:
    before = len(operations(api_home))
    with server.client(VIEWER) as viewer, server.client(None) as nobody, server.client("bad-key") as bad:
        viewer.gql('query One { account(id: "a1") { id attribution { operator { id } } } }')   # allowed
        nobody.post("query Two { me { user } }")                                         # denied: no key
        bad.post("query Three { me { user } }", operation_name="Three")                  # denied: bad key
        viewer.gql(DECIDE, {"accountId": "a1", "operatorId": "op-heron", "decision": "REJECTED", "reason": "x"})  # denied: role
        viewer.gql("query Five { nope }")                                                # failed: validation
        viewer.gql("query Six { operators(first: 101) { totalCount } }")                 # failed: bad input
        viewer.gql("query Seven { me { user ")                                           # failed: syntax
        viewer.http.post("/graphql", json={})                                            # failed: no query
    new = operations(api_home)[before:]
    assert [(r["operation"], r["outcome"]) for r in new] == [
        ("One", "allowed"), (None, "denied"), ("Three", "denied"), ("Decide", "denied"),
        ("Five", "failed"), ("Six", "failed"), (None, "failed"), (None, "failed"),
    ]
    one = new[0]
    assert (one["user"], one["role"], one["origin"], one["operation_type"], one["fields"]) == (
        "vera", "viewer", "127.0.0.1", "query", ["account"])
    assert one["accounts"] == ["a1"] and one["operators"] == ["op-kestrel"]
    assert one["ts"].endswith("Z") and len(one["query_sha256"]) == 64 and one["key_id"] and one["v"] == 2
    assert new[1]["user"] is None and new[1]["errors"] == [{
        "code": "UNAUTHENTICATED",
        "message": "Authentication required: send an API key in 'X-API-Key' or 'Authorization: Bearer'.",
    }]
    assert new[2]["errors"][0]["message"] == "Invalid API key."
    assert new[3]["errors"][0]["code"] == "FORBIDDEN"
    assert new[3]["accounts"] == [] and new[3]["operators"] == []
    assert [r["errors"][0]["code"] for r in new[4:]] == [
        "GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT", "GRAPHQL_PARSE_FAILED", "BAD_REQUEST"]
    report = verify_chain(api_home / "audit" / "audit.jsonl", KEY)
    assert report.ok and report.records == len(records(api_home))


def test_identifier_variables_are_redacted(server: ApiServer, api_home: Path) -> None:
    with server.client(ANALYST) as c:
        c.data(ACCOUNTS_BY_IDENTIFIER, {"identifier": {"kind": "IP", "value": "198.51.100.23"}, "first": 5})
        c.data('query Inline($v: String!) { accounts(identifier: {kind: DEVICE, value: $v}) { totalCount } }',
               {"v": "dev-bbb-0002"})
    by_ip, inline = operations(api_home)[-2:]
    assert by_ip["variables"] == {"identifier": {"kind": "IP", "value": "[redacted]"}, "first": 5}
    assert by_ip["accounts"] == ["a5", "a6"]
    assert inline["variables"] == {"v": "[redacted]"}
    assert [lk["kind"] for lk in by_ip["lookups"]] == ["ip"] and len(by_ip["lookups"][0]["ref"]) == 12
    text = (api_home / "audit" / "audit.jsonl").read_text()
    assert "198.51.100.23" not in text and "dev-bbb-0002" not in text


# -- what callers cannot do to the log ------------------------------------------------------------
@pytest.fixture()
def writable_server(neo4j_settings: Settings, fresh_graph: Database, tmp_path: Path) -> Any:
    app = create_app(app_settings(neo4j_settings, tmp_path), api_settings=api_settings())
    with ApiServer(app) as srv:
        yield srv


def _raw_post(server: ApiServer, key: str, body: str) -> dict:
    """A request body as raw JSON text (lone surrogates are legal JSON escapes, not encodable text)."""
    with server.client(key) as c:
        r = c.http.post("/graphql", content=body.encode("ascii"), headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    return r.json()


def test_a_lone_surrogate_neither_breaks_nor_dodges_the_log(writable_server: ApiServer, fresh_graph: Database,
                                                            tmp_path: Path) -> None:
    # A variable *name* and a value holding "\ud800": before, the record could not be encoded and
    # the mutation had already committed without one.
    body = ('{"query": "mutation M($id: ID!, $label: String!) { labelOperator(id: $id, label: $label) { id } }",'
            ' "operationName": "M", "variables": {"id": "op-heron", "label": "OP-\\ud800", "\\ud800x": 1}}')
    answer = _raw_post(writable_server, ANALYST, body)
    assert answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"  # the label is not printable text
    body = body.replace('OP-\\ud800', 'OP-HERON')
    assert _raw_post(writable_server, ANALYST, body) == {"data": {"labelOperator": {"id": "op-heron"}}}
    log = records(tmp_path)
    events = [(r["event"], r.get("outcome") or r.get("committed")) for r in log if r.get("event") != "repaired"]
    assert events == [("operation", "failed"), ("intent", None), ("outcome", True), ("operation", "allowed")]
    assert log[-1]["variables"] == {"id": "op-heron", "label": "OP-HERON", "\\ud800x": "[redacted]"}
    assert verify_chain(tmp_path / "audit" / "audit.jsonl", KEY).ok


def test_changes_are_recorded_before_they_commit(writable_server: ApiServer, fresh_graph: Database, tmp_path: Path) -> None:
    with writable_server.client(ANALYST) as c:
        c.data(DECIDE, {"accountId": "a6", "operatorId": "op-heron", "decision": "REJECTED", "reason": "library NAT"})
    intent, outcome, operation = records(tmp_path)[-3:]
    assert (intent["event"], intent["mutation"], intent["accounts"], intent["operators"]) == (
        "intent", "decideAttribution", ["a6"], ["op-heron"])
    assert (outcome["event"], outcome["committed"], outcome["rows"]) == ("outcome", True, 1)
    assert operation["event"] == "operation" and operation["outcome"] == "allowed"
    assert intent["request_id"] == outcome["request_id"] == operation["request_id"]


@pytest.mark.parametrize("failing_event", ["intent", "outcome"])
def test_an_audit_failure_leaves_no_change_behind(neo4j_settings: Settings, fresh_graph: Database, tmp_path: Path,
                                                   failing_event: str) -> None:
    app = create_app(app_settings(neo4j_settings, tmp_path), api_settings=api_settings())
    audit = app.state.sybilgraph.audit
    append = audit.append

    def failing(record: dict) -> dict:
        if record.get("event") == failing_event:
            raise OSError("No space left on device")
        return append(record)

    audit.append = failing  # type: ignore[method-assign]
    with ApiServer(app) as srv, srv.client(ANALYST) as c:
        body = c.gql(LABEL_OPERATOR, {"id": "op-heron", "label": "OP-HERON"})
    assert body["errors"][0]["message"] == "The audit log cannot be written; the request was refused."
    assert body["errors"][0]["extensions"]["code"] == "AUDIT_UNAVAILABLE"
    label = fresh_graph.driver.execute_query(
        "MATCH (o:Operator {operator_id: 'op-heron'}) RETURN o.analyst_label AS l").records[0]["l"]
    assert label is None


def test_an_oversized_request_makes_a_bounded_record(server: ApiServer, api_home: Path) -> None:
    name = "Q" + "x" * 100_000  # just under the body limit, with the variables: about 200 KB
    variables = {f"v{i}_" + "y" * 2_000: "z" * 2_500 for i in range(20)}
    with server.client(VIEWER) as c:
        r = c.http.post("/graphql", json={"query": f"query {name} {{ me {{ user }} }}", "variables": variables})
    assert r.status_code == 200 and r.json()["data"] == {"me": {"user": "vera"}}
    line = (api_home / "audit" / "audit.jsonl").read_text().splitlines()[-1]
    assert len(line.encode()) <= MAX_RECORD_BYTES
    record = json.loads(line)
    assert record["operation"].startswith("Q" + "x" * 127 + "…[100001 chars, sha256 ")
    assert len(record["variables"]) <= 51 and all(len(k) < 120 for k in record["variables"])
    assert verify_chain(api_home / "audit" / "audit.jsonl", KEY).ok


def test_a_torn_tail_is_repaired_when_the_log_opens(neo4j_settings: Settings, seeded: Database, tmp_path: Path) -> None:
    log = tmp_path / "audit" / "audit.jsonl"
    writer = AuditLog(log, KEY)
    for i in range(3):
        writer.append({"event": "operation", "i": i})
    writer.close()
    torn = b'{"event":"operation","i":3,"prev":"' + b"\x00" * 40  # power lost mid-write
    with open(log, "ab") as f:
        f.write(torn)
    app = create_app(app_settings(neo4j_settings, tmp_path), api_settings=api_settings())
    with ApiServer(app) as srv, srv.client(VIEWER) as c:
        assert c.data("{ me { user } }") == {"me": {"user": "vera"}}
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    repaired = lines[3]
    assert (repaired["event"], repaired["torn_bytes"], repaired["seq"]) == ("repaired", len(torn), 4)
    kept = tmp_path / "audit" / repaired["torn_kept_at"]
    assert kept.read_bytes() == torn
    assert lines[4]["event"] == "operation" and lines[4]["seq"] == 5
    assert verify_chain(log, KEY).ok


# -- verification ----------------------------------------------------------------------------------
def _tampered(src: Path, dst: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    lines = src.read_text().splitlines()
    dst.write_text("\n".join(edit(lines)) + "\n")
    return dst


def test_tampering_is_detected(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    writer = AuditLog(good, KEY)
    for i in range(4):
        writer.append({"event": "operation", "user": "vera", "i": i})
    writer.close()
    n, head = 4, verify_chain(good, KEY).head

    def edit_user(lines: list[str]) -> list[str]:
        r = json.loads(lines[1])
        r["user"] = "mallory"
        return [lines[0], canonical_json(r).decode(), *lines[2:]]

    rep = verify_chain(_tampered(good, tmp_path / "edit.jsonl", edit_user), KEY)
    assert (rep.ok, rep.line, rep.error) == (False, 2, "record content does not match its keyed hash")

    def rehash_without_the_key(lines: list[str]) -> list[str]:
        r = json.loads(lines[1])
        r["user"] = "mallory"
        r["hash"] = record_hash(r, b"a guessed key")
        return [lines[0], json.dumps(r), *lines[2:]]

    rep = verify_chain(_tampered(good, tmp_path / "rehash.jsonl", rehash_without_the_key), KEY)
    assert (rep.ok, rep.line, rep.error) == (False, 2, "record content does not match its keyed hash")

    rep = verify_chain(_tampered(good, tmp_path / "delete.jsonl", lambda ls: ls[:1] + ls[2:]), KEY)
    assert (rep.ok, rep.line) == (False, 2)
    rep = verify_chain(_tampered(good, tmp_path / "swap.jsonl", lambda ls: [ls[1], ls[0], *ls[2:]]), KEY)
    assert (rep.ok, rep.line) == (False, 1)
    truncated = _tampered(good, tmp_path / "truncated.jsonl", lambda ls: ls[:-1])
    assert verify_chain(truncated, KEY).ok  # a shorter chain is still a chain ...
    rep = verify_chain(truncated, KEY, checkpoint=AuditHead(n, head))  # ... but not the checkpointed one
    assert rep.error == "the log ends at record 3, before the checkpointed record 4 (records removed)"
    rep = verify_chain(_tampered(good, tmp_path / "garbage.jsonl", lambda ls: [*ls, "not json"]), KEY)
    assert (rep.ok, rep.line, rep.error) == (False, n + 1, "not a JSON record")
    assert not verify_chain(good, KEY, expected_head=GENESIS).ok


def test_a_rewritten_log_is_caught_by_audit_verify(neo4j_settings: Settings, seeded: Database, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Whoever holds the file *and* the key can re-chain it; the head kept in Neo4j still differs."""
    settings = app_settings(neo4j_settings, tmp_path)
    app = create_app(settings, api_settings=api_settings(audit_checkpoint_interval_s=0.1))
    with ApiServer(app) as srv, srv.client(VIEWER) as c:
        for _ in range(3):
            c.data('{ account(id: "a1") { id } }')
        time.sleep(0.5)  # a checkpoint tick
    log = tmp_path / "audit" / "audit.jsonl"
    for name, value in settings.connection_env().items():  # this home, the session's Neo4j and its password
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SYBILGRAPH_API_AUDIT_KEY", AUDIT_KEY)
    runner = CliRunner()
    ok = runner.invoke(cli, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["ok"] is True and json.loads(ok.output)["checkpoint"]["seq"] == len(records(tmp_path))

    # Rewrite history with the key: drop the first record's accounts and re-chain everything after.
    original = records(tmp_path)
    rewritten, prev = [], GENESIS
    for r in original:
        r = {**r, "accounts": [] if r["seq"] == 1 else r.get("accounts"), "prev": prev}
        r["hash"] = record_hash(r, KEY)
        prev = r["hash"]
        rewritten.append(canonical_json(r).decode())
    shutil.copy(log, tmp_path / "before-rewrite.jsonl")
    log.write_text("\n".join(rewritten) + "\n")
    assert verify_chain(log, KEY).ok  # the chain alone cannot tell
    caught = runner.invoke(cli, ["audit", "verify"])
    assert caught.exit_code == 1
    report = json.loads(caught.output)
    assert report["error"] == "record differs from the checkpoint kept in Neo4j (log rewritten)"


def test_two_writers_share_one_chain(tmp_path: Path) -> None:
    """Several server processes may append to one file: each re-reads the tail under flock."""
    path = tmp_path / "audit.jsonl"
    a, b = AuditLog(path, KEY), AuditLog(path, KEY)
    for i in range(10):
        (a if i % 3 else b).append({"i": i})
    a.close()
    b.close()
    rep = verify_chain(path, KEY)
    assert rep.ok and rep.records == 10
    assert [json.loads(line)["i"] for line in path.read_text().splitlines()] == list(range(10))


def test_no_answer_leaves_without_an_audit_record(neo4j_settings: Settings, seeded: Database, tmp_path: Path) -> None:
    app = create_app(app_settings(neo4j_settings, tmp_path), api_settings=api_settings())
    app.state.sybilgraph.audit.path = tmp_path / "audit-is-a-directory"
    app.state.sybilgraph.audit.path.mkdir()
    app.state.sybilgraph.audit.close()
    with ApiServer(app) as srv, srv.client(VIEWER) as c:
        body = c.gql('{ account(id: "a1") { id } }')
    assert body == {"data": None, "errors": [{
        "message": "The audit log cannot be written; the request was refused.",
        "extensions": {"code": "AUDIT_UNAVAILABLE"},
    }]}
