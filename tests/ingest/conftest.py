"""Shared helpers for the ingest reader tests: write rows as any bundle format, read a table back."""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

FORMATS = (".csv", ".csv.gz", ".parquet", ".jsonl", ".jsonl.gz")

Row = dict[str, Any]


def _csv_text(rows: Sequence[Row], columns: Sequence[str]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow(["" if r.get(c) is None else r.get(c) for c in columns])
    return buf.getvalue()


def write_rows(path: Path, rows: Sequence[Row], columns: Sequence[str] | None = None) -> Path:
    """Write ``rows`` to ``path`` in the format its extension names.

    CSV: every value as text (None -> empty).  JSON Lines: native JSON values.  Parquet: one
    column per name, types inferred by Arrow (strings stay strings, ints int64).
    """
    if columns is None:
        columns = list(dict.fromkeys(k for r in rows for k in r))
    path.parent.mkdir(parents=True, exist_ok=True)
    name = path.name
    if name.endswith(".csv"):
        path.write_text(_csv_text(rows, columns), encoding="utf-8")
    elif name.endswith(".csv.gz"):
        path.write_bytes(gzip.compress(_csv_text(rows, columns).encode("utf-8")))
    elif name.endswith(".jsonl") or name.endswith(".jsonl.gz"):
        text = "".join(json.dumps({c: r.get(c) for c in columns if c in r}) + "\n" for r in rows)
        data = text.encode("utf-8")
        path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    elif name.endswith(".parquet"):
        table = pa.table({c: _parquet_column([r.get(c) for r in rows]) for c in columns})
        pq.write_table(table, path)
    else:
        raise ValueError(name)
    return path


def _parquet_column(values: list[Any]) -> pa.Array:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed Python types: write them as text
        return pa.array([None if v is None else str(v) for v in values], pa.string())


@pytest.fixture
def write() -> Callable[..., Path]:
    return write_rows


def collect(batches) -> tuple[pa.Table, pa.Table, list]:
    """(all good rows, all quarantine rows, the batches) of a read_table iterator."""
    from sybilgraph.ingest.readers import NORMALIZED_SCHEMAS, QUARANTINE_SCHEMA

    batches = list(batches)
    goods = [b.good for b in batches]
    bads = [b.bad for b in batches]
    schema = goods[0].schema if goods else None
    good = pa.Table.from_batches(goods, schema=schema) if goods else None
    bad = pa.concat_tables(bads) if bads else QUARANTINE_SCHEMA.empty_table()
    for b in batches:
        assert b.rows_read == b.good.num_rows + b.bad.num_rows
        assert b.bad.schema.equals(QUARANTINE_SCHEMA)
        assert any(b.good.schema.equals(s) for s in NORMALIZED_SCHEMAS.values())
    return good, bad, batches


@pytest.fixture
def read_all() -> Callable[..., tuple[pa.Table, pa.Table, list]]:
    from sybilgraph.ingest.readers import read_table

    def run(bundle: Path, table: str, **kw: Any) -> tuple[pa.Table, pa.Table, list]:
        return collect(read_table(bundle, table, **kw))

    return run


ACCOUNTS: list[Row] = [
    {
        "account_id": "acct-001",
        "created_at": "2026-04-01T10:00:00Z",
        "email_domain": "example.com",
        "country": "us",
        "signup_ip": "203.0.113.7",
        "status": "active",
    },
    {
        "account_id": " acct-002 ",
        "created_at": "2026-04-01T12:30:00+02:00",
        "email_domain": "Mail.Example.ORG",
        "country": "DE",
        "signup_ip": "2001:DB8:0001:0002::0005",
        "status": "Suspended",
    },
    {
        "account_id": "acct-003",
        "created_at": "2026-04-02T00:00:00.123456Z",
        "email_domain": "",
        "country": None,
        "signup_ip": "",
        "status": None,
    },
    {
        "account_id": "acct-004",
        "created_at": "2026-04-03 08:15:09-05:00",
        "email_domain": "x.io",
        "country": "fr",
        "signup_ip": "::ffff:198.51.100.9",
        "status": "closed",
    },
]

INTERACTIONS: list[Row] = [
    {
        "account_id": f"acct-00{1 + i % 4}",
        "ts": f"2026-04-22T03:{i:02d}:09Z",
        "ip": "198.51.100.23" if i % 3 else "2001:db8:aa:1::77",
        "device_id": f"dev-{i % 5}",
        "api_key_id": f"key-{i % 4}",
        "model": "m-large",
        "input_tokens": 100 + i,
        "output_tokens": i,
        "prompt_fingerprint": f"{i:016x}",
        "category": "coding",
    }
    for i in range(40)
]


@pytest.fixture
def accounts_rows() -> list[Row]:
    return [dict(r) for r in ACCOUNTS]


@pytest.fixture
def interactions_rows() -> list[Row]:
    return [dict(r) for r in INTERACTIONS]
