"""Combining in bounded memory: the usage rows grouped and sorted a range of accounts at a time."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from sybilgraph.ingest import pipeline
from sybilgraph.ingest.columnar import ColumnarStore, memory_bytes
from sybilgraph.ingest.combine import USAGE_ROW_BYTES, combine, usage_chunk_rows
from sybilgraph.settings import Settings
from tests.bundles import ENRICHMENT, TINY, write_bundle
from tests.ingest.staging import staged_store, tiny_and_update


def _combine(store: ColumnarStore, settings: Settings, chunk_rows: int) -> dict:
    pipeline.refresh_partials(store, settings)
    con = store.connect()
    try:
        return combine(con, replace(pipeline.combine_input(store, settings), usage_chunk_rows=chunk_rows))
    finally:
        con.close()


@pytest.fixture(params=["update", "enrichment"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[ColumnarStore, Settings, str]:
    # Two deliveries whose rows fold together, and one with network owners (network_owner rows).
    bundles = (tiny_and_update(tmp_path) if request.param == "update"
               else [write_bundle(tmp_path / "b", {**TINY, **ENRICHMENT})])
    return (*staged_store(tmp_path / "home", bundles), request.param)


@pytest.mark.parametrize("chunk_rows", [1, 2, 3, 7])
def test_usage_in_account_ranges_equals_usage_at_once(store, chunk_rows: int) -> None:
    # Ranges of one account (chunk_rows=1) up to a few: the same rows in the same order, so
    # every range boundary keeps each account whole and the pieces go end to end in key order.
    columnar, settings, kind = store
    whole = _combine(columnar, settings, chunk_rows=0)
    ranged = _combine(columnar, settings, chunk_rows=chunk_rows)
    accounts = set(whole["account_identifiers"]["account_id"].to_pylist())
    assert len(accounts) > 1 and whole["account_identifiers"].num_rows > chunk_rows  # more than one range
    if kind == "enrichment":
        assert "network_owner" in whole["account_identifiers"]["kind"].to_pylist()
    for name, table in whole.items():
        assert ranged[name].equals(table), name


def test_chunk_rows_follow_duckdbs_memory_limit() -> None:
    assert memory_bytes("4GB") == 4 * 10**9 and memory_bytes("512MiB") == 512 * 2**20 and memory_bytes("100") == 100
    assert usage_chunk_rows(memory_bytes("4GB")) == 4 * 10**9 // USAGE_ROW_BYTES
    assert usage_chunk_rows(10) == 1  # never zero: zero means all at once
    with pytest.raises(ValueError, match="not a memory size"):
        memory_bytes("4 parsecs")
