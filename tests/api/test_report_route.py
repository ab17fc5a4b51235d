"""GET /reports/operators/{id}: the case file for analysts and admins, masked per role, refused to
viewers and strangers, every request audited (the seed bundle, ingested and attributed)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sybilgraph.api import create_app
from tests.api.conftest import app_settings
from tests.api.api_support import ADMIN, ANALYST, KEYS, VIEWER, ApiServer
from tests.report.conftest import SeedCase, seed_case  # noqa: F401 - the fixture, shared with the case-file tests
from tests.report.test_case_file import MASK_KEY, _appears, _raw_identifiers

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def report_server(seed_case: SeedCase, neo4j_settings: Any) -> Iterator[tuple[ApiServer, Path]]:  # noqa: F811
    audit = seed_case.settings.home / "audit" / "report-audit.jsonl"
    settings = app_settings(neo4j_settings, seed_case.settings.home, mask_key=MASK_KEY, audit_path=audit)
    with ApiServer(create_app(settings)) as srv:
        yield srv, audit


def _get(server: ApiServer, path: str, key: str | None) -> httpx.Response:
    headers = {"X-API-Key": key} if key else {}
    return httpx.get(f"{server.url}{path}", headers=headers, timeout=120)


def test_the_api_serves_case_files_to_analysts_and_admins_only_and_audits(
    seed_case: SeedCase, report_server: tuple[ApiServer, Path]  # noqa: F811
) -> None:
    server, audit = report_server
    path = f"/reports/operators/{seed_case.operator_id}"
    assert _get(server, path, None).status_code == 401
    refused = _get(server, path, VIEWER)
    assert refused.status_code == 403 and refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    page = _get(server, path, ANALYST)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"] and page.headers["cache-control"] == "no-store"
    assert seed_case.operator_id in page.text and "identifiers masked for the analyst role" in page.text
    cards = _raw_identifiers(seed_case).get("PAID_WITH", set())
    assert cards and not any(_appears(c, page.text) for c in cards)
    admin = _get(server, path, ADMIN)
    assert admin.status_code == 200 and any(_appears(c, admin.text) for c in cards)
    missing = _get(server, "/reports/operators/op-does-not-exist", ANALYST)
    assert missing.status_code == 404 and "op-does-not-exist" in missing.json()["errors"][0]["message"]

    records = [json.loads(line) for line in audit.read_text().splitlines()]
    mine = [r for r in records if r.get("operation") == "report:operator"]
    assert {r["operation_type"] for r in mine} == {"rest"}
    assert [(r["user"], r["outcome"]) for r in mine] == [
        (None, "denied"), ("vera", "denied"), ("alice", "allowed"), ("adam", "allowed"), ("alice", "failed")]
    allowed = mine[2]
    assert allowed["operators"] == [seed_case.operator_id] and set(allowed["accounts"]) == set(seed_case.members)


