"""The bundle goes through the production readers (sybilgraph.ingest.readers) without a single
quarantined row, and the generator manifest is the only entry they do not know."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from sybilgraph.contract import TABLE_ORDER
from sybilgraph.generate import GenerateReport

readers = pytest.importorskip("sybilgraph.ingest.readers")


def test_every_table_reads_with_zero_quarantined_rows(bundle: Path, generated: GenerateReport) -> None:
    known: pa.Array | None = None
    for table in TABLE_ORDER:
        good = bad = 0
        ids: list[pa.Array] = []
        reasons: list[str] = []
        for batch in readers.read_table(bundle, table, known_accounts=known):
            good += batch.good.num_rows
            bad += batch.bad.num_rows
            if batch.bad.num_rows:
                reasons.extend(str(r) for r in batch.bad.slice(0, 3).to_pylist())
            if table == "accounts":
                ids.append(batch.good.column("account_id"))
        assert bad == 0, (table, reasons[:3])
        assert good == generated.counts.get(table, 0), table
        if table == "accounts":
            known = pa.concat_arrays(ids)


def test_only_the_manifest_is_unknown(bundle: Path) -> None:
    assert readers.unknown_entries(bundle) == ["generator.json"]
