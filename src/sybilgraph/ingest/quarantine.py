"""Quarantine rows: the rows of a bundle that break the contract, with where and why.

One quarantine row per rejected input row: the table, the file, the 1-based data row number
within that file (CSV: header not counted; JSON Lines: the line number; Parquet: the row index
+ 1), the column at fault, the reason, and ``record``: the row's values as JSON text, with
every card-like digit run replaced by ``[REDACTED-PAN]`` (see :mod:`.luhn`).  Values are never
quoted in ``reason``, so reasons are safe to log and to count.
"""

from __future__ import annotations

import base64
import datetime as _dt
import decimal
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from .luhn import REDACTED_PAN, redact_pans

__all__ = [
    "QUARANTINE_SCHEMA",
    "RAW_LINE_KEY",
    "redact_value",
    "record_json",
    "raw_line_json",
    "quarantine_table",
    "empty_quarantine",
]

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("table", pa.string(), nullable=False),
        pa.field("file", pa.string(), nullable=False),
        pa.field("row", pa.int64(), nullable=False),
        pa.field("column", pa.string()),  # null when the row as a whole is malformed
        pa.field("reason", pa.string(), nullable=False),
        pa.field("record", pa.string(), nullable=False),
    ]
)

# Key of the record of a row that could not be split into values (malformed CSV/JSON line).
RAW_LINE_KEY = "_raw_line"


def redact_value(value: Any) -> Any:
    """A JSON-ready, PAN-redacted form of one value read from a bundle."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return redact_pans(value)
    if isinstance(value, int):
        return REDACTED_PAN if redact_pans(str(value)) != str(value) else value
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        text = repr(value)
        return REDACTED_PAN if redact_pans(text) != text else value
    if isinstance(value, _dt.datetime | _dt.date | _dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return redact_pans(str(value))
    if isinstance(value, bytes):
        try:
            return redact_pans(value.decode("utf-8"))
        except UnicodeDecodeError:
            return "base64:" + base64.b64encode(value).decode("ascii")
    if isinstance(value, Mapping):
        return {redact_pans(str(k)): redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    return redact_pans(str(value))


def record_json(row: Mapping[str, Any]) -> str:
    """JSON text of one row's values (column -> value), PAN-redacted."""
    return json.dumps(
        {redact_pans(str(k)): redact_value(v) for k, v in row.items()},
        ensure_ascii=False,
        separators=(",", ":"),
    )


def raw_line_json(text: str) -> str:
    """JSON text for a row that could not be split into values: its raw text, PAN-redacted."""
    return json.dumps({RAW_LINE_KEY: redact_pans(text)}, ensure_ascii=False, separators=(",", ":"))


def quarantine_table(
    table: str,
    file: str,
    rows: Sequence[int],
    columns: Sequence[str | None],
    reasons: Sequence[str],
    records: Sequence[str],
) -> pa.Table:
    """A QUARANTINE_SCHEMA table; ``records`` must already be redacted JSON text."""
    n = len(rows)
    if not (len(columns) == len(reasons) == len(records) == n):
        raise ValueError("quarantine columns differ in length")
    return pa.table(
        {
            "table": pa.array([table] * n, pa.string()),
            "file": pa.array([file] * n, pa.string()),
            "row": pa.array(rows, pa.int64()),
            "column": pa.array(columns, pa.string()),
            "reason": pa.array(reasons, pa.string()),
            "record": pa.array(records, pa.string()),
        },
        schema=QUARANTINE_SCHEMA,
    )


def empty_quarantine() -> pa.Table:
    return QUARANTINE_SCHEMA.empty_table()
