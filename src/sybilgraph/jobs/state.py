"""Job state in Neo4j: ``(:JobState {name, last_run_at, last_status, last_error, next_run_at})``.

Why in the graph: the CLI (``sybilgraph runs``), the GraphQL API and Bloom all read the same
database, and several schedulers may run; a node per job is the one place all of them see.
A job is ``inbox`` (ingest of dropped bundles), ``incremental`` (provisional attribution of
new accounts) or ``attribution`` (the full run). Writing state never fails a step: a database
that cannot take the state will fail the step itself soon enough.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from neo4j.exceptions import TransientError

from sybilgraph import cypher
from sybilgraph.db.session import Database

__all__ = ["JOB_NAMES", "JobStateWriter", "apply_job_schema", "utcnow"]

log = logging.getLogger("sybilgraph.jobs")

JOB_NAMES = ("inbox", "incremental", "attribution")
ERROR_MAX_CHARS = 2_000


def utcnow() -> datetime:
    return datetime.now(UTC)


def apply_job_schema(db: Database, attempts: int = 5) -> None:
    """The JobState uniqueness constraint (idempotent), before any job writes state.

    Schedulers starting together create it concurrently, which Neo4j may answer with a
    deadlock (a transient error): schema statements run in auto-commit, so retry here.
    """
    for statement in cypher.statements("jobs/create_job_constraints"):
        for attempt in range(1, attempts + 1):
            try:
                with db.session() as s:
                    s.run(statement).consume()
                break
            except TransientError:
                if attempt == attempts:
                    raise
                time.sleep(0.2 * attempt)


class JobStateWriter:
    def __init__(self, db: Database, holder: str) -> None:
        self.db = db
        self.holder = holder

    def record(
        self,
        name: str,
        status: str,
        started_at: datetime,
        error: str | None = None,
        next_run_at: datetime | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        duration = (utcnow() - started_at).total_seconds()
        self._write(
            "jobs/merge_job_state",
            name=name,
            last_run_at=started_at,
            last_status=status,
            last_error=(error or None) and error[:ERROR_MAX_CHARS],
            next_run_at=next_run_at,
            last_duration_s=round(duration, 3),
            last_detail_json=json.dumps(detail, default=str) if detail is not None else None,
            holder=self.holder,
        )

    def next_run(self, name: str, at: datetime | None) -> None:
        self._write("jobs/set_job_next_run", name=name, next_run_at=at, holder=self.holder)

    def _write(self, statement: str, **params: Any) -> None:
        try:
            self.db.write(statement, **params)
        except Exception as e:  # noqa: BLE001 - state is for people; the step reports its own failure
            log.warning(json.dumps({"event": "job_state_not_written", "job": params.get("name"), "error": str(e)}))
