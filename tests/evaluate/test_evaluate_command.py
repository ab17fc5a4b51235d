"""``evaluate --baselines`` against the real Neo4j: every baseline on the same data, in one call;
without Splink installed, the other two run and a note says how to install it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sybilgraph.attribution import run_attribution
from sybilgraph.db.admin import reset
from sybilgraph.db.session import Database
from sybilgraph.evaluate import command
from sybilgraph.ingest import ingest_bundle
from tests.bundles import ring_bundle, write_bundle

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def loaded(session_db: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Database, Path]]:
    """The ring bundle ingested and attributed once, in a home of its own."""
    home = tmp_path_factory.mktemp("eval-home")
    db = Database(session_db.settings.model_copy(update={"home": home}), driver=session_db.driver)
    reset(db)
    bundle = write_bundle(home / "ring", ring_bundle(), fmt="parquet")
    ingest_bundle(bundle, db.settings, db)
    run_attribution(db)
    yield db, bundle


def test_baselines_include_splink_on_the_same_data(loaded: tuple[Database, Path]) -> None:
    db, ring = loaded
    pytest.importorskip("splink")
    ev = command.evaluate_current(db, ring, baselines=True)
    assert [r.method for r in ev.results] == ["sybilgraph", "fraud-rings", "evilcohort", "splink"]
    assert ev.notes == ()
    splink = ev.results[-1]
    assert splink.runtime_s is not None and splink.runtime_s > 0
    assert splink.n_accounts == 324  # the same truth universe as the others
    assert splink.fake_assignment.ari == 1.0 and splink.flagging.recall == 1.0
    assert splink.flagging.benign_flagged_share == 0.0
    assert [c.coverage for c in splink.label_coverage] == [1.0]  # majority label, like the others
    assert '"notes": []' in ev.to_json()
    assert set(ev.method_calibration_errors) == {"sybilgraph", "fraud-rings", "evilcohort", "splink"}
    assert ev.method_calibration_errors["splink"] is not None
    assert ev.open_customers_flagged["splink"] == {}  # the ring bundle has no CUST-* operator


def test_without_splink_the_others_run_and_it_says_how_to_install(
    loaded: tuple[Database, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    db, ring = loaded
    monkeypatch.setattr(command, "splink_available", lambda: False)
    ev = command.evaluate_current(db, ring, baselines=True)
    assert [r.method for r in ev.results] == ["sybilgraph", "fraud-rings", "evilcohort"]
    assert len(ev.notes) == 1 and "pip install 'sybilgraph[eval]'" in ev.notes[0]
