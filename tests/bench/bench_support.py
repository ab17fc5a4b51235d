"""Hand-made benchmark results for the tests of the pure rendering and goal logic."""

from __future__ import annotations

from sybilgraph.bench.results import GIB, ApiLevel, BenchRun, Floor, Phase, ScaleResult


def scale_result(
    scale: float = 1.0,
    ingest_s: float = 60.0,
    write_graph_s: float = 40.0,
    attribute_s: float = 100.0,
    operators_s: float = 50.0,
    python_gib: float = 4.0,
    jvm_gib: float | None = 5.0,
    interactions: int = 1_000_000,
    measured_at: str = "2026-11-29T10:00:00+00:00",
) -> ScaleResult:
    """One scale whose numbers are chosen by the test; the rest is plausible filler."""
    peak = {"python": int(python_gib * GIB)} | ({"jvm": int(jvm_gib * GIB)} if jvm_gib is not None else {})
    together = int((python_gib + jvm_gib) * GIB) if jvm_gib is not None else None
    small = {"python": GIB} | ({"jvm": GIB} if jvm_gib is not None else {})
    phases = [
        Phase("ingest", ingest_s, interactions, "interactions", dict(small), 2 * GIB if jvm_gib else None, 10**8, 2**28),
        Phase("ingest.validate", ingest_s - write_graph_s - 1, interactions, "rows", approximate_window=True),
        Phase("ingest.aggregate", 1.0, interactions, "interactions", approximate_window=True),
        Phase("ingest.write_graph", write_graph_s, 50_000, "graph rows", approximate_window=True),
        Phase("attribute", attribute_s, 10_000, "accounts", peak, together, 2 * 10**8, 2**28),
        Phase("attribute.read", 10.0, 20_000, "links", approximate_window=True),
        Phase("attribute.similarity", 20.0, 20_000, "links", dict(peak), together, approximate_window=True),
        Phase("attribute.communities", 8.0, 5_000, "edges", approximate_window=True),
        Phase("attribute.communities.projection", 5.0, 5_000, "edges", approximate_window=True),
        Phase("attribute.communities.leiden", 2.0, 5_000, "edges", approximate_window=True),
        Phase("attribute.operators", operators_s, 3_000, "attributed accounts", approximate_window=True),
        Phase("attribute.write", attribute_s - 38.0 - operators_s, 3_000, "attributed accounts", approximate_window=True),
        Phase("export", 1.0, 3_000, "export rows", dict(small), 2 * GIB if jvm_gib else None, 2 * 10**8, 2**28),
    ]
    return ScaleResult(
        scale=scale, seed=1, bundle=f"bundles/s{scale:g}-seed1", bundle_generated=True, measured_at=measured_at,
        code={"commit": "abc1234", "dirty": False},
        sizes={"accounts": 10_000, "interactions": interactions, "rows": interactions + 20_000, "edges": 5_000,
               "store_bytes_at_rest": 3 * 10**8, "tx_log_bytes_at_rest": 2**28},
        phases=phases,
        floors={
            "pyarrow_read": Floor("pyarrow_read", 5.0, interactions, "interactions", {"files": 2}),
            "duckdb_group_by": Floor("duckdb_group_by", 0.5, interactions, "interactions", {"groups": 100}),
            "gds_leiden": Floor("gds_leiden", 1.0, 4_000, "accounts", {"nodes": 4_000}),
        },
        api=[ApiLevel("account(id)+evidence cold", 10, 200, 0, 20.0, 60.0, 150.0, 0.0),
             ApiLevel("account(id)+evidence warm", 10, 400, 0, 8.0, 20.0, 900.0, 1.0)],
    )


def bench_run(*scales: ScaleResult, started_at: str = "2026-11-29T10:00:00+00:00") -> BenchRun:
    return BenchRun(
        command="sybilgraph bench --scale 1 --yes", started_at=started_at,
        machine={"cores": 2, "memory_bytes": 24 * GIB, "cpu": "test cpu", "neo4j": "5.26.12", "gds": "2.13.9"},
        settings={"heap": "6g", "pagecache": "2g"}, load_average={"before": [1.0], "after": [1.5]},
        scales=list(scales),
    )
