"""bench-ingest --delivery-share: the bundle split into a base, a small delivery and its redelivery."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from sybilgraph.bench.ingest_bench import DELTA_ID, read_with_pyarrow, split_bundle
from sybilgraph.ingest.bundle import open_bundle
from sybilgraph.ingest.readers import find_table_files
from tests.bundles import TINY, write_bundle


def _accounts(bundle: Path, table: str) -> list[str]:
    path = bundle / f"{table}.parquet"
    return pq.read_table(path).column("account_id").to_pylist() if path.is_file() else []


def test_the_split_keeps_every_row_once_by_account(tmp_path: Path) -> None:
    interactions = [dict(TINY["interactions"][i % len(TINY["interactions"])], account_id=f"a{i % 5 + 1}",
                         ts=f"2026-04-0{i % 9 + 1}T0{i % 10}:00:00Z") for i in range(400)]
    bundle = write_bundle(tmp_path / "b", {**TINY, "interactions": interactions})
    base, delta, again = split_bundle(bundle, tmp_path / "split", 0.4)
    assert (open_bundle(base).bundle_id, open_bundle(delta).bundle_id, open_bundle(again).bundle_id) == \
        ("base", DELTA_ID, DELTA_ID)
    for table in ("accounts", "interactions", "sessions", "payment_methods", "labels"):
        ours, theirs = _accounts(delta, table), _accounts(base, table)
        assert not set(ours) & set(theirs), table  # one account's rows go one way
        original = sum(read_with_pyarrow(f).num_rows for f in find_table_files(bundle, table))
        assert original == len(ours) + len(theirs), table
    delta_accounts = set(_accounts(delta, "accounts"))
    assert delta_accounts and set(_accounts(base, "accounts")), "both sides hold accounts"
    assert set(_accounts(delta, "interactions")) <= delta_accounts
    # The redelivery: the same accounts, fewer interactions (new content under the same id).
    assert set(_accounts(again, "accounts")) == delta_accounts
    assert 0 < len(_accounts(again, "interactions")) < len(_accounts(delta, "interactions"))
    assert open_bundle(again).digest != open_bundle(delta).digest
