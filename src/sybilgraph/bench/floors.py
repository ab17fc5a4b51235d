"""Floors: the least each piece of work could cost, measured in the same run on the same input.

- *pyarrow read*: pyarrow reading every column of every table file of the bundle (ingest
  cannot be faster than reading its input once); ``ingest_bench.read_floor``, the floor
  ``bench-ingest`` reports too, warm (the best of its reads: the files in the page cache, as for
  the ingest right after it).
- *DuckDB group-by*: DuckDB grouping those files by (account_id, ip) with a count and the first
  and last timestamp, materialised (the core of the ingest's aggregate phase, alone).
- *bare Leiden*: GDS Leiden, with attribution's parameters, on the evidence graph already
  projected (the projection is not timed); ``stats`` mode, so no result crosses Bolt.

Each floor is the best of ``REPEATS`` runs; every run's time is kept in its detail.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

from sybilgraph.attribution.communities import leiden_config, project_edges
from sybilgraph.attribution.params import AttributionParams
from sybilgraph.bench.ingest_bench import read_floor
from sybilgraph.bench.results import Floor
from sybilgraph.db.session import Database
from sybilgraph.ingest.columnar import ColumnarStore
from sybilgraph.ingest.readers import find_table_files
from sybilgraph.settings import Settings

__all__ = ["REPEATS", "duckdb_group_by_floor", "leiden_floor", "pyarrow_read_floor"]

# A floor is the least the work can cost: the best of a few runs, so one stall of a shared
# machine does not lift it (the work it bounds runs once; the ratio is then conservative).
REPEATS = 3


def pyarrow_read_floor(bundle: Path, repeats: int = REPEATS) -> Floor:
    floor = read_floor(bundle, repeats)
    detail = {"tables": "every table file", "runs_s": list(floor.runs_s), "cold_s": floor.runs_s[0],
              "interactions": floor.interactions}
    return Floor("pyarrow_read", floor.seconds, floor.rows, "rows", detail)


def duckdb_group_by_floor(bundle: Path, settings: Settings, repeats: int = REPEATS) -> Floor:
    files = [str(p) for p in find_table_files(bundle, "interactions")]
    scan = _scan_sql(files)
    # The connection the ingest's aggregate phase runs on (memory limit, spill directory).
    con = ColumnarStore(settings.columnar_dir).connect(memory_limit=settings.ingest.memory_limit)
    try:
        runs = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            con.execute(
                "CREATE OR REPLACE TEMP TABLE account_ip AS "
                "SELECT account_id, ip, count(*) AS n, min(ts) AS first_ts, max(ts) AS last_ts "
                f"FROM {scan} GROUP BY account_id, ip",
                [files] if "?" in scan else [],
            )
            runs.append(time.perf_counter() - t0)
        groups, rows = con.execute("SELECT count(*), coalesce(sum(n), 0) FROM account_ip").fetchone() or (0, 0)
    finally:
        con.close()
    detail = {"groups": int(groups), "runs_s": [round(r, 3) for r in runs]}
    return Floor("duckdb_group_by", min(runs), int(rows), "interactions", detail)


def _scan_sql(files: list[str]) -> str:
    """DuckDB's scan of the interaction files: one parquet scan, or a union of text scans."""
    if not files:
        raise ValueError("the bundle has no interactions files")
    if all(f.endswith(".parquet") for f in files):
        return "read_parquet(?)"
    scans = [f"read_csv({_quote(f)}, header = true)" if ".csv" in f else f"read_json({_quote(f)})" for f in files]
    return "(" + " UNION ALL BY NAME ".join(f"SELECT * FROM {s}" for s in scans) + ")"


def _quote(path: str) -> str:
    # A file path is data, but DuckDB table functions in a UNION need literals; quote it as one.
    return "'" + path.replace("'", "''") + "'"


def leiden_floor(db: Database, edges: Any, params: AttributionParams, repeats: int = REPEATS) -> Floor | None:
    """Bare GDS Leiden on the projected graph of ``edges``; None when there is no edge."""
    if edges is None or len(edges) == 0:
        return None
    gds = db.gds()
    name = f"sybilgraph-bench-{secrets.token_hex(4)}"
    try:
        project_edges(db, edges, name)
        graph = gds.graph.get(name)
        runs: list[float] = []
        stats: Any = None
        for _ in range(repeats):
            t0 = time.perf_counter()
            stats = gds.leiden.stats(graph, **leiden_config(params))
            runs.append(time.perf_counter() - t0)
        nodes = int(graph.node_count())
        detail: dict[str, Any] = {
            "nodes": nodes,
            "relationships": int(graph.relationship_count()),
            "compute_ms": int(_stat(stats, "compute_millis", "computeMillis")),
            "communities": int(_stat(stats, "community_count", "communityCount")),
            "runs_s": [round(r, 3) for r in runs],
        }
    finally:
        gds.graph.drop(name, fail_if_missing=False)
    return Floor("gds_leiden", min(runs), nodes, "accounts", detail)


def _stat(stats: Any, attribute: str, column: str) -> Any:
    # graphdatascience answers with a typed result (2.x endpoints) or a pandas Series (older).
    return getattr(stats, attribute) if hasattr(stats, attribute) else stats[column]
