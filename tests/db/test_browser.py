"""Neo4j Browser, served by the local launcher's HTTP connector, connects to the local database in
headless Chromium and draws an operator's neighbourhood in the sybilgraph style (bloom/sybilgraph.grass)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from sybilgraph.settings import Settings
from tests.chromium import Browser, browser, screenshot_dir
from tests.report.conftest import SeedCase, seed_case  # noqa: F401 - the fixture, shared with the case-file tests

REPO_ROOT = Path(__file__).resolve().parents[2]  # the checkout (the package may live elsewhere)

pytestmark = pytest.mark.integration

# What Neo4j Browser 5.24 itself asks the internet for (web fonts, product analytics, a feedback
# widget). On a closed network these fail and Browser works on; nothing else may leave.
# Browser's own calls off the machine (web fonts, analytics, feedback, crash reports to Sentry even with
# client.allow_telemetry=false): blocked like everything else, and the only requests allowed to be attempted.
BROWSER_OWN_CALLS = ("https://fonts.googleapis.com/", "https://cdn.segment.com/", "https://canny.io/",
                     "https://o110884.ingest.sentry.io/")
EVIDENCE = ("MATCH (run:AttributionRun {current: true}) "
            "MATCH (o:Operator {operator_id: $id})<-[r:ATTRIBUTED_TO]-(a:Account)-[u:PAID_WITH|USED_DEVICE]->(i) "
            "WHERE r.run_id = run.run_id RETURN o, r, a, u, i LIMIT 500")
_SET_VALUE = """(sel, value) => {
  const el = document.querySelector(sel);
  const proto = el.tagName === 'SELECT' ? HTMLSelectElement.prototype : HTMLInputElement.prototype;
  Object.getOwnPropertyDescriptor(proto, 'value').set.call(el, value);
  el.dispatchEvent(new Event(el.tagName === 'SELECT' ? 'change' : 'input', {bubbles: true}));
}"""


def _set(b: Browser, selector: str, value: str) -> None:
    b.evaluate(f"({_SET_VALUE})({json.dumps(selector)}, {json.dumps(value)})")


def _wait(b: Browser, expression: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not b.evaluate(expression):
        if time.monotonic() > deadline:
            raise TimeoutError(f"Browser never showed: {expression}")
        b.settle(0.5)


def _run(b: Browser, command: str) -> None:
    """Type a command into Browser's editor (as a person would) and run it."""
    b.evaluate("document.querySelector('[data-testid=activeEditor] textarea').focus()")
    b.call("Input.insertText", text=command)
    b.evaluate("document.querySelector('[data-testid=editor-Run]').click()")
    b.settle(1.0)


def _log_in(b: Browser, settings: Settings) -> None:
    auth = settings.neo4j_auth  # NEO4J_PASSWORD, else the local Neo4j's password file
    if auth is None:
        return  # a database without authentication: ?preselectAuthMethod=NO_AUTH connected already
    _wait(b, "!!document.querySelector('[data-testid=connect]')")
    _set(b, "[data-testid=authenticationMethod]", "NATIVE")
    _set(b, "[data-testid=username]", auth[0])
    _set(b, "[data-testid=password]", auth[1])
    b.evaluate("document.querySelector('[data-testid=connect]').click()")


def test_browser_served_by_the_launcher_draws_an_operators_neighbourhood(
    neo4j_settings: Settings, seed_case: SeedCase, tmp_path: Path  # noqa: F811
) -> None:
    if not neo4j_settings.uses_local_launcher or not neo4j_settings.browser_url:
        pytest.skip("Neo4j Browser is served by the local launcher; NEO4J_URI names another server")
    url = neo4j_settings.browser_url
    assert urlsplit(url).hostname == "127.0.0.1"
    assert "Neo4j Browser" in httpx.get(url, timeout=30).text
    auth = "NATIVE" if neo4j_settings.neo4j_auth is not None else "NO_AUTH"
    page = f"{url}?dbms=bolt://127.0.0.1:{neo4j_settings.bolt_port}&preselectAuthMethod={auth}"
    grass = " ".join((REPO_ROOT / "bloom" / "sybilgraph.grass").read_text().split())
    with browser(1280, 900) as b:
        b.load(page, allowed=lambda u: u.startswith("http://127.0.0.1:"),
               settle=lambda br: br.evaluate("!!document.querySelector('[data-testid=connect]') || "
                                             "document.body.innerText.includes('neo4j$')"))
        _log_in(b, neo4j_settings)
        _wait(b, "document.body.innerText.includes('neo4j$')")  # the prompt of a connected session
        _run(b, ":style " + grass)
        _run(b, f":param id => '{seed_case.operator_id}'")
        _run(b, EVIDENCE)
        _wait(b, "document.body.innerText.includes('Displaying')")
        overview = b.evaluate("document.querySelector('[data-testid=frame]').innerText")
        assert "Operator (1)" in overview and f"Account ({len(seed_case.members)})" in overview, overview
        # Operator and accounts drawn in the sybilgraph style (the graph is laid out after the overview shows).
        _wait(b, "(() => { const f = new Set([...document.querySelectorAll('[data-testid=frame] svg circle')]"
                 ".map(c => c.getAttribute('fill'))); return f.has('#FFC454') && f.has('#4C8EDA'); })()", 30)
        b.evaluate("document.querySelector('[data-testid=frame] button[title=\"Fullscreen\"]')?.click()")
        b.settle(1.5)
        b.screenshot(screenshot_dir(tmp_path) / "neo4j-browser.png")
        report = b.settle(0.5)
    assert [u for u in report.blocked_requests if not u.startswith(BROWSER_OWN_CALLS)] == []
