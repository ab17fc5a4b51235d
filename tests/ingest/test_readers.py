from __future__ import annotations

import datetime as dt
import gzip
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sybilgraph.errors import BundleError, TableError
from sybilgraph.ingest.luhn import REDACTED_PAN
from sybilgraph.ingest.validate import PAN_REASON
from sybilgraph.ingest.readers import (
    NORMALIZED_SCHEMAS,
    QUARANTINE_SCHEMA,
    ValidatedBatch,
    bench_read,
    find_table_files,
    read_table,
    unknown_entries,
    write_synthetic_interactions,
)

UTC = dt.timezone.utc
FIXTURES = Path(__file__).parent / "fixtures"
FORMATS = (".csv", ".csv.gz", ".parquet", ".jsonl", ".jsonl.gz")
Write = Callable[..., Path]
ReadAll = Callable[..., tuple[pa.Table, pa.Table, list[ValidatedBatch]]]


def quarantined(bad: pa.Table) -> list[tuple[int, str | None, str]]:
    return [(r["row"], r["column"], r["reason"]) for r in bad.to_pylist()]


# --------------------------------------------------------------------------- discovery


def test_find_table_files_single_file_and_absent(tmp_path: Path, write: Write, accounts_rows: list) -> None:
    write(tmp_path / "accounts.csv.gz", accounts_rows)
    assert find_table_files(tmp_path, "accounts") == [tmp_path / "accounts.csv.gz"]
    assert find_table_files(tmp_path, "interactions") == []
    with pytest.raises(ValueError):
        find_table_files(tmp_path, "nope")


def test_find_table_files_directory_of_parts(
    tmp_path: Path, write: Write, caplog: pytest.LogCaptureFixture, interactions_rows: list
) -> None:
    parts = tmp_path / "interactions"
    write(parts / "part-0002.parquet", interactions_rows[:2])
    write(parts / "part-0001.csv", interactions_rows[2:4])
    write(parts / "part-0003.jsonl.gz", interactions_rows[4:6])
    (parts / "_SUCCESS").write_text("")
    (parts / ".part-0001.csv.crc").write_text("")
    (parts / "notes.txt").write_text("hi")
    (parts / "nested").mkdir()
    with caplog.at_level(logging.WARNING, logger="sybilgraph.ingest"):
        files = find_table_files(tmp_path, "interactions")
    assert [p.name for p in files] == ["part-0001.csv", "part-0002.parquet", "part-0003.jsonl.gz"]
    warned = caplog.text
    assert "notes.txt" in warned and "nested" in warned and "_SUCCESS" not in warned


def test_a_table_given_twice_is_a_table_error(tmp_path: Path, write: Write, accounts_rows: list) -> None:
    write(tmp_path / "accounts.csv", accounts_rows)
    write(tmp_path / "accounts.parquet", accounts_rows)
    with pytest.raises(TableError) as err:
        find_table_files(tmp_path, "accounts")
    assert str(err.value) == (
        f"table 'accounts' ({tmp_path}): table given by several files (accounts.csv, accounts.parquet); keep one"
    )
    write(tmp_path / "sessions.jsonl", [])
    (tmp_path / "sessions").mkdir()
    with pytest.raises(TableError) as err:
        find_table_files(tmp_path, "sessions")
    assert str(err.value) == (
        f"table 'sessions' ({tmp_path}): table given both as directory 'sessions/' and as file sessions.jsonl; keep one"
    )
    with pytest.raises(TableError):
        read_table(tmp_path, "accounts")


def test_unknown_entries(tmp_path: Path, write: Write, accounts_rows: list) -> None:
    write(tmp_path / "accounts.csv", accounts_rows)
    write(tmp_path / "truth.jsonl.gz", [{"account_id": "a", "is_distillation": True}])
    (tmp_path / "interactions").mkdir()
    (tmp_path / "README.md").write_text("x")
    (tmp_path / "accounts.xlsx").write_text("x")
    (tmp_path / "Accounts.csv").write_text("x")
    (tmp_path / "extra").mkdir()
    (tmp_path / ".DS_Store").write_text("x")
    (tmp_path / "labels.csv.bz2").write_text("x")
    assert unknown_entries(tmp_path) == ["Accounts.csv", "README.md", "accounts.xlsx", "extra", "labels.csv.bz2"]


def test_missing_bundle_directory(tmp_path: Path, ) -> None:
    with pytest.raises(BundleError):
        find_table_files(tmp_path / "nope", "accounts")
    with pytest.raises(BundleError):
        unknown_entries(tmp_path / "nope")


# --------------------------------------------------------------------------- formats


EXPECTED_ACCOUNTS = [
    {
        "account_id": "acct-001",
        "created_at": dt.datetime(2026, 4, 1, 10, 0, tzinfo=UTC),
        "email_domain": "example.com",
        "country": "US",
        "signup_ip": "203.0.113.7",
        "signup_subnet": "203.0.113.0/24",
        "status": "active",
    },
    {
        "account_id": "acct-002",
        "created_at": dt.datetime(2026, 4, 1, 10, 30, tzinfo=UTC),
        "email_domain": "mail.example.org",
        "country": "DE",
        "signup_ip": "2001:db8:1:2::5",
        "signup_subnet": "2001:db8:1::/48",
        "status": "suspended",
    },
    {
        "account_id": "acct-003",
        "created_at": dt.datetime(2026, 4, 2, 0, 0, 0, 123000, tzinfo=UTC),
        "email_domain": None,
        "country": None,
        "signup_ip": None,
        "signup_subnet": None,
        "status": None,
    },
    {
        "account_id": "acct-004",
        "created_at": dt.datetime(2026, 4, 3, 13, 15, 9, tzinfo=UTC),
        "email_domain": "x.io",
        "country": "FR",
        "signup_ip": "198.51.100.9",
        "signup_subnet": "198.51.100.0/24",
        "status": "closed",
    },
]


def _utc(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v.astimezone(UTC) if isinstance(v, dt.datetime) else v for k, v in r.items()} for r in rows]


@pytest.mark.parametrize("ext", FORMATS)
def test_each_format_reads_to_the_same_normalized_output(
    tmp_path: Path, write: Write, read_all: ReadAll, ext: str, accounts_rows: list, interactions_rows: list
) -> None:
    write(tmp_path / f"accounts{ext}", accounts_rows)
    write(tmp_path / f"interactions{ext}", interactions_rows)
    good, bad, batches = read_all(tmp_path, "accounts")
    assert bad.num_rows == 0
    assert good.schema.equals(NORMALIZED_SCHEMAS["accounts"])
    assert _utc(good.to_pylist()) == EXPECTED_ACCOUNTS
    assert all(b.source == tmp_path / f"accounts{ext}" for b in batches)

    base = tmp_path / "base"
    write(base / "interactions.csv", interactions_rows)
    expected, _, _ = read_all(base, "interactions")
    good, bad, batches = read_all(tmp_path, "interactions", batch_rows=7)
    assert bad.num_rows == 0
    assert [b.good.num_rows for b in batches] == [7, 7, 7, 7, 7, 5]
    assert good.equals(expected)
    first = good.slice(0, 2).to_pylist()
    assert _utc(first) == [
        {"account_id": "acct-001", "interaction_id": None, "ts": dt.datetime(2026, 4, 22, 3, 0, 9, tzinfo=UTC), "ip": "2001:db8:aa:1::77",
         "subnet": "2001:db8:aa::/48", "device_id": "dev-0", "api_key_id": "key-0", "model": "m-large",
         "input_tokens": 100, "output_tokens": 0, "prompt_fingerprint": "0000000000000000", "category": "coding"},
        {"account_id": "acct-002", "interaction_id": None, "ts": dt.datetime(2026, 4, 22, 3, 1, 9, tzinfo=UTC), "ip": "198.51.100.23",
         "subnet": "198.51.100.0/24", "device_id": "dev-1", "api_key_id": "key-1", "model": "m-large",
         "input_tokens": 101, "output_tokens": 1, "prompt_fingerprint": "0000000000000001", "category": "coding"},
    ]


def test_directory_of_parts_reads_like_one_file(
    tmp_path: Path, write: Write, read_all: ReadAll, interactions_rows: list
) -> None:
    single = tmp_path / "single"
    write(single / "interactions.parquet", interactions_rows)
    parts = tmp_path / "parts"
    write(parts / "interactions" / "part-00.csv", interactions_rows[:10])
    write(parts / "interactions" / "part-01.parquet", interactions_rows[10:25])
    write(parts / "interactions" / "part-02.jsonl.gz", interactions_rows[25:])
    expected, _, _ = read_all(single, "interactions")
    good, bad, batches = read_all(parts, "interactions", batch_rows=8)
    assert bad.num_rows == 0
    assert good.equals(expected)
    assert [(b.source.name, b.rows_read) for b in batches] == [
        ("part-00.csv", 8), ("part-00.csv", 2),
        ("part-01.parquet", 8), ("part-01.parquet", 7),
        ("part-02.jsonl.gz", 8), ("part-02.jsonl.gz", 7),
    ]


def test_parquet_native_types(tmp_path: Path, read_all: ReadAll) -> None:
    ts = [dt.datetime(2026, 4, 22, 3, 15, 9, tzinfo=UTC), dt.datetime(2026, 4, 22, 4, 0, 0, tzinfo=UTC)]
    table = pa.table(
        {
            "account_id": pa.array([101, 102], pa.int64()),  # numeric ids become text
            "ts": pa.array([1_776_827_709_000, 1_776_830_400_000], pa.int64()),  # epoch millis
            "ip": pa.array(["10.0.0.1", "10.0.0.2"]).dictionary_encode(),
            "model": pa.array(["m", "m"], pa.large_string()),
            "input_tokens": pa.array([5, 6], pa.int32()),
            "output_tokens": pa.array([None, 2.0], pa.float64()),
            "category": pa.array([None, None], pa.null()),
        }
    )
    pq.write_table(table, tmp_path / "interactions.parquet")
    good, bad, _ = read_all(tmp_path, "interactions")
    assert bad.num_rows == 0
    assert good.column("account_id").to_pylist() == ["101", "102"]
    assert [t.astimezone(UTC) for t in good.column("ts").to_pylist()] == ts
    assert good.column("subnet").to_pylist() == ["10.0.0.0/24", "10.0.0.0/24"]
    assert good.column("input_tokens").to_pylist() == [5, 6]
    assert good.column("output_tokens").to_pylist() == [None, 2]

    other = tmp_path / "typed"
    other.mkdir()
    pq.write_table(
        pa.table({"account_id": ["a"], "ts": pa.array([ts[0]], pa.timestamp("ns", tz="Europe/Paris")), "ip": ["::1"]}),
        other / "sessions.parquet",
    )
    good, _, _ = read_all(other, "sessions")
    assert good.column("ts").type == pa.timestamp("ms", tz="UTC")
    assert [t.astimezone(UTC) for t in good.column("ts").to_pylist()] == [ts[0]]


def test_unknown_columns_are_dropped_with_a_warning(
    tmp_path: Path, write: Write, read_all: ReadAll, caplog: pytest.LogCaptureFixture, accounts_rows: list) -> None:
    rows = [{**r, "notes": "hello", "score": 1} for r in accounts_rows]
    path = write(tmp_path / "accounts.csv", rows)
    with caplog.at_level(logging.WARNING, logger="sybilgraph.ingest"):
        good, bad, _ = read_all(tmp_path, "accounts")
    assert good.schema.equals(NORMALIZED_SCHEMAS["accounts"])
    assert bad.num_rows == 0
    assert f"table 'accounts' ({path}): ignoring unknown column(s) 'notes', 'score'" in caplog.messages


def test_header_only_and_absent_tables_yield_nothing(tmp_path: Path, read_all: ReadAll) -> None:
    (tmp_path / "accounts.csv").write_text("account_id,created_at\n")
    (tmp_path / "labels.jsonl").write_text("")
    assert list(read_table(tmp_path, "accounts")) == []
    assert list(read_table(tmp_path, "labels")) == []
    assert list(read_table(tmp_path, "sessions")) == []


def test_csv_with_byte_order_mark_and_crlf(tmp_path: Path, read_all: ReadAll) -> None:
    (tmp_path / "accounts.csv").write_bytes("\ufeffaccount_id,created_at\r\nA,2026-04-22T03:15:09Z\r\n".encode())
    good, bad, _ = read_all(tmp_path, "accounts")
    assert good.column("account_id").to_pylist() == ["A"]
    assert bad.num_rows == 0


# --------------------------------------------------------------------------- bad rows


def test_bad_account_rows_are_quarantined_with_reason_and_row(tmp_path: Path, read_all: ReadAll) -> None:
    # A hand-written file, one kind of bad row per line.
    bundle = tmp_path / "b"
    bundle.mkdir()
    (bundle / "accounts.csv").write_bytes((FIXTURES / "accounts_bad.csv").read_bytes())
    good, bad, _ = read_all(bundle, "accounts", batch_rows=3)
    zone = "created_at: timestamp has no zone (ISO-8601 with Z or ±HH:MM required)"
    assert quarantined(bad) == [
        (1, "account_id", "duplicate account_id; a later row of this bundle wins"),
        (2, "account_id", "account_id: missing required value"),
        (3, "account_id", "account_id: identifier longer than 128 characters"),
        (4, "created_at", zone),
        (5, "created_at", "created_at: not an ISO-8601 timestamp"),
        (6, "created_at", "created_at: not an ISO-8601 timestamp"),
        (7, "created_at", "created_at: missing required value"),
        (8, "country", "country: not an ISO-3166-1 alpha-2 country code (2 letters)"),
        (9, "signup_ip", "signup_ip: not an IPv4 or IPv6 address"),
        (10, "status", "status: not one of active, suspended, closed"),
        (11, None, "malformed CSV row: expected 6 columns, got 7"),
        (13, "created_at", zone),
    ]
    assert good.column("account_id").to_pylist() == ["acct-b", "acct-a"]
    assert set(bad.column("table").to_pylist()) == {"accounts"}
    assert set(bad.column("file").to_pylist()) == {str(bundle / "accounts.csv")}
    first = json.loads(bad.column("record")[0].as_py())
    assert first == {"account_id": "acct-a", "created_at": "2026-04-01T00:00:00Z", "email_domain": "",
                     "country": "US", "signup_ip": "10.0.0.1", "status": "active"}
    malformed = json.loads(bad.column("record")[10].as_py())
    assert malformed == {"_raw_line": "acct-m,2026-04-01T00:00:00Z,,US,10.0.0.1,active,extra"}


def test_duplicate_accounts_last_valid_row_wins_across_parts_and_batches(
    tmp_path: Path, write: Write, read_all: ReadAll
) -> None:
    def acc(i: str, when: str, country: str) -> dict[str, str]:
        return {"account_id": i, "created_at": when, "country": country}

    day = "2026-04-0{}T00:00:00Z".format
    write(tmp_path / "accounts" / "p1.csv", [acc("a", day(1), "US"), acc("b", day(1), "US"), acc("a", day(2), "DE")])
    write(
        tmp_path / "accounts" / "p2.jsonl",
        [acc("c", day(1), "US"), acc("a", day(3), "FR"), acc("a", "bad", "NL"), acc("b", day(5), "GB")],
    )
    good, bad, _ = read_all(tmp_path, "accounts", batch_rows=2)
    assert sorted(good.select(["account_id", "country"]).to_pylist(), key=lambda r: r["account_id"]) == [
        {"account_id": "a", "country": "FR"},
        {"account_id": "b", "country": "GB"},
        {"account_id": "c", "country": "US"},
    ]
    dup = "duplicate account_id; a later row of this bundle wins"
    rows = [(Path(r["file"]).name, r["row"], r["reason"]) for r in bad.to_pylist()]
    assert rows == [
        ("p1.csv", 1, dup),
        ("p1.csv", 2, dup),
        ("p1.csv", 3, dup),
        ("p2.jsonl", 3, "created_at: not an ISO-8601 timestamp"),
    ]


def test_link_table_rows_with_unknown_accounts(tmp_path: Path, write: Write, read_all: ReadAll) -> None:
    rows = [
        {"account_id": "a", "operator_label": "OP-1"},
        {"account_id": "x", "operator_label": "OP-1"},
        {"account_id": "b", "operator_label": ""},
    ]
    write(tmp_path / "labels.csv", rows)
    good, bad, _ = read_all(tmp_path, "labels", known_accounts=pa.chunked_array([["a"], ["b"]]))
    assert good.column("account_id").to_pylist() == ["a"]
    assert quarantined(bad) == [(2, "account_id", "account_id not in accounts"),
                                (3, "operator_label", "operator_label: missing required value")]
    good, bad, _ = read_all(tmp_path, "labels")
    assert good.num_rows == 2 and bad.num_rows == 1


def _interaction(i: int, **over: Any) -> dict[str, Any]:
    row = {"account_id": f"acct-{i}", "ts": "2026-04-22T03:15:09Z", "ip": "10.0.0.1"}
    row.update(input_tokens=i, output_tokens=1)
    row.update(over)
    return row


BAD_AT = {
    1: ({"input_tokens": -1}, "input_tokens", "input_tokens: negative value (must be an integer >= 0)"),
    7: ({"ip": "10.0.0.300"}, "ip", "ip: not an IPv4 or IPv6 address"),
    8: ({"ts": "2026-04-22T03:15:09"}, "ts", "ts: timestamp has no zone (ISO-8601 with Z or ±HH:MM required)"),
    13: ({"output_tokens": "1.5"}, "output_tokens", "output_tokens: not an integer"),
    16: ({"ip": None}, "ip", "ip: missing required value"),
    25: ({"account_id": ""}, "account_id", "account_id: missing required value"),
}


@pytest.mark.parametrize("ext", FORMATS)
@pytest.mark.parametrize("batch_rows", [1, 4, 5, 1000])
def test_row_numbers_are_exact_across_batches(
    tmp_path: Path, write: Write, read_all: ReadAll, ext: str, batch_rows: int
) -> None:
    rows = [_interaction(i, **BAD_AT[i][0]) if i in BAD_AT else _interaction(i) for i in range(1, 26)]
    write(tmp_path / f"interactions{ext}", rows)
    good, bad, batches = read_all(tmp_path, "interactions", batch_rows=batch_rows)
    assert quarantined(bad) == [(i, col, why) for i, (_, col, why) in BAD_AT.items()]
    assert good.column("input_tokens").to_pylist() == [i for i in range(1, 26) if i not in BAD_AT]
    assert all(b.rows_read <= batch_rows for b in batches)
    assert sum(b.rows_read for b in batches) == 25


def test_csv_blank_lines_and_malformed_rows_keep_numbering(tmp_path: Path, read_all: ReadAll) -> None:
    lines = ["account_id,ts,ip"]
    for i in range(1, 13):
        if i == 4:
            lines.append(f"acct-{i},2026-04-22T03:15:09Z")  # too few columns
        elif i == 9:
            lines.append(f"acct-{i},2026-04-22T03:15:09Z,10.0.0.1,x")  # too many
        else:
            lines.append(f"acct-{i},2026-04-22T03:15:09Z,10.0.0.1")
        if i in (2, 6):
            lines.append("")  # blank lines are not rows
    (tmp_path / "sessions.csv").write_text("\n".join(lines) + "\n")
    for batch_rows in (1, 2, 3, 100):
        good, bad, _ = read_all(tmp_path, "sessions", batch_rows=batch_rows)
        assert quarantined(bad) == [(4, None, "malformed CSV row: expected 3 columns, got 2"),
                                    (9, None, "malformed CSV row: expected 3 columns, got 4")]
        assert good.column("account_id").to_pylist() == [f"acct-{i}" for i in range(1, 13) if i not in (4, 9)]


def test_csv_malformed_last_row(tmp_path: Path, read_all: ReadAll) -> None:
    (tmp_path / "labels.csv").write_text("account_id,operator_label\na,OP\nb,OP,x,y\n")
    good, bad, batches = read_all(tmp_path, "labels")
    assert quarantined(bad) == [(2, None, "malformed CSV row: expected 2 columns, got 4")]
    assert sum(b.rows_read for b in batches) == 2


def test_jsonl_bad_lines_are_quarantined_by_line_number(tmp_path: Path, read_all: ReadAll) -> None:
    lines = [
        '{"account_id": "a", "ts": "2026-04-22T03:15:09Z", "ip": "10.0.0.1", "input_tokens": 5}',
        "",
        '{"account_id": "b", "ts": "2026-04-22T03:15:09Z", "ip": "10.0.0.1", "input_tokens": "6"}',
        "{not json",
        "[1, 2]",
        '{"account_id": "c", "ts": "2026-04-22T03:15:09Z", "ip": {"v": 4}}',
        "   ",
        '{"account_id": "d", "ts": "2026-04-22T03:15:09Z", "ip": "10.0.0.1", "input_tokens": 7.0, "extra": [1]}',
        '{"account_id": 42, "ts": "2026-04-22T03:15:09Z", "ip": "10.0.0.1", "input_tokens": -3}',
        '{"account_id": "e", "ts": "2026-04-22T03:15:09Z", "ip": "10.0.0.1", "input_tokens": null}',
    ]
    (tmp_path / "interactions.jsonl").write_text("\n".join(lines))  # no final newline
    for batch_rows in (1, 3, 100):
        good, bad, _ = read_all(tmp_path, "interactions", batch_rows=batch_rows)
        assert quarantined(bad) == [
            (4, None, "malformed JSON line"),
            (5, None, "line is not a JSON object"),
            (6, "ip", "ip: nested JSON value, expected a scalar"),
            (9, "input_tokens", "input_tokens: negative value (must be an integer >= 0)"),
        ]
        assert good.select(["account_id", "input_tokens"]).to_pylist() == [
            {"account_id": "a", "input_tokens": 5},
            {"account_id": "b", "input_tokens": 6},
            {"account_id": "d", "input_tokens": 7},
            {"account_id": "e", "input_tokens": None},
        ]


def test_jsonl_blank_lines_on_the_fast_path(tmp_path: Path, read_all: ReadAll) -> None:
    rows = [json.dumps(_interaction(i, input_tokens=-1 if i == 5 else i)) for i in range(1, 8)]
    text = "\n\n".join(rows) + "\n"  # every row followed by a blank line: row i is on line 2i-1
    (tmp_path / "interactions.jsonl").write_text(text)
    good, bad, _ = read_all(tmp_path, "interactions", batch_rows=2)
    assert quarantined(bad) == [(9, "input_tokens", "input_tokens: negative value (must be an integer >= 0)")]
    assert good.num_rows == 6


def test_jsonl_keys_may_be_left_out_and_appear_late(tmp_path: Path, read_all: ReadAll) -> None:
    lines = [json.dumps({"account_id": f"a{i}", "is_distillation": i % 2 == 0}) for i in range(30_000)]
    lines.append(json.dumps({"account_id": "late", "is_distillation": "yes", "operator": "OP-LATE"}))
    (tmp_path / "truth.jsonl").write_text("\n".join(lines) + "\n")  # > 1 MiB: "operator" is past the peek
    good, bad, _ = read_all(tmp_path, "truth", batch_rows=10_000)
    assert bad.num_rows == 0
    assert good.num_rows == 30_001
    assert good.slice(30_000).to_pylist() == [
        {"account_id": "late", "operator": "OP-LATE", "is_distillation": True, "organisation": None}
    ]


# --------------------------------------------------------------------------- whole-file errors


def _error(bundle: Path, table: str) -> str:
    with pytest.raises(TableError) as err:
        for _ in read_table(bundle, table):
            pass
    assert err.value.table == table
    return str(err.value)


def test_missing_required_column_names_file_and_column(tmp_path: Path, write: Write) -> None:
    path = write(tmp_path / "accounts.csv", [{"account_id": "a", "country": "US"}])
    assert _error(tmp_path, "accounts") == f"table 'accounts' ({path}): missing required column 'created_at'"
    path.unlink()
    path = write(tmp_path / "accounts.parquet", [{"country": "US"}])
    assert _error(tmp_path, "accounts") == (
        f"table 'accounts' ({path}): missing required columns 'account_id', 'created_at'"
    )
    path.unlink()
    path = write(tmp_path / "accounts.jsonl.gz", [{"account_id": "a", "createdAt": "2026-04-22T03:15:09Z"}])
    assert _error(tmp_path, "accounts") == f"table 'accounts' ({path}): missing required column 'created_at'"


def test_unreadable_files(tmp_path: Path) -> None:
    (tmp_path / "accounts.csv").write_text("")
    assert _error(tmp_path, "accounts") == f"table 'accounts' ({tmp_path / 'accounts.csv'}): empty file: no header row"

    (tmp_path / "labels.parquet").write_text("account_id,operator_label\na,OP\n")
    msg = _error(tmp_path, "labels")
    assert msg.startswith(f"table 'labels' ({tmp_path / 'labels.parquet'}): cannot be read as Parquet: ")

    (tmp_path / "sessions.jsonl").write_text("account_id,ts,ip\na,b,c\n")
    assert _error(tmp_path, "sessions") == (
        f"table 'sessions' ({tmp_path / 'sessions.jsonl'}): cannot be read as JSON Lines: "
        "no line of the first MiB is a JSON object"
    )

    (tmp_path / "truth.csv.gz").write_text("account_id,is_distillation\na,true\n")  # not gzip
    assert _error(tmp_path, "truth").startswith(f"table 'truth' ({tmp_path / 'truth.csv.gz'}): cannot be read as CSV: ")

    (tmp_path / "payment_methods.csv").write_text("account_id,instrument_id,account_id\na,t,a\n")
    assert _error(tmp_path, "payment_methods") == (
        f"table 'payment_methods' ({tmp_path / 'payment_methods.csv'}): duplicate column 'account_id'"
    )


def test_parquet_column_of_an_impossible_type(tmp_path: Path) -> None:
    pq.write_table(pa.table({"account_id": ["a"], "ts": [1.5], "ip": ["::1"]}), tmp_path / "sessions.parquet")
    assert _error(tmp_path, "sessions") == (
        f"table 'sessions' ({tmp_path / 'sessions.parquet'}): column 'ts' has type double; "
        "expected a timestamp type, int64 epoch milliseconds or ISO-8601 text with a zone"
    )


def test_a_bad_part_fails_the_table_before_anything_is_yielded(
    tmp_path: Path, write: Write, interactions_rows: list
) -> None:
    write(tmp_path / "interactions" / "part-1.parquet", interactions_rows)
    bad = write(tmp_path / "interactions" / "part-2.csv", [{"account_id": "a", "ip": "10.0.0.1"}])
    with pytest.raises(TableError) as err:
        read_table(tmp_path, "interactions")  # raised by the call, nothing read yet
    assert str(err.value) == f"table 'interactions' ({bad}): missing required column 'ts'"


def test_damage_found_mid_file_raises_a_table_error(tmp_path: Path) -> None:
    data = gzip.compress(("account_id,ts,ip\n" + "a,2026-04-22T03:15:09Z,10.0.0.1\n" * 50_000).encode())
    path = tmp_path / "sessions.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(TableError) as err:
        for _ in read_table(tmp_path, "sessions", batch_rows=1000):
            pass
    assert str(err.value).startswith(f"table 'sessions' ({path}): cannot be read as CSV: ")


def test_read_table_argument_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        read_table(tmp_path, "nope")
    with pytest.raises(ValueError):
        read_table(tmp_path, "accounts", batch_rows=0)


# --------------------------------------------------------------------------- card numbers never leak

PANS = ["4111111111111111", "5555555555554444", "378282246310005", "6011111111111117", "4012888888881881"]


def _assert_no_pan(text: str) -> None:
    flat = text.replace(" ", "").replace("-", "")
    for pan in PANS:
        assert pan not in flat, pan


def test_card_numbers_never_appear_in_output_quarantine_logs_or_errors(
    tmp_path: Path, write: Write, read_all: ReadAll, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    payment_rows = [
        {"account_id": "a", "instrument_id": "tok_1", "bin": "411111", "last4": "1111", "pan_copy": "4111111111111111"},
        {"account_id": "a", "instrument_id": "4111 1111 1111 1111", "bin": "411111", "last4": "1111"},
        {"account_id": "a", "instrument_id": "tok_2", "bin": "5555-5555-5555-4444", "last4": "4444"},
        {"account_id": "a", "instrument_id": "tok_3", "bin": "371449", "last4": "0005",
         "issuer_country": "378282246310005"},
        {"account_id": "nobody", "instrument_id": "6011111111111117", "bin": "601111", "last4": "1117"},
    ]
    sessions = [
        {"account_id": "a", "ts": "2026-04-22T03:15:09Z", "ip": "10.0.0.1", "user_agent": "4012 8888 8888 1881"},
        {"account_id": "a", "ts": "4111111111111111", "ip": "10.0.0.1"},
        {"account_id": "a", "ts": "2026-04-22T03:15:09Z", "ip": "10.0.0.1", "device_id": "d-1"},
    ]
    seen: list[str] = []
    for ext in FORMATS:
        bundle = tmp_path / ext.strip(".")
        write(bundle / f"payment_methods{ext}", payment_rows)
        write(bundle / f"sessions{ext}", sessions)
        for table in ("payment_methods", "sessions"):
            good, bad, _ = read_all(bundle, table, known_accounts=pa.array(["a"]))
            seen += [json.dumps(good.to_pylist(), default=str), json.dumps(bad.to_pylist())]
            assert REDACTED_PAN in json.dumps(bad.to_pylist())
        good, bad, _ = read_all(bundle, "payment_methods", known_accounts=pa.array(["a"]))
        assert good.column("instrument_id").to_pylist() == ["tok_1"]
        assert quarantined(bad) == [
            (2, "instrument_id", PAN_REASON.format(column="instrument_id")),
            (3, "bin", PAN_REASON.format(column="bin")),
            (4, "issuer_country", "issuer_country: not an ISO-3166-1 alpha-2 country code (2 letters)"),
            (5, "instrument_id", PAN_REASON.format(column="instrument_id")),
        ]
        good, bad, _ = read_all(bundle, "sessions")
        assert quarantined(bad) == [
            (1, "user_agent", PAN_REASON.format(column="user_agent")),
            (2, "ts", "ts: not an ISO-8601 timestamp"),
        ]
        assert good.column("device_id").to_pylist() == ["d-1"]

    # A malformed CSV row, a headerless CSV whose first row holds a card number, a bad JSON line.
    mal = tmp_path / "mal"
    mal.mkdir()
    (mal / "labels.csv").write_text("account_id,operator_label\na,OP,4111 1111 1111 1111\n")
    good, bad, _ = read_all(mal, "labels")
    assert json.loads(bad.column("record")[0].as_py()) == {"_raw_line": f"a,OP,{REDACTED_PAN}"}
    seen.append(json.dumps(bad.to_pylist()))
    (mal / "truth.jsonl").write_text('{"account_id": "a", "is_distillation": true}\n{"x": 5555555555554444,\n')
    _, bad, _ = read_all(mal, "truth")
    seen.append(json.dumps(bad.to_pylist()))
    (mal / "accounts.csv").write_text("4111111111111111,2026-04-22T03:15:09Z\n")
    with pytest.raises(TableError) as err:
        read_table(mal, "accounts")
    seen.append(str(err.value))
    seen.append(caplog.text)
    assert "unknown column" in caplog.text
    for text in seen:
        _assert_no_pan(text)


# --------------------------------------------------------------------------- benchmark helper


def test_bench_read_reports_rates(tmp_path: Path) -> None:
    ids = write_synthetic_interactions(tmp_path / "interactions.parquet", 3000, accounts=100, row_group_rows=1000)
    report = bench_read(tmp_path, known_accounts=ids, batch_rows=1000, repeat=1)
    assert report["rows"] == 3000
    assert report["good_rows"] + report["bad_rows"] == 3000
    assert report["bad_rows"] > 0 or report["good_rows"] == 3000
    assert report["ratio"] > 0
    assert QUARANTINE_SCHEMA.names[0] == "table"
