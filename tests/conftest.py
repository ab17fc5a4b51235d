"""Test fixtures. ``neo4j_settings`` starts the real local Neo4j + GDS once per session.

When NEO4J_URI is set (e.g. a Docker Neo4j with GDS), the suite uses it instead; otherwise the
launcher starts on a free loopback port with a temporary home and is stopped at the end.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from sybilgraph.db.launcher import LocalNeo4j
from sybilgraph.db.session import Database
from sybilgraph.settings import Settings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def neo4j_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    home = tmp_path_factory.mktemp("sybilgraph-home")
    if os.environ.get("NEO4J_URI"):
        yield Settings(home=home)
        return
    # A patient start: on a loaded machine the JVM can take minutes.
    settings = Settings(home=home, bolt_port=_free_port(), http_port=_free_port(), heap="3g", pagecache="512m",
                        start_timeout_s=600)
    local = LocalNeo4j(settings)
    local.start()
    try:
        # Its generated password, carried by the settings: tests give copies of them other homes.
        yield settings.model_copy(update={"neo4j_password": SecretStr(local.password_file.read_text().strip())})
    finally:
        local.stop()


@pytest.fixture(scope="session")
def session_db(neo4j_settings: Settings) -> Iterator[Database]:
    db = Database(neo4j_settings)
    db.verify()
    db.apply_schema()
    yield db
    db.close()


@pytest.fixture()
def db(session_db: Database, tmp_path: Path) -> Iterator[Database]:
    """An empty graph and columnar store for one test (the server is shared)."""
    from sybilgraph.db.admin import reset

    settings = session_db.settings.model_copy(update={"home": tmp_path / "home"})
    reset(session_db)
    scoped = Database(settings, driver=session_db.driver)
    yield scoped


@pytest.fixture(scope="session")
def small_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated bundle (scale 0.01), shared by the tests that need realistic data."""
    from sybilgraph.generate import generate_bundle

    out = tmp_path_factory.mktemp("bundle") / "b"
    generate_bundle(out, scale=0.01, seed=3)
    return out
