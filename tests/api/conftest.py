"""Fixtures of the API tests: the seeded graph, the columnar store, and running servers.

The graph is seeded once per module (``seeded``) for read-only tests; tests that write
(mutations) use ``fresh_graph``, which seeds again for each test. Servers are real uvicorn
processes-in-a-thread on loopback ports, talking to the session's real Neo4j.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sybilgraph.api import create_app
from sybilgraph.settings.api import ApiSection
from sybilgraph.db.admin import reset
from sybilgraph.db.session import Database
from sybilgraph.settings import Settings
from tests.api.api_seed import seed_graph, write_account_identifiers, write_interactions
from tests.api.api_support import KEYS, ApiServer

MASK_KEY = "test-mask-key-4c9e1f7a2b"
AUDIT_KEY = "test-audit-key-8d2f6a1c9e"
# Tests send requests back to back with one key: limits far above what they send, except where
# a test is about the limits.
GENEROUS = {"per_second": 10_000, "burst": 10_000}
ROLES = ("viewer", "analyst", "admin")


def api_settings(**overrides: Any) -> ApiSection:
    """Development mode (GraphiQL, introspection) unless ``production=True`` is passed."""
    return ApiSection(**{
        "keys": KEYS, "mask_key": MASK_KEY, "audit_key": AUDIT_KEY, "production": False,
        "rate_limits": dict.fromkeys(ROLES, GENEROUS), "lookup_rate_limits": dict.fromkeys(ROLES, GENEROUS),
        "unauthenticated_rate_limit": GENEROUS, **overrides,
    })


def app_settings(neo4j_settings: Settings, home: Path, uri: str | None = None, **api: Any) -> Settings:
    """The session's connection with its own home and the test keys (``api`` overrides the section)."""
    return neo4j_settings.model_copy(
        update={"home": home, "neo4j_uri": uri or neo4j_settings.bolt_uri, "api": api_settings(**api)}
    )


@pytest.fixture(scope="module")
def seeded(session_db: Database) -> Database:
    reset(session_db)
    seed_graph(session_db.driver, session_db.database)
    return session_db


@pytest.fixture()
def fresh_graph(session_db: Database) -> Database:
    reset(session_db)
    seed_graph(session_db.driver, session_db.database)
    return session_db


@pytest.fixture(scope="module")
def api_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("api-home")
    write_interactions(home / "columnar")
    write_account_identifiers(home / "columnar")
    return home


@pytest.fixture(scope="module")
def server(neo4j_settings: Settings, api_home: Path, seeded: Database) -> Iterator[ApiServer]:
    app = create_app(app_settings(neo4j_settings, api_home), api_settings=api_settings())
    with ApiServer(app) as srv:
        yield srv
