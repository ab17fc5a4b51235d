"""The Splink baseline: account records, the blocking cut, and the linkage on a hand-made ring.

Partitions are compared as sets of account sets, never by cluster ids.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from sybilgraph.evaluate import splink_baseline as sb
from sybilgraph.evaluate.splink_baseline import (
    INSTALL_HINT,
    SplinkMissing,
    SplinkOptions,
    records_from_bundle,
    splink_baseline,
)
from tests.bundles import RING_SIZE, TINY, ring_bundle, ring_partition, write_bundle

def partition(export: pd.DataFrame) -> set[frozenset[str]]:
    return {frozenset(g["account_id"]) for _, g in export.groupby("operator_id")}


@pytest.fixture(scope="module")
def ring_records(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, Any]]:
    bundle = write_bundle(tmp_path_factory.mktemp("ring") / "b", ring_bundle(), fmt="parquet")
    return records_from_bundle(bundle)


# --------------------------------------------------------------------------- records


def test_records_keep_shared_values_and_say_none_shared_apart_from_none_used(tmp_path: Path) -> None:
    records, stats = records_from_bundle(write_bundle(tmp_path / "tiny", TINY))
    rows = {r["account_id"]: r for r in records.to_pylist()}
    assert list(rows) == ["a1", "a2", "a3", "a4", "a5"]
    assert rows["a1"]["cards"] == ["tok_shared"] and rows["a2"]["cards"] == ["tok_shared"]
    assert rows["a3"]["cards"] == []  # a card of its own: used, shared with nobody
    assert rows["a4"]["cards"] is None  # no card at all: no evidence either way
    assert rows["a1"]["devices"] == ["dev1"] and rows["a4"]["devices"] == []
    assert rows["a1"]["ips"] == ["10.0.0.1"] and rows["a3"]["ips"] == []  # 10.0.0.2: a2's alone
    assert rows["a1"]["subnets"] == ["10.0.0.0/24"]
    assert rows["a1"]["templates"] == ["00000000000000aa"] and rows["a4"]["templates"] == []
    assert rows["a1"]["tls"] == ["tlsA"] and rows["a4"]["tls"] == []
    assert rows["a4"]["user_agents"] == ["UA"]  # three accounts: below the hub cut (50)
    assert rows["a1"]["bins"] == ["411111"]
    assert rows["a5"]["ips"] is None and rows["a5"]["email_domain"] is None
    assert rows["a1"]["email_domain"] == "example.com" and rows["a3"]["country"] == "FR"
    assert rows["a1"]["block_cards"] == ["tok_shared"] and rows["a3"]["block_cards"] is None
    assert stats["block_cut"] == stats["hub_cut"] == 50


def test_hub_values_are_left_out_like_stop_words(tmp_path: Path) -> None:
    tables = {k: list(v) for k, v in TINY.items()}
    records, stats = records_from_bundle(write_bundle(tmp_path / "tiny", tables), link_hub_min_accounts=2)
    rows = {r["account_id"]: r for r in records.to_pylist()}
    assert stats["hub_cut"] == 2
    assert rows["a4"]["user_agents"] == []  # "UA" is used by three accounts > 2: a hub
    assert rows["a1"]["templates"] == []  # so is the template a1..a3 share
    assert rows["a1"]["cards"] == ["tok_shared"]  # two accounts: kept
    assert stats["hub_values_dropped"] >= 2


def test_blocking_cut_is_the_largest_within_the_budget() -> None:
    con = duckdb.connect()
    # Values used by 2, 3 and 10 accounts: C(2,2)=1, C(3,2)=3, C(10,2)=45 pairs each.
    con.execute("CREATE TABLE value_counts AS SELECT * FROM (VALUES ('ips', 'a', 2), ('ips', 'b', 3), "
                "('cards', 'c', 3), ('ips', 'd', 10), ('ips', 'e', 1)) t(kind, value, n)")
    assert sb._largest_cut(con, hub=50, budget=10_000) == 50  # everything fits: the hub cut
    assert sb._largest_cut(con, hub=50, budget=7) == 3  # 1 + 3 + 3 fits, + 45 does not
    assert sb._largest_cut(con, hub=50, budget=6) == 2
    assert sb._largest_cut(con, hub=50, budget=0) == 1  # nothing blocks
    assert sb._largest_cut(con, hub=5, budget=10_000) == 5


# --------------------------------------------------------------------------- linkage


def test_splink_links_the_ring_and_not_strangers(ring_records: tuple[Any, dict[str, Any]]) -> None:
    pytest.importorskip("splink")
    records, stats = ring_records
    run = splink_baseline(records, SplinkOptions(), record_stats=stats)
    assert run.name == "splink"
    assert partition(run.export) == ring_partition()
    flagged = set(run.export.loc[run.export["flagged"], "account_id"])
    assert flagged == {f"r{i:02d}" for i in range(RING_SIZE)}  # 24 accounts >= 20
    assert run.export["confidence"].between(0.9, 1.0).all()  # links kept are >= 0.9
    assert set(run.export["campaign_score"]) == {1.0}
    assert run.runtime_s > 0 and set(run.details["timings_s"]) == {"prior", "u", "m", "predict", "cluster"}


def test_splink_missing_says_how_to_install(monkeypatch: pytest.MonkeyPatch, ring_records: tuple[Any, dict[str, Any]]) -> None:
    monkeypatch.setattr(sb, "splink_available", lambda: False)
    with pytest.raises(SplinkMissing, match=r"pip install 'sybilgraph\[eval\]'"):
        splink_baseline(ring_records[0])
    assert "splink" in INSTALL_HINT
