"""``sybilgraph bench-ingest BUNDLE``: ingest throughput against the pyarrow read floor.

The floor is the time pyarrow takes merely to read every column of every table file of the
bundle; it is measured in the same process right before the ingest, so the ratio holds on a
noisy machine where absolute seconds do not.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from sybilgraph.contract import TABLE_ORDER
from sybilgraph.db.admin import reset
from sybilgraph.db.session import Database
from sybilgraph.ingest import IngestReport, ingest_bundle
from sybilgraph.ingest.readers import find_table_files

__all__ = ["IngestBench", "bench_ingest", "read_floor", "read_with_pyarrow"]


@dataclass
class IngestBench:
    rows: int
    interactions: int
    read_floor_s: float
    ingest_s: float
    phases_s: dict[str, float] = field(default_factory=dict)
    graph_rows: int = 0

    @property
    def ratio(self) -> float:
        return self.ingest_s / self.read_floor_s if self.read_floor_s else float("inf")

    def as_dict(self) -> dict[str, object]:
        return {
            "rows": self.rows,
            "interactions": self.interactions,
            "read_floor_s": round(self.read_floor_s, 3),
            "ingest_s": round(self.ingest_s, 3),
            "ratio_to_read_floor": round(self.ratio, 2),
            "phases_s": self.phases_s,
            "rows_per_s": {
                "validate": round(self.rows / self.phases_s["validate"]) if self.phases_s.get("validate") else None,
                "aggregate": round(self.rows / self.phases_s["aggregate"]) if self.phases_s.get("aggregate") else None,
                "write_graph": round(self.graph_rows / self.phases_s["write_graph"]) if self.phases_s.get("write_graph") else None,
                "whole_ingest": round(self.rows / self.ingest_s) if self.ingest_s else None,
                "pyarrow_read": round(self.rows / self.read_floor_s) if self.read_floor_s else None,
            },
        }


def read_floor(bundle: Path) -> tuple[float, int, int]:
    """(seconds, rows, interaction rows) for pyarrow to read every column of every table."""
    t0 = time.perf_counter()
    rows = interactions = 0
    for table in TABLE_ORDER:
        for path in find_table_files(bundle, table):
            n = read_with_pyarrow(path).num_rows
            rows += n
            if table == "interactions":
                interactions += n
    return time.perf_counter() - t0, rows, interactions


def read_with_pyarrow(path: Path) -> pa.Table:
    """Every column of one table file, with pyarrow's own reader for its format."""
    name = path.name
    if name.endswith(".parquet"):
        return pq.read_table(path)
    if ".csv" in name:
        return pacsv.read_csv(path)
    return pajson.read_json(path)


def bench_ingest(db: Database, bundle: Path) -> tuple[IngestBench, IngestReport]:
    reset(db)
    floor_s, rows, interactions = read_floor(bundle)
    t0 = time.perf_counter()
    report = ingest_bundle(bundle, db.settings, db)
    ingest_s = time.perf_counter() - t0
    bench = IngestBench(
        rows=rows,
        interactions=interactions,
        read_floor_s=floor_s,
        ingest_s=ingest_s,
        phases_s=dict(report.timings_s),
        graph_rows=sum(report.graph_writes.values()),
    )
    return bench, report
