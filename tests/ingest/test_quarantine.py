from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pytest

from sybilgraph.ingest.luhn import REDACTED_PAN
from sybilgraph.ingest.quarantine import (
    QUARANTINE_SCHEMA,
    RAW_LINE_KEY,
    empty_quarantine,
    quarantine_table,
    raw_line_json,
    record_json,
    redact_value,
)


def test_schema() -> None:
    assert QUARANTINE_SCHEMA.names == ["table", "file", "row", "column", "reason", "record"]
    assert QUARANTINE_SCHEMA.field("row").type == pa.int64()
    assert empty_quarantine().schema.equals(QUARANTINE_SCHEMA)
    assert empty_quarantine().num_rows == 0


def test_record_json_redacts_card_numbers_in_every_field() -> None:
    row = {
        "account_id": "a-1",
        "instrument_id": "4111 1111 1111 1111",
        "user_agent": "Mozilla/5.0 card=5555555555554444;",
        "input_tokens": 4012888888881881,
        "ratio": 0.5,
        "created_at": dt.datetime(2026, 4, 22, 3, 15, 9, tzinfo=dt.timezone.utc),
        "nested": {"k": ["378282246310005"]},
        "raw": b"6011111111111117",
        "empty": None,
        "flag": True,
    }
    text = record_json(row)
    for digits in ("4111111111111111", "4111 1111 1111 1111", "5555555555554444", "4012888888881881",
                   "378282246310005", "6011111111111117"):
        assert digits not in text
    assert json.loads(text) == {
        "account_id": "a-1",
        "instrument_id": REDACTED_PAN,
        "user_agent": f"Mozilla/5.0 card={REDACTED_PAN};",
        "input_tokens": REDACTED_PAN,
        "ratio": 0.5,
        "created_at": "2026-04-22T03:15:09+00:00",
        "nested": {"k": [REDACTED_PAN]},
        "raw": REDACTED_PAN,
        "empty": None,
        "flag": True,
    }


def test_redact_value_keeps_ordinary_values() -> None:
    assert redact_value(1234) == 1234
    assert redact_value("acct-42") == "acct-42"
    assert redact_value(float("nan")) == "nan"
    assert redact_value(b"\xff\x00") == "base64:/wA="


def test_raw_line_json() -> None:
    text = raw_line_json("a,4111-1111-1111-1111,b,c")
    assert json.loads(text) == {RAW_LINE_KEY: f"a,{REDACTED_PAN},b,c"}


def test_quarantine_table() -> None:
    t = quarantine_table("accounts", "/b/accounts.csv", [3], ["created_at"], ["created_at: bad"], ['{"a":1}'])
    assert t.schema.equals(QUARANTINE_SCHEMA)
    assert t.to_pylist() == [
        {"table": "accounts", "file": "/b/accounts.csv", "row": 3, "column": "created_at",
         "reason": "created_at: bad", "record": '{"a":1}'}
    ]
    with pytest.raises(ValueError):
        quarantine_table("accounts", "f", [1, 2], ["c"], ["r"], ["{}"])
