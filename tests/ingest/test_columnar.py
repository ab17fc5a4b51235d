"""Staging: parts written on background threads hold the rows in delivery order."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sybilgraph.ingest.columnar import StagedTable

SCHEMA = pa.schema([("account_id", pa.string()), ("n", pa.int64())])


def _batch(start: int, rows: int) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict(
        {"account_id": [f"a{i}" for i in range(start, start + rows)], "n": list(range(start, start + rows))},
        schema=SCHEMA,
    )


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_parts_hold_the_rows_in_order(tmp_path: Path, workers: int) -> None:
    staged = StagedTable(tmp_path / "t", SCHEMA, rows_per_part=25, workers=workers)
    for start in range(0, 230, 10):
        staged.write(_batch(start, 10))
    staged.write(_batch(230, 0))  # an empty batch adds nothing
    staged.close()
    parts = sorted((tmp_path / "t").glob("part-*.parquet"))
    assert [p.name for p in parts] == [f"part-{i:05d}.parquet" for i in range(8)]
    # A part rolls over once it holds rows_per_part rows: 30 rows per part (three batches), 20 in the last.
    assert [pq.ParquetFile(p).metadata.num_rows for p in parts] == [30] * 7 + [20]
    rows = pa.concat_tables([pq.read_table(p) for p in parts])
    assert rows["n"].to_pylist() == list(range(230)) and staged.rows == 230


def test_a_failed_part_is_raised_and_discard_removes_everything(tmp_path: Path) -> None:
    staged = StagedTable(tmp_path / "t", SCHEMA, rows_per_part=5, workers=2)
    staged.write(_batch(0, 5))
    wrong = pa.RecordBatch.from_pydict({"account_id": ["x"] * 5, "n": ["not a number"] * 5})
    staged.write(wrong)  # the writer thread refuses a batch of another schema
    with pytest.raises((ValueError, pa.ArrowException)):
        staged.close()
    staged.discard()
    assert not (tmp_path / "t").exists()
