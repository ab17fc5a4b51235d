"""One attribution at a time across schedulers, dead holders' leases expire, SIGTERM handled."""

from __future__ import annotations

import itertools
import signal
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sybilgraph.db.session import Database
from sybilgraph.jobs import Scheduler
from sybilgraph.jobs.scheduler import AttributionOutcome
from tests.jobs.jobs_support import (
    FAST_LEASE,
    child_env,
    current_run,
    job_state,
    with_jobs,
    lock,
    run_record,
    running_run,
    seed_operators,
    start_child,
    stop_child,
    wait_for,
)

pytestmark = pytest.mark.integration


def _runs(db: Database) -> list[dict[str, object]]:
    return db.read_raw(
        """MATCH (r:AttributionRun)
           RETURN r.run_id AS run_id, r.status AS status,
                  r.started_at.epochMillis AS started, r.finished_at.epochMillis AS finished
           ORDER BY started"""
    )


def test_two_schedulers_never_attribute_at_the_same_time(db: Database, tmp_path: Path) -> None:
    seed_operators(db, tmp_path)
    schedulers = [
        Scheduler(with_jobs(db.settings, tmp_path / f"inbox-{i}"), db=Database(db.settings), holder=f"racer-{i}")
        for i in range(2)
    ]
    start = threading.Barrier(len(schedulers))
    outcomes: list[AttributionOutcome] = []
    errors: list[BaseException] = []

    def race(scheduler: Scheduler) -> None:
        try:
            for _ in range(2):
                start.wait(timeout=30)
                report = scheduler.run_once(attribute=True)
                assert report.attribution is not None
                outcomes.append(report.attribution)
        except BaseException as e:  # noqa: BLE001 - re-raised below
            errors.append(e)

    threads = [threading.Thread(target=race, args=(s,)) for s in schedulers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    for s in schedulers:
        s.close()
        s.db.close()
    assert not errors, errors
    assert [o.status for o in outcomes] == ["complete"] * 4
    assert any(o.attempts > 1 for o in outcomes), "the schedulers never met on the lock"
    runs = [r for r in _runs(db) if r["status"] == "complete"]
    assert len(runs) == 5  # the seed run and four raced ones
    for earlier, later in itertools.pairwise(runs):
        assert earlier["finished"] <= later["started"], f"runs overlap: {earlier} / {later}"
    assert lock(db)["holder"] is None


def test_killed_scheduler_leaves_an_expiring_lease_and_the_previous_run_served(db: Database, tmp_path: Path) -> None:
    previous = seed_operators(db, tmp_path)
    served = _attributions(db, previous)
    inbox = tmp_path / "inbox"
    child = start_child("once", child_env(db, inbox), tmp_path / "child.log", slow_s=120)
    try:
        victim = wait_for(lambda: running_run(db, "communities"), 60, "the child's run to be mid-way")
    finally:
        stop_child(child, signal.SIGKILL)
    assert child.returncode == -signal.SIGKILL
    # Dead holder: nobody renews its lease, which expires within lease_ttl_s; the last run still serves.
    assert lock(db)["holder"] == victim["holder"]
    assert lock(db)["expires_at"] <= _now_ms() + FAST_LEASE["lease_ttl_s"] * 1000 + 1_000  # the child's ttl, clock slack
    assert current_run(db) == previous and _attributions(db, previous) == served

    t0 = time.monotonic()
    scheduler = Scheduler(with_jobs(db.settings, inbox), db=db, holder="survivor")
    try:
        report = scheduler.run_once(attribute=True)
    finally:
        scheduler.close()
    reclaimed_after = time.monotonic() - t0
    assert report.attribution is not None and report.attribution.status == "complete"
    assert reclaimed_after < 60
    assert lock(db)["taken_from"] == victim["holder"] and lock(db)["holder"] is None
    dead = run_record(db, victim["run_id"])
    assert dead["status"] == "failed" and "abandoned" in dead["error"]
    assert current_run(db) == report.attribution.run_id


@pytest.mark.parametrize(
    ("slow_s", "grace_s", "expected"),
    [(2.0, 60.0, "complete"), (120.0, 1.0, "failed")],
    ids=["finishes-within-grace", "abandons-after-grace"],
)
def test_sigterm_finishes_or_abandons_the_step(
    db: Database, tmp_path: Path, slow_s: float, grace_s: float, expected: str
) -> None:
    previous = seed_operators(db, tmp_path)
    env = child_env(db, tmp_path / "inbox", attribute_on_start="true", shutdown_grace_s=grace_s)
    child = start_child("forever", env, tmp_path / "child.log", slow_s=slow_s)
    try:
        run = wait_for(lambda: running_run(db), 60, "the child's run to start")
        child.send_signal(signal.SIGTERM)
        child.wait(timeout=60)
    finally:
        stop_child(child, signal.SIGKILL)
    log = (tmp_path / "child.log").read_text()
    assert child.returncode == 0, log
    record = run_record(db, run["run_id"])
    assert record["status"] == expected, log
    assert lock(db)["holder"] is None  # released on the way out, either way
    if expected == "complete":
        assert current_run(db) == run["run_id"]
        assert job_state(db, "attribution")["last_status"] == "ok"
    else:
        assert current_run(db) == previous
        assert "StepAbandoned" in record["error"]
        assert job_state(db, "attribution")["last_status"] == "abandoned"
    assert '"event": "scheduler_stopped"' in log


def _attributions(db: Database, run_id: str) -> int:
    rows = db.read_raw("MATCH ()-[r:ATTRIBUTED_TO {run_id: $run_id}]->() RETURN count(r) AS n", run_id=run_id)
    return int(rows[0]["n"])


def _now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)
