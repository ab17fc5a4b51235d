"""Deliveries (data contract): identity, redelivery, withdrawal, ids that count once, links that leave."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sybilgraph.db.admin import reset
from sybilgraph.db.digest import graph_digest
from sybilgraph.db.session import Database
from sybilgraph.errors import BundleError
from sybilgraph.ingest import ingest_bundle, withdraw_bundle
from sybilgraph.ingest.columnar import ColumnarStore
from sybilgraph.ingest.inventory import live_deliveries
from sybilgraph.ingest.state import read_state
from sybilgraph.ingest.sync import read_graph_mark
from tests.bundles import TINY, write_bundle
from tests.ingest.deliveries import delivery, write_delivery

pytestmark = pytest.mark.integration


def _clean_digest(db: Database, home: Path, bundles: list[Path]) -> tuple[str, dict[str, int]]:
    """The graph of one clean ingest of ``bundles``, in order, into an empty graph and store."""
    reset(db)
    clean = Database(db.settings.model_copy(update={"home": home}), driver=db.driver)
    for b in bundles:
        ingest_bundle(b, clean.settings, clean)
    return graph_digest(clean)


def _accounts(db: Database) -> dict[str, dict]:
    return {r["a"]["account_id"]: r["a"] for r in db.read_raw("MATCH (a:Account) RETURN a")}


def test_bundle_id_from_bundle_json_else_the_directory(db: Database, tmp_path: Path) -> None:
    named = write_delivery(tmp_path / "x", "BUNDLE-7", {"accounts": TINY["accounts"]})
    plain = write_bundle(tmp_path / "plain-dir", {"accounts": TINY["accounts"][:2]})
    assert ingest_bundle(named, db.settings, db).bundle_id == "BUNDLE-7"
    report = ingest_bundle(plain, db.settings, db)
    assert report.bundle_id == "plain-dir" and report.seq == 2 and not report.warnings
    assert [e.bundle_id for e in ColumnarStore(db.settings.columnar_dir).entries()] == ["BUNDLE-7", "plain-dir"]
    (tmp_path / "bad" ).mkdir()
    write_bundle(tmp_path / "bad", {"accounts": TINY["accounts"]})
    (tmp_path / "bad" / "bundle.json").write_text("{not json")
    with pytest.raises(BundleError, match="bundle.json"):
        ingest_bundle(tmp_path / "bad", db.settings, db)


def test_redelivery_replaces_the_earlier_delivery_wholesale(db: Database, tmp_path: Path) -> None:
    first = write_delivery(tmp_path / "v1", "B", TINY)
    second_tables = {**TINY, "interactions": TINY["interactions"][:2], "sessions": TINY["sessions"][2:]}
    second = write_delivery(tmp_path / "v2", "B", second_tables)
    ingest_bundle(first, db.settings, db)
    report = ingest_bundle(second, db.settings, db)
    assert report.replaced == "d000001" and report.ingest_id == "d000002"
    a1 = _accounts(db)["a1"]
    assert a1["n_interactions"] == 2 and a1["n_sessions"] == 0  # not 4 and 1: the first delivery is gone
    # The shared home IP of a1/a2 now has only a1's interactions and both signups.
    assert graph_digest(db) == _clean_digest(db, tmp_path / "clean", [second])
    assert not (db.settings.columnar_dir / "bundles" / "d000001").exists()


def test_the_same_content_again_changes_nothing(db: Database, tmp_path: Path) -> None:
    bundle = write_delivery(tmp_path / "b", "B", TINY)
    ingest_bundle(bundle, db.settings, db)
    before = graph_digest(db)
    state_before = read_state(db.settings).generation
    again = ingest_bundle(bundle, db.settings, db)
    assert again.reused_staging and again.seq == 1 and sum(again.graph_writes.values()) == 0
    assert graph_digest(db) == before
    # A copy elsewhere with the same id and content is the same delivery too.
    copy = write_delivery(tmp_path / "copy", "B", TINY)
    assert ingest_bundle(copy, db.settings, db).reused_staging
    assert read_state(db.settings).generation == state_before  # the graph held it already: nothing saved
    assert ColumnarStore(db.settings.columnar_dir).allocate_seq() == 2


def test_different_ids_add_up_and_ids_count_once(db: Database, tmp_path: Path) -> None:
    base = {"accounts": TINY["accounts"], "interactions": [dict(r, interaction_id=f"r{i}") for i, r in enumerate(TINY["interactions"])]}
    ingest_bundle(write_delivery(tmp_path / "one", "ONE", base), db.settings, db)
    more = {"accounts": TINY["accounts"][:1],
            "interactions": [dict(TINY["interactions"][0], interaction_id="r0"),  # seen: counts once
                             dict(TINY["interactions"][0], interaction_id="new", ts="2026-04-08T01:00:00Z"),
                             dict(TINY["interactions"][0], interaction_id="new", ts="2026-04-08T01:00:00Z")]}  # repeated inside
    report = ingest_bundle(write_delivery(tmp_path / "two", "TWO", more), db.settings, db)
    assert report.rows_repeated == {"interactions": 2}
    assert _accounts(db)["a1"]["n_interactions"] == 3
    # Withdraw the first: r0 now counts in TWO, where it was repeated before.
    withdraw_bundle("ONE", db.settings, db)
    a1 = _accounts(db)["a1"]
    assert a1["n_interactions"] == 2 and set(_accounts(db)) == {"a1"}
    assert graph_digest(db) == _clean_digest(db, tmp_path / "clean", [tmp_path / "two"])



def test_the_live_deliveries_list_follows_deliveries_redeliveries_and_withdrawals(db: Database, tmp_path: Path) -> None:
    store = ColumnarStore(db.settings.columnar_dir)
    base = {"accounts": TINY["accounts"], "interactions": [dict(r, interaction_id=f"r{i}") for i, r in enumerate(TINY["interactions"])]}
    one = write_delivery(tmp_path / "one", "ONE", base)
    (one / "bundle.json").write_text(json.dumps({"bundle_id": "ONE", "source": "billing-export", "produced_at": "2026-11-30T06:00:00Z"}))
    ingest_bundle(one, db.settings, db)
    repeat = {"accounts": TINY["accounts"][:1], "interactions": [dict(TINY["interactions"][0], interaction_id="r0")]}
    ingest_bundle(write_delivery(tmp_path / "two", "TWO", repeat), db.settings, db)

    first, second = live_deliveries(store, db.settings.runs_dir)
    assert (first.bundle_id, first.source, first.produced_at, first.status) == ("ONE", "billing-export", "2026-11-30T06:00:00Z", "ok")
    assert first.rows is not None and first.rows["interactions"] == len(TINY["interactions"])
    assert first.rows["accounts"] == len(TINY["accounts"]) and first.rows_quarantined == 0 and first.committed_at
    assert (second.bundle_id, second.source, second.ids_counted_in) == ("TWO", "tests", ["ONE"])

    # A redelivery of TWO takes a new number (the list is in ingest order); withdrawing ONE frees TWO's ids.
    ingest_bundle(write_delivery(tmp_path / "two-v2", "TWO", {**repeat, "accounts": TINY["accounts"][:2]}), db.settings, db)
    assert [(d.bundle_id, d.ingest_id) for d in live_deliveries(store, db.settings.runs_dir)] == [("ONE", "d000001"), ("TWO", "d000003")]
    withdraw_bundle("ONE", db.settings, db)
    (left,) = live_deliveries(store, db.settings.runs_dir)
    assert left.bundle_id == "TWO" and left.ids_counted_in == [] and left.rows and left.rows["accounts"] == 2

def test_withdrawal_removes_what_only_it_supported(db: Database, tmp_path: Path) -> None:
    ingest_bundle(write_delivery(tmp_path / "t", "TINY", TINY), db.settings, db)
    other = {"accounts": [dict(TINY["accounts"][0], account_id="z1"), dict(TINY["accounts"][1], account_id="z2")]}
    ingest_bundle(write_delivery(tmp_path / "o", "OTHER", other), db.settings, db)
    with_other = graph_digest(db)
    assert db.read_raw("MATCH (d:EmailDomain {domain: 'example.com'}) RETURN d.n_accounts AS n") == [{"n": 4}]
    version = "MATCH (v:DataVersion {name: 'graph'}) RETURN v.version AS v"
    before = (db.read_raw(version) or [{"v": 0}])[0]["v"]
    report = withdraw_bundle("TINY", db.settings, db)
    assert db.read_raw(version)[0]["v"] == before + 1  # the API's cache forgets what it served
    assert report.graph_writes["deleted_accounts"] == 5 and report.graph_writes["deleted_links"] > 0
    assert set(_accounts(db)) == {"z1", "z2"}
    assert db.read_raw("MATCH (c:PaymentInstrument) RETURN count(c) AS n") == [{"n": 0}]
    assert db.read_raw("MATCH (l:Label) RETURN count(l) AS n") == [{"n": 0}]
    assert graph_digest(db) == _clean_digest(db, tmp_path / "clean", [tmp_path / "o"])
    assert with_other != graph_digest(db)
    with pytest.raises(BundleError, match="no live delivery of bundle 'TINY'"):
        withdraw_bundle("TINY", db.settings, db)


def test_links_that_leave_the_aggregate_are_deleted(db: Database, tmp_path: Path) -> None:
    # The measurement: one bundle split by account into two deliveries gives the same
    # graph in either order, and an e-mail domain change removes the old HAS_EMAIL_DOMAIN link.
    first = {"accounts": TINY["accounts"][:3], "interactions": TINY["interactions"][:4], "sessions": TINY["sessions"][:2]}
    second = {"accounts": TINY["accounts"][3:], "interactions": TINY["interactions"][4:], "sessions": TINY["sessions"][2:]}
    a = write_delivery(tmp_path / "a", "A", first)
    b = write_delivery(tmp_path / "b", "B", second)
    ingest_bundle(a, db.settings, db)
    ingest_bundle(b, db.settings, db)
    ab = graph_digest(db)
    moved = {"accounts": [dict(TINY["accounts"][1], email_domain="elsewhere.test")]}
    report = ingest_bundle(write_delivery(tmp_path / "m", "MOVE", moved), db.settings, db)
    assert report.graph_writes["deleted_links"] >= 2
    rows = db.read_raw("MATCH (a:Account)-[:HAS_EMAIL_DOMAIN]->(d:EmailDomain) RETURN a.account_id AS a, d.domain AS d")
    assert {"a": "a2", "d": "example.com"} not in rows
    assert db.read_raw("MATCH (d:EmailDomain {domain: 'example.com'}) RETURN count(d) AS n") == [{"n": 0}]  # one account left
    assert ab == _clean_digest(db, tmp_path / "ba", [b, a])


def test_a_killed_staging_is_not_counted_and_its_number_not_reused(db: Database, tmp_path: Path) -> None:
    store = ColumnarStore(db.settings.columnar_dir)
    taken = store.allocate_seq()  # a run that took number 1 and was killed while staging
    leftover = store.staging("d000001")
    (leftover / "accounts").mkdir()
    stray = store.bundles_dir / "d000001"
    stray.mkdir(parents=True)
    write_bundle(stray, {"accounts": TINY["accounts"]}, "parquet")
    report = ingest_bundle(write_delivery(tmp_path / "b", "B", {"accounts": TINY["accounts"][:1]}), db.settings, db)
    assert taken == 1 and report.seq == 2
    assert set(_accounts(db)) == {"a1"}
    assert not leftover.exists() and not stray.exists()


def test_random_deliveries_redeliveries_and_withdrawals_match_a_clean_ingest(db: Database, tmp_path: Path) -> None:
    # A fixed sequence touching every path; the hypothesis state machine explores the others.
    steps = [("A", 1), ("B", 2), ("A", 3), ("C", 4), ("withdraw", "B"), ("C", 4), ("B", 5)]
    live: dict[str, Path] = {}
    for i, (what, arg) in enumerate(steps):
        if what == "withdraw":
            withdraw_bundle(str(arg), db.settings, db)
            live.pop(str(arg))
            continue
        path = write_delivery(tmp_path / f"s{i}", what, delivery(int(arg)))
        ingest_bundle(path, db.settings, db)
        live.pop(what, None)
        live[what] = path  # a redelivery moves to the end of the order
    got = graph_digest(db)
    assert got == _clean_digest(db, tmp_path / "clean", list(live.values()))
    assert json.dumps(got[1])  # counts are reported


def test_a_sync_that_died_midway_is_finished_by_a_different_next_run(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Y's rows reach the graph, then the writer dies before saving the state (its last step).
    # The next writer withdraws Y instead of running Y again: its own change is empty (the
    # state never held Y), yet the keys the dead sync recorded must be put back.
    x = write_delivery(tmp_path / "x", "X", delivery(11))
    y = write_delivery(tmp_path / "y", "Y", delivery(12, accounts=["new-1", "new-2"]))
    ingest_bundle(x, db.settings, db)

    def die(*args: object, **kwargs: object) -> int:
        raise KeyboardInterrupt("killed before the state was saved")

    monkeypatch.setattr("sybilgraph.ingest.state.StateDir.publish", die)
    with pytest.raises(KeyboardInterrupt):
        ingest_bundle(y, db.settings, db)
    monkeypatch.undo()
    assert {"new-1", "new-2"} <= set(_accounts(db))  # the dead run's writes are in the graph
    report = withdraw_bundle("Y", db.settings, db)
    assert report.state_update is not None and report.state_update.startswith("splice")
    assert report.graph_writes["deleted_accounts"] == 2
    assert graph_digest(db) == _clean_digest(db, tmp_path / "clean", [x])


@pytest.mark.parametrize("lose", ["emptied", "restored", "another"])
def test_a_graph_that_no_longer_holds_the_saved_state_is_written_whole(
    db: Database, tmp_path: Path, lose: str
) -> None:
    # Failure class: a sync writes only the difference from the saved state, so the graph must hold
    # that state. Emptied since (nothing of the unchanged rows came back), restored from before
    # it, or another graph: the next change writes every row, and says so.
    x = write_delivery(tmp_path / "x", "X", delivery(11))
    y = write_delivery(tmp_path / "y", "Y", delivery(12, accounts=["new-1", "new-2"]))
    ingest_bundle(x, db.settings, db)
    if lose == "emptied":
        db.run_autocommit("db/delete_all_nodes", batch_size=10_000)
    else:
        mark = read_graph_mark(db)
        assert mark is not None and mark.generation == read_state(db.settings).generation
        lineage, generation = (mark.lineage, 0) if lose == "restored" else ("elsewhere", mark.generation)
        db.write("ingest/merge_ingest_state", lineage=lineage, generation=generation)
        db.write_unwinds([("ingest/delete_accounts", [{"account_id": a["account_id"]} for a in delivery(11)["accounts"][:1]])])
    report = ingest_bundle(y, db.settings, db)
    assert any("every row of the state was written again" in w for w in report.warnings), report.warnings
    assert graph_digest(db) == _clean_digest(db, tmp_path / "clean", [x, y])


def test_the_same_content_again_into_an_emptied_graph_writes_it_again(db: Database, tmp_path: Path) -> None:
    bundle = write_delivery(tmp_path / "b", "B", TINY)
    ingest_bundle(bundle, db.settings, db)
    before = graph_digest(db)
    db.run_autocommit("db/delete_all_nodes", batch_size=10_000)
    again = ingest_bundle(bundle, db.settings, db)
    assert again.reused_staging and sum(again.graph_writes.values()) > 0
    assert graph_digest(db) == before
    # and it holds the state again: the next run has nothing to do
    assert sum(ingest_bundle(bundle, db.settings, db).graph_writes.values()) == 0


def test_a_graph_another_home_wrote_is_said(db: Database, tmp_path: Path) -> None:
    # The converse: this home has no saved state, but the graph holds one another home wrote.
    # Every row is written; the rows only the other home knew stay, and the report says so.
    ingest_bundle(write_delivery(tmp_path / "x", "X", delivery(11)), db.settings, db)
    elsewhere = Database(db.settings.model_copy(update={"home": tmp_path / "elsewhere"}), driver=db.driver)
    report = ingest_bundle(write_delivery(tmp_path / "y", "Y", delivery(12)), elsewhere.settings, elsewhere)
    assert any("this home does not have" in w for w in report.warnings), report.warnings
