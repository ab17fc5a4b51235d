"""The audit log: one hash-chained record per operation, identifiers redacted, tampering found."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sybilgraph.api import create_app
from sybilgraph.api.audit import GENESIS, AuditLog, record_hash, verify_chain
from sybilgraph.api.audit import main as audit_main
from sybilgraph.db.session import Database
from sybilgraph.settings import Settings
from tests.api.api_queries import ACCOUNTS_BY_IDENTIFIER, DECIDE
from tests.api.api_support import ANALYST, VIEWER, ApiServer
from tests.api.conftest import app_settings

pytestmark = pytest.mark.integration


def records(home: Path) -> list[dict]:
    path = home / "audit" / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_every_operation_writes_exactly_one_record(server: ApiServer, api_home: Path) -> None:
    before = len(records(api_home))
    with server.client(VIEWER) as viewer, server.client(None) as nobody, server.client("bad-key") as bad:
        viewer.gql('query One { account(id: "a1") { id attribution { operator { id } } } }')   # allowed
        nobody.post("query Two { me { user } }")                                         # denied: no key
        bad.post("query Three { me { user } }", operation_name="Three")                  # denied: bad key
        viewer.gql(DECIDE, {"accountId": "a1", "operatorId": "op-heron", "decision": "REJECTED", "reason": "x"})  # denied: role
        viewer.gql("query Five { nope }")                                                # failed: validation
        viewer.gql("query Six { operators(first: 101) { totalCount } }")                 # failed: bad input
        viewer.gql("query Seven { me { user ")                                           # failed: syntax
        viewer.http.post("/graphql", json={})                                            # failed: no query
    new = records(api_home)[before:]
    assert [(r["operation"], r["outcome"]) for r in new] == [
        ("One", "allowed"), (None, "denied"), ("Three", "denied"), ("Decide", "denied"),
        ("Five", "failed"), ("Six", "failed"), (None, "failed"), (None, "failed"),
    ]
    one = new[0]
    assert (one["user"], one["role"], one["origin"], one["operation_type"], one["fields"]) == (
        "vera", "viewer", "127.0.0.1", "query", ["account"])
    assert one["accounts"] == ["a1"] and one["operators"] == ["op-kestrel"]
    assert one["ts"].endswith("Z") and len(one["query_sha256"]) == 64 and one["key_id"]
    assert new[1]["user"] is None and new[1]["errors"] == [{
        "code": "UNAUTHENTICATED",
        "message": "Authentication required: send an API key in 'X-API-Key' or 'Authorization: Bearer'.",
    }]
    assert new[2]["errors"][0]["message"] == "Invalid API key."
    assert new[3]["errors"][0]["code"] == "FORBIDDEN"
    assert new[3]["accounts"] == [] and new[3]["operators"] == []
    assert [r["errors"][0]["code"] for r in new[4:]] == [
        "GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT", "GRAPHQL_PARSE_FAILED", "BAD_REQUEST"]
    report = verify_chain(api_home / "audit" / "audit.jsonl")
    assert report.ok and report.records == len(records(api_home))


def test_identifier_variables_are_redacted(server: ApiServer, api_home: Path) -> None:
    with server.client(ANALYST) as c:
        c.data(ACCOUNTS_BY_IDENTIFIER, {"identifier": {"kind": "IP", "value": "198.51.100.23"}, "first": 5})
        c.data('query Inline($v: String!) { accounts(identifier: {kind: DEVICE, value: $v}) { totalCount } }',
               {"v": "dev-bbb-0002"})
    by_ip, inline = records(api_home)[-2:]
    assert by_ip["variables"] == {"identifier": {"kind": "IP", "value": "[redacted]"}, "first": 5}
    assert by_ip["accounts"] == ["a5", "a6"]
    assert inline["variables"] == {"v": "[redacted]"}
    text = (api_home / "audit" / "audit.jsonl").read_text()
    assert "198.51.100.23" not in text and "dev-bbb-0002" not in text


def _tampered(src: Path, dst: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    lines = src.read_text().splitlines()
    dst.write_text("\n".join(edit(lines)) + "\n")
    return dst


def test_tampering_is_detected(server: ApiServer, api_home: Path, tmp_path: Path) -> None:
    with server.client(VIEWER) as c:
        for _ in range(3):
            c.data("{ me { user } }")
    log = api_home / "audit" / "audit.jsonl"
    good = tmp_path / "good.jsonl"
    shutil.copy(log, good)
    n = len(good.read_text().splitlines())
    head = verify_chain(good).head
    assert verify_chain(good, expected_head=head).ok

    def edit_user(lines: list[str]) -> list[str]:
        r = json.loads(lines[1])
        r["user"] = "mallory"
        return [lines[0], json.dumps(r, sort_keys=True, separators=(",", ":")), *lines[2:]]

    rep = verify_chain(_tampered(good, tmp_path / "edit.jsonl", edit_user))
    assert (rep.ok, rep.line, rep.error) == (False, 2, "record content does not match its hash")

    def rehash(lines: list[str]) -> list[str]:  # edit and recompute the hash: the next link breaks
        r = json.loads(lines[1])
        r["outcome"] = "allowed"
        r["hash"] = record_hash(r)
        return [lines[0], json.dumps(r), *lines[2:]]

    rep = verify_chain(_tampered(good, tmp_path / "rehash.jsonl", rehash))
    assert (rep.ok, rep.line, rep.error) == (False, 3, "record does not link to the one before it")

    rep = verify_chain(_tampered(good, tmp_path / "delete.jsonl", lambda ls: ls[:1] + ls[2:]))
    assert (rep.ok, rep.line) == (False, 2)

    rep = verify_chain(_tampered(good, tmp_path / "swap.jsonl", lambda ls: [ls[1], ls[0], *ls[2:]]))
    assert (rep.ok, rep.line) == (False, 1)

    truncated = _tampered(good, tmp_path / "truncated.jsonl", lambda ls: ls[:-1])
    assert verify_chain(truncated).ok  # a shorter chain is still a chain ...
    rep = verify_chain(truncated, expected_head=head)  # ... unless the head is known
    assert not rep.ok and rep.records == n - 1

    rep = verify_chain(_tampered(good, tmp_path / "garbage.jsonl", lambda ls: [*ls, "not json"]))
    assert (rep.ok, rep.line, rep.error) == (False, n + 1, "not a JSON record")

    assert audit_main(["verify", str(good)]) == 0
    assert audit_main(["verify", str(tmp_path / "edit.jsonl")]) == 1
    assert audit_main(["verify", str(good), "--head", GENESIS]) == 1
    assert audit_main([]) == 2


def test_two_writers_share_one_chain(tmp_path: Path) -> None:
    """Several server processes may append to one file: each re-reads the tail under flock."""
    path = tmp_path / "audit.jsonl"
    a, b = AuditLog(path), AuditLog(path)
    for i in range(10):
        (a if i % 3 else b).append({"i": i})
    a.close()
    b.close()
    rep = verify_chain(path)
    assert rep.ok and rep.records == 10
    assert [json.loads(line)["i"] for line in path.read_text().splitlines()] == list(range(10))


def test_no_answer_leaves_without_an_audit_record(neo4j_settings: Settings, seeded: Database, tmp_path: Path) -> None:
    blocked = tmp_path / "audit-is-a-directory"
    blocked.mkdir()
    app = create_app(app_settings(neo4j_settings, tmp_path, audit_path=blocked))
    with ApiServer(app) as srv, srv.client(VIEWER) as c:
        body = c.gql('{ account(id: "a1") { id } }')
    assert body == {"data": None, "errors": [{
        "message": "The audit log cannot be written; the request was refused.",
        "extensions": {"code": "AUDIT_UNAVAILABLE"},
    }]}


def test_origin_is_the_peer_unless_a_trusted_proxy_forwards(neo4j_settings: Settings, seeded: Database, tmp_path: Path) -> None:
    spoofed = {"X-Forwarded-For": "198.51.100.9"}
    for trusted, expected in (([], "127.0.0.1"), (["127.0.0.1"], "198.51.100.9")):
        home = tmp_path / ("trusted" if trusted else "direct")
        app = create_app(app_settings(neo4j_settings, home, trusted_proxies=trusted))
        with ApiServer(app) as srv, srv.client(VIEWER) as c:
            c.http.post("/graphql", json={"query": "{ me { user } }"}, headers=spoofed)
        assert records(home)[-1]["origin"] == expected
