"""How long the largest flagged operator's case file takes, in wall and CPU time (docs/report.md).

Against the database and columnar store the settings name (an ingested and attributed bundle):
first the whole command, ``sybilgraph report operator`` in a fresh process (imports included),
then ``--rounds`` builds in this process, as the API's route makes them (imports done, page not
written). CPU time counts every thread of the process, and of DuckDB's scan; on a shared machine
it is the steadier figure, wall time being CPU time stretched by the load (printed beside it):

    SYBILGRAPH_API_PRODUCTION=false python bench/case_file.py --rounds 5
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

LARGEST_FLAGGED = """
MATCH (run:AttributionRun {current: true})<-[s:SCORED_IN]-(o:Operator) WHERE s.flagged
RETURN o.operator_id AS id, s.size AS size ORDER BY s.size DESC, o.operator_id LIMIT 1
"""


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def command_run(operator_id: str) -> dict[str, float]:
    """The CLI in a fresh process: what an investigator waits for."""
    with tempfile.TemporaryDirectory(prefix="case-bench-") as tmp:
        cpu, started = _children_cpu(), time.perf_counter()
        subprocess.run([sys.executable, "-m", "sybilgraph.cli", "report", "operator", operator_id,
                        "--out", str(Path(tmp) / "case.html")], check=True, capture_output=True, env=os.environ)
        return {"wall_s": round(time.perf_counter() - started, 3), "cpu_s": round(_children_cpu() - cpu, 3)}


def warm_rounds(operator_id: str, rounds: int) -> dict[str, Any]:
    """``build_case`` repeated in this process (the API's case: a running server)."""
    from sybilgraph.api.masking import Masker
    from sybilgraph.db.session import connect
    from sybilgraph.ingest.columnar import ColumnarStore
    from sybilgraph.report.command import build_case
    from sybilgraph.settings import Settings
    from sybilgraph.settings.api import Role

    settings = Settings()
    masker = Masker(settings.api.mask_secret(production=False))

    def mask(kind: str, value: str, bin: str | None, last4: str | None) -> str:
        return masker.mask(kind, value, Role.ANALYST, bin=bin, last4=last4) or ""

    walls, cpus = [], []
    db = connect(settings)
    try:
        for _ in range(rounds):
            files = ColumnarStore(settings.columnar_dir).table_files("interactions")
            started, cpu = time.perf_counter(), time.process_time()
            case, _ = build_case(db.read, operator_id, "analyst", mask, files, "bench")
            walls.append(time.perf_counter() - started)
            cpus.append(time.process_time() - cpu)
    finally:
        db.close()
    return {"members": case.members_total, "identifiers": len(case.identifiers),
            "wall_s": {"median": round(statistics.median(walls), 3), "worst": round(max(walls), 3)},
            "cpu_s": {"median": round(statistics.median(cpus), 3), "worst": round(max(cpus), 3)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    from sybilgraph.db.session import connect
    from sybilgraph.settings import Settings

    db = connect(Settings())
    try:
        top = db.read_raw(LARGEST_FLAGGED)
    finally:
        db.close()
    if not top:
        sys.exit("no flagged operator in the current run: ingest and attribute a bundle first")
    operator_id = str(top[0]["id"])
    result = {"operator": operator_id, "size": top[0]["size"], "load_average": os.getloadavg(),
              "command": command_run(operator_id), "in_process": warm_rounds(operator_id, args.rounds)}
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
