"""GraphiQL from the package's own files: complete and unmodified, and working in headless Chromium
with every request outside the API's own origin blocked (a network that reaches nothing else)."""

from __future__ import annotations

import gzip
import hashlib
import json
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import httpx
import pytest

from sybilgraph.api import create_app
from sybilgraph.api.graphiql import STATIC, vendored_files
from sybilgraph.db.session import Database
from sybilgraph.settings import Settings
from tests.api.api_support import ANALYST, ApiServer
from tests.api.conftest import app_settings
from tests.chromium import Browser, browser, screenshot_dir

QUERY = """{
  operators(first: 3) {
    edges { node { id label size flagged campaignScore
                   topIdentifiers(first: 2) { kind value membersSharing } } }
  }
}"""


def test_vendored_files_are_the_pinned_packages_with_their_licences() -> None:
    folder = resources.files("sybilgraph.api").joinpath(STATIC)
    manifest = json.loads(folder.joinpath("manifest.json").read_text())
    assert {p: v["version"] for p, v in manifest["packages"].items()} == {
        "graphiql": "3.8.3", "react": "18.2.0", "react-dom": "18.2.0"}
    for name, entry in vendored_files().items():
        data = folder.joinpath(name).read_bytes() if name.endswith(".txt") else gzip.decompress(folder.joinpath(f"{name}.gz").read_bytes())
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], name
    licences = [n for n in vendored_files() if n.startswith("LICENSE.")]
    assert sorted(licences) == ["LICENSE.graphiql.txt", "LICENSE.react-dom.txt", "LICENSE.react.txt"]
    assert all("MIT License" in folder.joinpath(n).read_text() for n in licences)
    assert "graphql" in manifest["bundled_in_graphiql"] and folder.joinpath("NOTICE.txt").is_file()


@pytest.fixture(scope="module")
def dev_server(neo4j_settings: Settings, tmp_path_factory: pytest.TempPathFactory, seeded: Database) -> Iterator[ApiServer]:
    app = create_app(app_settings(neo4j_settings, tmp_path_factory.mktemp("graphiql-home")), production=False)
    with ApiServer(app) as srv:
        yield srv


@pytest.mark.integration
def test_static_files_are_served_compressed_or_plain(dev_server: ApiServer) -> None:
    plain = httpx.get(f"{dev_server.url}/graphql/static/react.production.min.js", headers={"Accept-Encoding": "identity"})
    packed = httpx.get(f"{dev_server.url}/graphql/static/react.production.min.js")  # httpx asks for gzip and unpacks
    assert plain.status_code == packed.status_code == 200 and plain.content == packed.content
    assert hashlib.sha256(plain.content).hexdigest() == vendored_files()["react.production.min.js"]["sha256"]
    assert packed.headers["content-encoding"] == "gzip" and "javascript" in packed.headers["content-type"]
    assert httpx.get(f"{dev_server.url}/graphql/static/../../etc/passwd").status_code == 404
    assert httpx.get(f"{dev_server.url}/graphql/static/manifest.json").status_code == 404


def _editor(b: Browser, marker: str, value: str | None = None) -> str:
    """The CodeMirror editor whose text contains ``marker``: read it, or replace its text."""
    script = f"""(() => {{
        const ed = [...document.querySelectorAll('.CodeMirror')].map(e => e.CodeMirror)
                   .find(e => e.getValue().includes({json.dumps(marker)}));
        if (!ed) return null;
        {'' if value is None else f'ed.setValue({json.dumps(value)}); ed.focus(); ed.setCursor(1, 2);'}
        return ed.getValue();
    }})()"""
    return b.evaluate(script)


@pytest.mark.integration
def test_graphiql_loads_and_queries_with_the_network_blocked(dev_server: ApiServer, tmp_path: Path) -> None:
    origin = dev_server.url
    with browser(1280, 800) as b:
        report = b.load(f"{origin}/graphql", allowed=lambda url: url.startswith(origin + "/"),
                        settle=lambda br: br.evaluate("document.querySelectorAll('.CodeMirror').length") >= 3)
        assert report.blocked_requests == [] and report.console_errors == []
        assert f"{origin}/graphql/static/graphiql.min.js" in report.allowed_requests
        assert json.loads(_editor(b, "X-API-Key")) == {"X-API-Key": ""}  # ready to fill in
        _editor(b, "X-API-Key", json.dumps({"X-API-Key": ANALYST}, indent=2))
        _editor(b, "me { user role }", QUERY)
        assert _editor(b, "Enter your API key")  # what it answered before the key, without a request
        _editor(b, "Enter your API key", "")
        b.evaluate("document.querySelector('.graphiql-execute-button').click()")
        result = None
        for _ in range(150):
            result = b.evaluate("document.querySelector('.result-window .CodeMirror').CodeMirror.getValue()")
            if result:
                break
            time.sleep(0.2)
        b.settle(0.5)
        assert result and json.loads(result).get("data", {}).get("operators", {}).get("edges"), result
        assert report.blocked_requests == [] and report.console_errors == []
        assert b.evaluate("localStorage.getItem('graphiql:headers')") in (None, "", '""')  # the key is not kept
        b.screenshot(screenshot_dir(tmp_path) / "graphiql.png")
