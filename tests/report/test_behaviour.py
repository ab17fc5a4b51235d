"""Behaviour aggregates from Parquet with DuckDB: hour of week, categories, output-token bins, and a
benign population that leaves out every flagged operator's accounts."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from sybilgraph.report.behaviour import read_behaviour


def _write(path: Path, rows: list[tuple[str, datetime, str | None, int | None]]) -> str:
    table = pa.table({
        "account_id": [r[0] for r in rows],
        "ts": pa.array([r[1] for r in rows], pa.timestamp("ms", tz="UTC")),
        "category": [r[2] for r in rows],
        "output_tokens": pa.array([r[3] for r in rows], pa.int64()),
    })
    pq.write_table(table, path)
    return str(path)


def test_aggregates_separate_the_operator_the_benign_and_the_other_campaigns(tmp_path: Path) -> None:
    monday_3am = datetime(2026, 4, 6, 3, 15, tzinfo=UTC)  # a Monday
    sunday_11pm = datetime(2026, 4, 12, 23, 59, tzinfo=UTC)
    files = [_write(tmp_path / "i.parquet", [
        ("op1", monday_3am, "coding", 1000),
        ("op1", monday_3am, "coding", 0),
        ("op2", sunday_11pm, "math", None),
        ("ben", sunday_11pm, "chat", 3),
        ("ben", monday_3am, None, 7),
        ("other", monday_3am, "coding", 5000),  # another flagged operator: in neither group
    ])]
    b = read_behaviour(files, ["op1", "op2"], ["op1", "op2", "other"])
    assert b is not None
    assert b.interactions == 3 and b.benign_interactions == 2
    assert b.daily == ((date(2026, 4, 6), 2), (date(2026, 4, 12), 1))
    assert b.hour_of_week[3] == 2 and b.hour_of_week[6 * 24 + 23] == 1 and sum(b.hour_of_week) == 3
    assert b.benign_hour_of_week[3] == 1 and b.benign_hour_of_week[167] == 1
    assert b.categories == {"coding": 2, "math": 1}
    assert b.benign_categories == {"chat": 1, "(none)": 1}
    # log2 bins: 0 tokens -> bin 0, 3 -> bin 2, 7 -> bin 3, 1000 -> bin 9; a missing count is no bin
    assert b.output_tokens == {0: 1, 9: 1} and b.benign_output_tokens == {2: 1, 3: 1}


def test_no_files_no_behaviour() -> None:
    assert read_behaviour([], ["a"], []) is None
