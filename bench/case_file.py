"""How long the largest flagged operator's case file takes, in wall and CPU time (docs/report.md).

Against the database and columnar store the settings name (an ingested and attributed bundle):
first the whole command, ``sybilgraph report operator`` in a fresh process (imports included),
then ``--rounds`` builds in this process, as the API's route makes them (imports done, page not
written). CPU time counts every thread of the process, and of DuckDB's scan; on a shared machine
it is the steadier figure, wall time being CPU time stretched by the load (printed beside it).
The reads' work in Neo4j is another process's CPU: counted from ``/proc`` when the server's pid
is known (the local launcher's, or ``--server-pid``) and added to the case file's total:

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


def process_cpu(pid: int | None) -> float:
    """CPU seconds (user + system) a process has used so far; 0 when unknown."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def command_run(operator_id: str, server: int | None) -> dict[str, float]:
    """The CLI in a fresh process: what an investigator waits for."""
    with tempfile.TemporaryDirectory(prefix="case-bench-") as tmp:
        cpu, neo4j, started = _children_cpu(), process_cpu(server), time.perf_counter()
        subprocess.run([sys.executable, "-m", "sybilgraph.cli", "report", "operator", operator_id,
                        "--out", str(Path(tmp) / "case.html")], check=True, capture_output=True, env=os.environ)
        wall, cpu, neo4j = time.perf_counter() - started, _children_cpu() - cpu, process_cpu(server) - neo4j
        return {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "neo4j_cpu_s": round(neo4j, 3),
                "total_cpu_s": round(cpu + neo4j, 3)}


def warm_rounds(operator_id: str, rounds: int, server: int | None) -> dict[str, Any]:
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

    walls, cpus, totals = [], [], []
    db = connect(settings)
    try:
        for _ in range(rounds):
            files = ColumnarStore(settings.columnar_dir).table_files("interactions")
            started, cpu, neo4j = time.perf_counter(), time.process_time(), process_cpu(server)
            case, _ = build_case(db.read, operator_id, "analyst", mask, files, "bench")
            walls.append(time.perf_counter() - started)
            cpus.append(time.process_time() - cpu)
            totals.append(cpus[-1] + process_cpu(server) - neo4j)
    finally:
        db.close()

    def spread(values: list[float]) -> dict[str, float]:
        return {"median": round(statistics.median(values), 3), "worst": round(max(values), 3)}

    return {"members": case.members_total, "identifiers": len(case.identifiers), "wall_s": spread(walls),
            "cpu_s": spread(cpus), "total_cpu_s": spread(totals)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--server-pid", type=int, help="Neo4j's pid (default: the local launcher's, if it runs)")
    args = parser.parse_args()
    from sybilgraph.db.launcher import LocalNeo4j
    from sybilgraph.db.session import connect
    from sybilgraph.settings import Settings

    settings = Settings()
    server = args.server_pid or (LocalNeo4j(settings).state().pid if settings.uses_local_launcher else None)
    db = connect(settings)
    try:
        top = db.read_raw(LARGEST_FLAGGED)
    finally:
        db.close()
    if not top:
        sys.exit("no flagged operator in the current run: ingest and attribute a bundle first")
    operator_id = str(top[0]["id"])
    result = {"operator": operator_id, "size": top[0]["size"], "load_average": os.getloadavg(),
              "neo4j_pid": server, "command": command_run(operator_id, server),
              "in_process": warm_rounds(operator_id, args.rounds, server)}
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
