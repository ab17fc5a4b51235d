"""Fixtures of the case-file tests: the seed bundle ingested and attributed once for the package."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sybilgraph.attribution import run_attribution
from sybilgraph.db.admin import reset
from sybilgraph.db.session import Database
from sybilgraph.ingest import ingest_bundle
from sybilgraph.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]  # the checkout (the package may live elsewhere)

SEED_BUNDLE = REPO_ROOT / "seeds" / "bundle"


@dataclass(frozen=True)
class SeedCase:
    db: Database
    settings: Settings
    operator_id: str  # the largest flagged operator of the current run
    members: tuple[str, ...]


@pytest.fixture(scope="package")
def seed_case(session_db: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeedCase]:
    settings = session_db.settings.model_copy(update={"home": tmp_path_factory.mktemp("report-home")})
    db = Database(settings, driver=session_db.driver)
    reset(db)
    ingest_bundle(SEED_BUNDLE, settings, db)
    run_attribution(db)
    row = db.read_raw(
        """MATCH (run:AttributionRun {current: true})
           MATCH (o:Operator)-[s:SCORED_IN]->(run) WHERE s.flagged
           MATCH (o)<-[r:ATTRIBUTED_TO]-(a:Account) WHERE r.run_id = run.run_id
           WITH o, collect(a.account_id) AS members ORDER BY size(members) DESC, o.operator_id LIMIT 1
           RETURN o.operator_id AS operator_id, members"""
    )[0]
    yield SeedCase(db, settings, row["operator_id"], tuple(sorted(row["members"])))
