"""pairs_from_bundle: every contract format, single files and directories of parts."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sybilgraph.errors import TableError
from sybilgraph.evaluate import PAIR_SCHEMA, pairs_from_bundle


def triples(table: pa.Table) -> set[tuple[str, str, str]]:
    assert table.schema == PAIR_SCHEMA
    rows = table.to_pylist()
    assert len(rows) == len({tuple(r.values()) for r in rows}), "pairs must be distinct"
    return {(r["account_id"], r["kind"], r["value"]) for r in rows}


def write_jsonl_gz(path: Path, rows: list[dict[str, object]]) -> None:
    with gzip.open(path, "wt") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")


@pytest.fixture()
def bundle(tmp_path: Path) -> Path:
    pd.DataFrame(
        {"account_id": ["u1", "u2", "u3", "u4", "00123"],
         "created_at": ["2026-01-01T00:00:00Z"] * 5}
    ).to_csv(tmp_path / "accounts.csv", index=False)
    pq.write_table(
        pa.table({
            "account_id": ["u1", "u2", "u3", "zz", "00123"],
            "instrument_id": ["tok-1", "tok-1", "4111 1111 1111 1111", "tok-9", "tok-2"],
            "bin": ["411111"] * 5,
        }),
        tmp_path / "payment_methods.parquet",
    )
    write_jsonl_gz(tmp_path / "sessions.jsonl.gz", [
        {"account_id": "u1", "ts": "2026-01-01T00:00:00Z", "ip": " 10.0.0.1 ", "device_id": "d1"},
        {"account_id": "u2", "ts": "2026-01-01T00:00:00Z", "ip": "2001:DB8::1"},
    ])
    parts = tmp_path / "interactions"
    parts.mkdir()
    pq.write_table(
        pa.table({"account_id": ["u3", "u3", "u4"], "ts": [1, 2, 3],
                  "ip": ["10.0.0.1", "10.0.0.1", "10.0.0.2"], "device_id": ["d1", "d1", None]}),
        parts / "part-0001.parquet",
    )
    with gzip.open(parts / "part-0002.csv.gz", "wt") as fh:  # no device_id column at all
        fh.write("account_id,ts,ip\nu4,2026-01-01T00:00:00Z,10.0.0.2\n00123,2026-01-01T00:00:00Z,10.0.0.3\n")
    (parts / "README.txt").write_text("not a table part")
    return tmp_path


EXPECTED = {
    ("u1", "card", "tok-1"), ("u2", "card", "tok-1"), ("00123", "card", "tok-2"),
    ("u1", "ip", "10.0.0.1"), ("u1", "device", "d1"),
    ("u2", "ip", "2001:db8::1"),
    ("u3", "ip", "10.0.0.1"), ("u3", "device", "d1"),
    ("u4", "ip", "10.0.0.2"),
    ("00123", "ip", "10.0.0.3"),
}


def test_all_formats(bundle: Path) -> None:
    # the raw card number (u3) and the unknown account (zz) are left out
    assert triples(pairs_from_bundle(bundle)) == EXPECTED


def test_unknown_accounts_kept_when_asked(bundle: Path) -> None:
    got = triples(pairs_from_bundle(bundle, restrict_to_accounts=False, memory_limit="1GB"))
    assert got == EXPECTED | {("zz", "card", "tok-9")}


def test_accounts_only_bundle(tmp_path: Path) -> None:
    (tmp_path / "accounts.jsonl").write_text('{"account_id": "u1", "created_at": "2026-01-01T00:00:00Z"}\n')
    table = pairs_from_bundle(tmp_path)
    assert table.num_rows == 0 and table.schema == PAIR_SCHEMA


def test_missing_account_column_names_table(tmp_path: Path) -> None:
    pd.DataFrame({"account_id": ["u1"]}).to_csv(tmp_path / "accounts.csv", index=False)
    pd.DataFrame({"who": ["u1"], "ip": ["1.2.3.4"]}).to_csv(tmp_path / "sessions.csv", index=False)
    with pytest.raises(TableError, match="sessions"):
        pairs_from_bundle(tmp_path)


def test_feeds_the_baselines(bundle: Path) -> None:
    from sybilgraph.evaluate import fraud_rings

    run = fraud_rings(pairs_from_bundle(bundle), min_ring_size=3)
    groups = {frozenset(g["account_id"]) for _, g in run.export.groupby("operator_id")}
    assert groups == {frozenset({"u1", "u2", "u3"})}
