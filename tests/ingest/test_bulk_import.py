"""The offline bulk importer builds the very graph the transactional path builds."""

from __future__ import annotations

from pathlib import Path

import pytest

from sybilgraph.db.admin import reset
from sybilgraph.db.digest import graph_digest
from sybilgraph.db.session import Database
from sybilgraph.ingest import ingest_bundle
from sybilgraph.ingest.state import read_state
from sybilgraph.settings import Settings
from tests.bundles import ENRICHMENT, TINY, write_bundle
from tests.ingest.deliveries import delivery, write_delivery

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _without_bulk(settings: Settings) -> Settings:
    return settings.model_copy(update={"ingest": settings.ingest.model_copy(update={"bulk_import": False})})


@pytest.fixture()
def local(neo4j_settings: Settings, session_db: Database) -> Database:
    """The session's own launcher home (the importer stops, replaces and starts that store)."""
    if neo4j_settings.neo4j_uri:
        pytest.skip("the bulk importer needs the local launcher, not a server named by NEO4J_URI")
    settings = neo4j_settings.model_copy(
        update={"ingest": neo4j_settings.ingest.model_copy(update={"bulk_import_min_rows": 0})})
    db = Database(settings, driver=session_db.driver)
    reset(db)
    return db


def test_bulk_import_builds_the_transactional_graph_and_deliveries_follow(local: Database, tmp_path: Path) -> None:
    # One import (each stops and starts the session's Neo4j): the bulk-loaded graph equals the
    # transactional one, and a later delivery goes through transactions onto it.
    tables = {k: [dict(r) for r in v] for k, v in {**TINY, **ENRICHMENT}.items()}
    tables["labels"][0]["organisation"] = "org-acme"
    first = write_bundle(tmp_path / "a", tables)
    second = write_delivery(tmp_path / "b", "B", delivery(2))
    report = ingest_bundle(first, local.settings, local)
    assert report.graph_writes["imported_nodes"] > 0 and "bulk_import" in report.timings_s
    bulk = graph_digest(local)
    assert read_state(local.settings).accounts.num_rows == 5
    report = ingest_bundle(second, local.settings, local)
    assert "bulk_import" not in report.timings_s and report.graph_writes
    # The imported graph records the state it holds: the delivery was a difference, not a rewrite.
    assert not report.warnings and report.graph_writes["accounts"] < read_state(local.settings).accounts.num_rows
    both = graph_digest(local)
    reset(local)
    clean = _without_bulk(local.settings).model_copy(update={"home": tmp_path / "clean"})
    clean_db = Database(clean, driver=local.driver)
    report = ingest_bundle(first, clean, clean_db)
    assert "bulk_import" not in report.timings_s
    assert graph_digest(clean_db) == bulk
    ingest_bundle(second, clean, clean_db)
    assert graph_digest(clean_db) == both
