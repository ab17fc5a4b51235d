"""The bulk importer's CSV files, without Neo4j: the text of each value and the same files
whichever number of threads writes them (the graph they load: test_bulk_import.py)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given
from hypothesis import strategies as st

from sybilgraph.ingest.bulk_import import _datetime, import_files
from tests.ingest.staging import combined, staged_store, tiny_and_update

# 1000-01-01T00:00:00.000Z .. 9999-12-31T23:59:59.999Z, in epoch milliseconds.
FOUR_DIGIT_YEARS = st.integers(-30_610_224_000_000, 253_402_300_799_999)


def _strftime(values: pa.Array) -> list[str | None]:
    return pc.strftime(pc.cast(values, pa.timestamp("ms", tz="UTC")), "%Y-%m-%dT%H:%M:%SZ").to_pylist()


@given(st.lists(st.one_of(st.none(), FOUR_DIGIT_YEARS, st.integers(-10**15, 10**15)), max_size=60))
def test_datetime_text_is_arrows_iso_text(values: list[int | None]) -> None:
    # Leap days, the epoch, negative instants and nulls included; years of other widths take
    # Arrow's own strftime, so every value's text is the one the importer always got.
    edges = [0, -1, 951_782_400_000, 951_868_799_999, 4_107_542_400_000, 86_399_999]
    array = pa.array(values + edges, pa.int64())
    assert _datetime(array).cast(pa.string()).to_pylist() == _strftime(array)
    assert _datetime(pa.chunked_array([array[:3], array[3:]])).cast(pa.string()).to_pylist() == _strftime(array)


def test_the_files_do_not_depend_on_the_threads_writing_them(tmp_path: Path) -> None:
    store, settings = staged_store(tmp_path / "home", tiny_and_update(tmp_path / "bundles"))
    tables = combined(store, settings)
    one = import_files(tables, tmp_path / "one", threads=1)
    many = import_files(tables, tmp_path / "many", threads=4)
    assert [(f.kind, f.name, f.rows) for f in one] == [(f.kind, f.name, f.rows) for f in many]
    assert [f.name for f in one][:1] == ["Account"] and all(f.rows for f in one)
    for a, b in zip(one, many):
        assert a.path.read_bytes() == b.path.read_bytes()
    header, first = one[0].path.read_text().splitlines()[:2]
    assert header.startswith("account_id:ID(Account),created_at:datetime,")
    assert first.split(",")[1].endswith('Z"') and "T" in first.split(",")[1]
