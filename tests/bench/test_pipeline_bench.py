"""``sybilgraph bench`` end to end at a tiny scale, against the session's real Neo4j + GDS.

Asserts the structure of what is measured and that every number is there and positive; never
absolute timings (the machine is shared).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sybilgraph.bench.command import write_docs, write_results
from sybilgraph.bench.goals import check_goals
from sybilgraph.bench.pipeline_bench import BenchOptions, run_bench, server_for
from sybilgraph.bench.report import BEGIN, END
from sybilgraph.db.session import Database
from sybilgraph.settings import Settings

pytestmark = pytest.mark.integration

TOP = ["generate", "ingest", "attribute", "export", "api"]
SUB = {"ingest.validate", "ingest.aggregate", "ingest.write_graph", "attribute.read", "attribute.evidence",
       "attribute.communities", "attribute.communities.projection", "attribute.communities.leiden",
       "attribute.operators", "attribute.write"}


def test_bench_runs_the_pipeline_beside_its_floors_and_writes_its_reports(
    db: Database, neo4j_settings: Settings, tmp_path: Path
) -> None:
    options = BenchOptions(scales=(0.005,), seed=2, bundles=tmp_path / "bundles", api_clients=(1, 4), api_requests=16)
    server = server_for(neo4j_settings)  # the session's server: its JVM and data directory
    run = run_bench(db, server, options, "sybilgraph bench --scale 0.005 --yes", log=lambda _: None)

    (r,) = run.scales
    assert r.bundle_generated and (tmp_path / "bundles" / "s0.005-seed2" / "truth.parquet").is_file()
    assert [p.name for p in r.phases if p.depth == 0] == TOP
    assert SUB <= {p.name for p in r.phases}
    local = server.local is not None
    for p in r.phases:
        assert p.seconds >= 0 and (p.rows is None or p.rows >= 0), p
    for p in (r.phase(n) for n in TOP):
        assert p is not None and p.seconds > 0 and p.rows and p.rows_per_s, p
        assert p.peak_rss["python"] > 0
        assert (p.peak_rss.get("jvm", 0) > 0 and p.peak_python_jvm) if local else "jvm" not in p.peak_rss
    api = r.phase("api")
    assert api is not None and api.peak_rss.get("api", 0) > 0  # the API server, sampled while it served

    n = r.sizes["interactions"]
    assert n > 0 and r.sizes["accounts"] > 0 and r.sizes["edges"] > 0 and r.sizes["operators"] > 0
    assert r.phase("ingest").rows == n  # type: ignore[union-attr]
    assert set(r.floors) == {"pyarrow_read", "duckdb_group_by", "gds_leiden"}
    # The read floor reads every table (the ingest's whole input); the group-by floor the interactions.
    assert r.floors["pyarrow_read"].detail["interactions"] == n and r.floors["pyarrow_read"].rows > n
    assert len(r.floors["pyarrow_read"].detail["runs_s"]) == 3  # the best of three reads: warm
    assert r.floors["duckdb_group_by"].rows == n
    assert r.floors["gds_leiden"].detail["relationships"] > 0
    assert all(f.seconds > 0 for f in r.floors.values())
    assert all(v is not None and v > 0 for v in r.ratios.values()), r.ratios
    assert all(v is not None and v >= 0 for v in r.gds_steps.values()), r.gds_steps
    assert {(a.workload, a.clients) for a in r.api} == {(f"{w} {p}", c) for w in ("account(id)+evidence", "operators page")
                                                         for p in ("cold", "warm") for c in (1, 4)}
    assert all(a.errors == 0 and a.requests >= 8 and a.p99_ms >= a.p50_ms > 0 for a in r.api)
    assert all(a.hit_rate is not None and (a.hit_rate > 0.9 if a.workload.endswith("warm") else a.hit_rate < 0.5)
               for a in r.api)
    if local:
        assert r.phase("attribute").store_bytes is not None  # type: ignore[union-attr]
    assert [g.met is not None for g in check_goals(r)] == [True, True, local, False]  # the API goal: 10 clients
    assert db.read_raw("CALL gds.graph.list() YIELD graphName RETURN count(*) AS n") == [{"n": 0}]

    json_path, md_path = write_results(run, tmp_path / "results")
    docs = tmp_path / "docs" / "benchmarks.md"
    svg = write_docs(tmp_path / "results", docs)
    assert json_path.is_file() and "### Floors" in md_path.read_text()
    assert svg is not None and ET.fromstring(svg.read_text()).tag.endswith("svg")
    text = docs.read_text()
    assert BEGIN in text and END in text and "| 0.005 |" in text
