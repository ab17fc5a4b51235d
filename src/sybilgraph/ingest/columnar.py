"""The columnar store: every validated row of every ingested bundle, as Parquet on disk.

Raw interactions never become Neo4j nodes; they live here for aggregation, drill-down and
timelines. Layout under ``$SYBILGRAPH_HOME/columnar``::

    manifest.json                         ingested bundles, in ingest order (seq)
    bundles/<ingest_id>/<table>/part-*.parquet
    bundles/<ingest_id>/partial/<name>.parquet   its partial aggregates (aggregate.py)
    staging/<ingest_id>/...               a bundle being written; moved into bundles/ at once
    graph_state/CURRENT, gen-*/<name>.parquet    what the graph holds (state.py)

Each step ends in an atomic rename, so a process killed at any point leaves either the old or
the new state, never half of one.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["ColumnarStore", "BundleEntry", "StagedTable"]

PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd", "compression_level": 1}


@dataclass(frozen=True)
class BundleEntry:
    ingest_id: str
    seq: int
    bundle: str


class StagedTable:
    """Writes one table's good rows into staging as Parquet parts of bounded size."""

    def __init__(self, directory: Path, schema: pa.Schema, rows_per_part: int = 2_000_000) -> None:
        self.directory = directory
        self.schema = schema
        self.rows_per_part = rows_per_part
        self.rows = 0
        self._writer: pq.ParquetWriter | None = None
        self._part = 0
        self._rows_in_part = 0
        directory.mkdir(parents=True, exist_ok=True)

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        if self._writer is None or self._rows_in_part >= self.rows_per_part:
            self._roll()
        assert self._writer is not None
        self._writer.write_batch(batch)
        self._rows_in_part += batch.num_rows
        self.rows += batch.num_rows

    def _roll(self) -> None:
        if self._writer is not None:
            self._writer.close()
        path = self.directory / f"part-{self._part:05d}.parquet"
        self._writer = pq.ParquetWriter(path, self.schema, **PARQUET_OPTIONS)
        self._part += 1
        self._rows_in_part = 0

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def discard(self) -> None:
        self.close()
        shutil.rmtree(self.directory, ignore_errors=True)


class ColumnarStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.bundles_dir = root / "bundles"
        self.staging_dir = root / "staging"
        self.state_dir = root / "graph_state"
        self.manifest_path = root / "manifest.json"

    # -- manifest ----------------------------------------------------------------------------
    def entries(self) -> list[BundleEntry]:
        if not self.manifest_path.is_file():
            return []
        data = json.loads(self.manifest_path.read_text())
        return [BundleEntry(**e) for e in data["bundles"]]

    def entry(self, ingest_id: str) -> BundleEntry | None:
        return next((e for e in self.entries() if e.ingest_id == ingest_id), None)

    def next_seq(self) -> int:
        return max((e.seq for e in self.entries()), default=0) + 1

    def _write_manifest(self, entries: list[BundleEntry]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.manifest_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"bundles": [e.__dict__ for e in sorted(entries, key=lambda e: e.seq)]}, indent=1))
        os.replace(tmp, self.manifest_path)

    # -- staging and commit ------------------------------------------------------------------
    def staging(self, ingest_id: str) -> Path:
        path = self.staging_dir / ingest_id
        shutil.rmtree(path, ignore_errors=True)  # leftovers of a killed run
        path.mkdir(parents=True)
        return path

    def is_committed(self, ingest_id: str) -> bool:
        return self.entry(ingest_id) is not None and (self.bundles_dir / ingest_id / "COMPLETE").is_file()

    def commit(self, entry: BundleEntry) -> None:
        """Move a staged bundle into place and record it; replaces an earlier copy of it."""
        staged = self.staging_dir / entry.ingest_id
        (staged / "COMPLETE").write_text(str(entry.seq))
        target = self.bundles_dir / entry.ingest_id
        self.bundles_dir.mkdir(parents=True, exist_ok=True)
        if target.exists():
            trash = self.staging_dir / f"{entry.ingest_id}.old"
            shutil.rmtree(trash, ignore_errors=True)
            os.replace(target, trash)
            os.replace(staged, target)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(staged, target)
        others = [e for e in self.entries() if e.ingest_id != entry.ingest_id]
        self._write_manifest([*others, entry])

    # -- reading -----------------------------------------------------------------------------
    def committed(self) -> list[BundleEntry]:
        """The bundles whose staging completed, in ingest order."""
        return [e for e in self.entries() if (self.bundles_dir / e.ingest_id / "COMPLETE").is_file()]

    def table_files(self, table: str, entries: list[BundleEntry] | None = None) -> list[str]:
        """The Parquet files of ``table`` of the given (default: every committed) bundle."""
        chosen = self.committed() if entries is None else entries
        return [str(p) for e in chosen for p in sorted((self.bundles_dir / e.ingest_id / table).glob("*.parquet"))]

    def partial_dir(self, ingest_id: str) -> Path:
        return self.bundles_dir / ingest_id / "partial"

    def partial_files(self, name: str, entries: list[BundleEntry] | None = None) -> list[str]:
        """The partial ``name`` of each given (default: every committed) bundle that has one."""
        chosen = self.committed() if entries is None else entries
        paths = (self.partial_dir(e.ingest_id) / f"{name}.parquet" for e in chosen)
        return [str(p) for p in paths if p.is_file()]

    def save_partial(self, ingest_id: str, tables: dict[str, pa.Table]) -> None:
        """Write a bundle's partials; each file appears whole or not at all."""
        directory = self.partial_dir(ingest_id)
        directory.mkdir(parents=True, exist_ok=True)
        for name, table in tables.items():
            tmp = directory / f"{name}.parquet.tmp"
            pq.write_table(table, tmp, **PARQUET_OPTIONS)
            os.replace(tmp, directory / f"{name}.parquet")

    def table_glob(self, table: str) -> str | None:
        """A Parquet glob over every committed bundle's ``table``, or None when none has it."""
        committed = [e.ingest_id for e in self.entries() if (self.bundles_dir / e.ingest_id / "COMPLETE").is_file()]
        if not any(any((self.bundles_dir / i / table).glob("*.parquet")) for i in committed):
            return None
        return str(self.bundles_dir / "*" / table / "*.parquet")

    def connect(self, memory_limit: str = "4GB", threads: int | None = None) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"SET memory_limit = '{_checked_size(memory_limit)}'")
        con.execute(f"SET temp_directory = '{self.root / 'tmp'}'")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        return con

    def files(self) -> Iterator[Path]:
        yield from self.bundles_dir.rglob("*.parquet")


def _checked_size(size: str) -> str:
    # Settings are typed strings like "4GB"; refuse anything that is not, since it is spliced
    # into a DuckDB SET (which takes no parameters).
    s = size.strip().upper().replace(" ", "")
    digits = s.rstrip("KMGTIB")
    if not digits.isdigit() or s[len(digits):] not in {"", "KB", "MB", "GB", "TB", "KIB", "MIB", "GIB", "TIB"}:
        raise ValueError(f"not a memory size: {size!r}")
    return s
