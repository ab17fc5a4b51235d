"""``python -m sybilgraph.bench.stage_bench BUNDLE``: the fused pass against the staged-Parquet pass.

Stages the bundle into a scratch columnar store (no Neo4j) with the fused pass on and off,
alternately, ``--repeat`` times each, and combines it: per phase the wall time and the CPU time of
the process (every thread: DuckDB's too). On a shared machine the CPU seconds are the figures to
compare; wall time stretches with the load.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sybilgraph.ingest import pipeline
from sybilgraph.ingest.bundle import open_bundle
from sybilgraph.ingest.columnar import ColumnarStore
from sybilgraph.ingest.combine import combine
from sybilgraph.progress import NullReporter
from sybilgraph.settings import Settings

__all__ = ["stage_once"]


@contextmanager
def _clock(out: dict[str, dict[str, float]], name: str) -> Iterator[None]:
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    out[name] = {"wall_s": round(time.perf_counter() - wall, 2), "cpu_s": round(time.process_time() - cpu, 2)}


def stage_once(bundle: Path, home: Path, fused_max_rows: int) -> dict[str, Any]:
    """Stage ``bundle`` into a fresh store under ``home`` and combine it; wall and CPU per phase."""
    shutil.rmtree(home, ignore_errors=True)
    settings = Settings(home=home)
    settings.ingest.fused_max_rows = fused_max_rows
    store = ColumnarStore(settings.columnar_dir)
    phases: dict[str, dict[str, float]] = {}
    timings: dict[str, float] = {}
    with _clock(phases, "validate+partials"):
        report = pipeline.stage_delivery(open_bundle(bundle), store, settings, NullReporter(), None, timings)
    with _clock(phases, "combine"):
        pipeline.refresh_partials(store, settings)
        con = store.connect(memory_limit=settings.ingest.memory_limit)
        try:
            combine(con, pipeline.combine_input(store, settings))
        finally:
            con.close()
    return {"fused_max_rows": fused_max_rows, "partials_from": report.partials_from,
            "wall_s": {k: v for k, v in timings.items() if k in ("validate", "partials")}, "phases": phases}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--fused-max-rows", type=int, default=Settings().ingest.fused_max_rows)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sybilgraph-stage-bench-") as tmp:
        for _ in range(args.repeat):
            for cap in (args.fused_max_rows, 0):
                print(json.dumps(stage_once(args.bundle, Path(tmp) / "home", cap)), flush=True)


if __name__ == "__main__":
    main()
