"""``sybilgraph bench-ingest BUNDLE``: ingest throughput against the pyarrow read floor.

The floor is the time pyarrow takes merely to read every column of every table file of the
bundle (``read_floor``: the same floor ``sybilgraph bench`` reports); it is measured in the same
process right before the ingest, so the ratio holds on a noisy machine where absolute seconds do
not. It is the best of ``READS`` reads, so warm: the files are in the page cache, as they are
for the ingest that follows (the first, cold, read is kept beside it).
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from sybilgraph.contract import TABLE_ORDER, TABLES
from sybilgraph.db.admin import reset
from sybilgraph.db.session import Database
from sybilgraph.ingest import IngestReport, ingest_bundle, withdraw_bundle
from sybilgraph.ingest.columnar import ColumnarStore
from sybilgraph.ingest.readers import find_table_files
from sybilgraph.ingest.state import GRAPH_TABLES, StateDir

__all__ = ["READS", "ROUNDS", "IncrementalBench", "IngestBench", "ReadFloor", "bench_incremental", "bench_ingest", "read_floor",
           "read_with_pyarrow", "split_bundle"]


@dataclass
class IngestBench:
    rows: int
    interactions: int
    read_floor_s: float  # warm: best of read_floor's reads
    ingest_s: float
    read_floor_runs_s: tuple[float, ...] = ()  # every read, the first cold
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
            "read_floor_runs_s": list(self.read_floor_runs_s),
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


# Reads of the bundle a floor is the best of: the first fills the page cache (cold), the others
# read as the ingest right after them does (warm).
READS = 3


@dataclass(frozen=True)
class ReadFloor:
    seconds: float  # the best read: warm
    rows: int
    interactions: int
    runs_s: tuple[float, ...]  # every read, the first one cold


def read_floor(bundle: Path, reads: int = READS) -> ReadFloor:
    """pyarrow reading every column of every table file of ``bundle``, best of ``reads``."""
    runs = []
    for _ in range(reads):
        t0 = time.perf_counter()
        rows = interactions = 0
        for table in TABLE_ORDER:
            for path in find_table_files(bundle, table):
                n = read_with_pyarrow(path).num_rows  # read, then let go: the floor is reading
                rows += n
                if table == "interactions":
                    interactions += n
        runs.append(time.perf_counter() - t0)
    return ReadFloor(min(runs), rows, interactions, tuple(round(r, 3) for r in runs))


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
    floor = read_floor(bundle)
    t0 = time.perf_counter()
    report = ingest_bundle(bundle, db.settings, db)
    ingest_s = time.perf_counter() - t0
    bench = IngestBench(
        rows=floor.rows,
        interactions=floor.interactions,
        read_floor_s=floor.seconds,
        read_floor_runs_s=floor.runs_s,
        ingest_s=ingest_s,
        phases_s=dict(report.timings_s),
        graph_rows=sum(report.graph_writes.values()),
    )
    return bench, report


# -- a small delivery onto a large store ----------------------------------------------------------
DELTA_ID = "delta"
# DuckDB's hash of the account id picks a delivery's accounts: the same ones in every table.
_PICK = "hash(account_id) % 1000000 < {cut}"


@dataclass
class DeliveryStep:
    name: str
    seconds: float
    phases_s: dict[str, float]
    graph_writes: dict[str, int]
    state_update: str | None = None  # splice (only what the delivery touched) or combine, and why


@dataclass
class IncrementalBench:
    """A delivery of ``share`` more accounts onto the store of all the others, side by side."""

    share: float
    base_accounts: int
    delta_accounts: int
    delta_interactions: int
    read_floor_s: float  # pyarrow reading the base delivery's files (warm: best of read_floor's reads)
    base_ingest_s: float  # the full ingest of the store the delivery lands on
    base_phases_s: dict[str, float] = field(default_factory=dict)  # its phases
    steps: list[DeliveryStep] = field(default_factory=list)
    withdrawal_restores_base_state: bool | None = None  # the state tables, exactly
    graph_counts: dict[str, dict[str, int]] = field(default_factory=dict)  # nodes, relationships (leases included)

    def as_dict(self) -> dict[str, object]:
        base = self.base_ingest_s or float("inf")
        return {
            "share": self.share,
            "base_accounts": self.base_accounts,
            "delta_accounts": self.delta_accounts,
            "delta_interactions": self.delta_interactions,
            "read_floor_s": round(self.read_floor_s, 3),
            "base_ingest_s": round(self.base_ingest_s, 3),
            "base_ingest_ratio_to_read_floor": round(self.base_ingest_s / self.read_floor_s, 2) if self.read_floor_s else None,
            "base_phases_s": self.base_phases_s,
            "steps": [{"step": s.name, "seconds": round(s.seconds, 3), "share_of_full_ingest": round(s.seconds / base, 4),
                       "phases_s": s.phases_s, "graph_writes": s.graph_writes, "state_update": s.state_update}
                      for s in self.steps],
            "withdrawal_restores_base_state": self.withdrawal_restores_base_state,
            "graph_counts": self.graph_counts,
        }


def split_bundle(bundle: Path, out: Path, share: float) -> tuple[Path, Path, Path]:
    """(base, delta, redelivery): the bundle split by account, ``share`` of them in the delta.

    Every table with an ``account_id`` is split by one rule on it; reference tables (networks,
    organisations) stay in the base. The redelivery is the delta again with a tenth of its
    interactions left out: new content under the same bundle id. Parquet throughout.
    """
    import duckdb

    shutil.rmtree(out, ignore_errors=True)
    dirs = {name: out / name for name in ("base", DELTA_ID, "redelivery")}
    for name, path in dirs.items():
        path.mkdir(parents=True)
        (path / "bundle.json").write_text(json.dumps({"bundle_id": "base" if name == "base" else DELTA_ID}))
    pick = _PICK.format(cut=int(round(share * 1_000_000)))
    con = duckdb.connect()
    try:
        for table in TABLE_ORDER:
            files = find_table_files(bundle, table)
            if not files:
                continue
            con.register("t", _as_arrow(files))
            split = TABLES[table].references_accounts or "account_id" in TABLES[table].column_names
            wheres = {"base": f"NOT ({pick})" if split else "true", DELTA_ID: pick if split else "false",
                      "redelivery": (f"({pick}) AND hash(ts) % 10 <> 0" if table == "interactions" else pick)
                      if split else "false"}
            for name, where in wheres.items():
                con.execute(f"COPY (SELECT * FROM t WHERE {where}) TO '{dirs[name] / (table + '.parquet')}' "
                            "(FORMAT parquet, COMPRESSION zstd)")
            con.unregister("t")
    finally:
        con.close()
    return dirs["base"], dirs[DELTA_ID], dirs["redelivery"]


def _as_arrow(files: list[Path]):  # noqa: ANN202 - an Arrow dataset or table DuckDB scans
    """The table's files as one Arrow source; text formats read as text (leading zeros kept)."""
    import pyarrow.dataset as ds

    if all(p.name.endswith(".parquet") for p in files):
        return ds.dataset([str(p) for p in files], format="parquet")
    tables = []
    for path in files:
        if ".csv" in path.name:
            with pacsv.open_csv(path) as reader:
                names = reader.schema.names
            tables.append(pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names})))
        else:
            tables.append(pajson.read_json(path))
    return pa.concat_tables(tables, promote_options="permissive")


# Rounds of deliver, redeliver, withdraw. The first meets the server the bulk import has just
# restarted (a fresh JVM, which compiles the write path while running it: docs/benchmarks.md
# "The first delivery after a bulk import"); the second, the same server running, as a
# delivery onto a store in service does.
ROUNDS = ("", " again")


def bench_incremental(db: Database, bundle: Path, share: float, work: Path) -> IncrementalBench:
    """Full ingest of the bundle but ``share`` of its accounts, then that delivery, its
    redelivery and its withdrawal, each timed as a share of the full ingest; twice (``ROUNDS``)."""
    base_dir, delta_dir, redelivery_dir = split_bundle(bundle, work, share)
    reset(db)
    floor_s = read_floor(base_dir).seconds
    t0 = time.perf_counter()
    base = ingest_bundle(base_dir, db.settings, db)
    base_s = time.perf_counter() - t0
    base_state, base_counts = _state(db), dict(db.read("db/count_graph")[0])
    result = IncrementalBench(share=share, base_accounts=base.tables["accounts"].rows_loaded,
                              delta_accounts=_rows(delta_dir, "accounts"),
                              delta_interactions=_rows(delta_dir, "interactions"),
                              read_floor_s=floor_s, base_ingest_s=base_s, base_phases_s=dict(base.timings_s))
    restored = []
    for suffix in ROUNDS:
        for name, run in (("deliver", lambda: ingest_bundle(delta_dir, db.settings, db)),
                          ("redeliver", lambda: ingest_bundle(redelivery_dir, db.settings, db)),
                          ("withdraw", lambda: withdraw_bundle(DELTA_ID, db.settings, db))):
            t0 = time.perf_counter()
            report = run()
            result.steps.append(DeliveryStep(name + suffix, time.perf_counter() - t0, dict(report.timings_s),
                                             dict(report.graph_writes), report.state_update))
        restored.append(_state(db) == base_state)
    result.withdrawal_restores_base_state = all(restored)
    result.graph_counts = {"base": base_counts, "after_withdrawal": dict(db.read("db/count_graph")[0])}
    return result


def _state(db: Database) -> dict[str, pa.Table]:
    """The saved state tables: what the graph holds (sync writes them last), cheap to compare.

    (A full graph digest reads every node over Bolt: minutes at scale 1.0, longer than the steps.)
    """
    state = StateDir(ColumnarStore(db.settings.columnar_dir).state_dir)
    return {name: state.read(name) for name in GRAPH_TABLES}


def _rows(bundle: Path, table: str) -> int:
    """Rows of a table of a Parquet bundle (``split_bundle``'s), from the files' metadata."""
    return sum(pq.ParquetFile(p).metadata.num_rows for p in find_table_files(bundle, table))
