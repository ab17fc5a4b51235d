"""``sybilgraph export --out FILE``: the contract's export of the current attribution."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from sybilgraph.contract import EXPORT_COLUMNS
from sybilgraph.db.session import Database

__all__ = ["read_export", "write_export", "EXPORT_SCHEMA"]

EXPORT_SCHEMA = pa.schema(
    [
        ("account_id", pa.string()),
        ("operator_id", pa.string()),
        ("operator_label", pa.string()),
        ("confidence", pa.float64()),
        ("campaign_score", pa.float64()),
        ("flagged", pa.bool_()),
        ("organisation_id", pa.string()),
    ]
)
assert tuple(EXPORT_SCHEMA.names) == EXPORT_COLUMNS


def read_export(db: Database) -> pa.Table:
    rows = db.read("attribution/read_export")
    return pa.Table.from_pylist(rows, schema=EXPORT_SCHEMA)


def write_export(table: pa.Table, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".parquet":
        pq.write_table(table, out)
    else:
        pacsv.write_csv(table, out)
