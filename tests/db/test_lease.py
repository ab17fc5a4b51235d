"""The fenced lease against the real Neo4j: one holder at a time, tokens that only grow, renew
that never takes a lost lease back, and a stalled holder's late write refused in its own
transaction (the promotion of an attribution run, the write that matters most)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from sybilgraph.db import session
from sybilgraph.db.lease import LOCK_WAIT_S, Lease, LeaseBusy, LeaseLost, hold
from sybilgraph.db.session import Database

pytestmark = pytest.mark.integration


def _run(db: Database, run_id: str) -> None:
    db.write("attribution/create_run", run_id=run_id, seed=1, params_json="{}")


def _promote(db: Database, lease: Lease, run_id: str) -> list[dict]:
    return db.write("attribution/promote_run", fence=lease.fence, run_id=run_id, timings_json="{}", counts_json="{}")


def _current(db: Database) -> list[str]:
    return [r["run_id"] for r in db.read("attribution/read_current_run")]


def _warm(db: Database) -> None:
    """Plan every statement once: a cold server's first compilations can outlast a short ttl."""
    with hold(db, "warm-up", ttl_s=120) as lease:
        _run(db, "run-warm-up")
        _promote(db, lease, "run-warm-up")
        lease.renew()
    db.driver.execute_query("MATCH (n) WHERE n:AttributionRun OR n:Lock DETACH DELETE n")


def _lock(db: Database, name: str) -> dict:
    return db.read_raw("MATCH (l:Lock {name: $name}) RETURN l.holder AS holder, l.token AS token", name=name)[0]


def test_a_stalled_holder_cannot_renew_or_write_after_a_takeover(db: Database) -> None:
    _warm(db)
    stalled = Lease(db, "attribution", "stalled", ttl_s=3.0)
    first = stalled.acquire()
    _run(db, "run-early")
    assert _promote(db, stalled, "run-early") == [{"run_id": "run-early"}]  # in time: written
    _run(db, "run-late")

    time.sleep(3.5)  # the holder stalls past its lease (GC pause, SIGSTOP, a suspended VM) ...
    taker = Lease(db, "attribution", "taker", ttl_s=30.0)
    second = taker.acquire()  # ... and another takes it over
    assert second > first

    # ... then resumes: its late write is refused inside the write's transaction and rolled back
    with pytest.raises(LeaseLost, match=r"lease 'attribution' \(token \d+\) was lost.*'attribution/promote_run' was not written"):
        _promote(db, stalled, "run-late")
    assert _current(db) == ["run-early"]
    assert db.read_raw("MATCH (r:AttributionRun {run_id: 'run-late'}) RETURN r.status AS s") == [{"s": "running"}]
    # renew is not acquire: it does not take the lease back
    with pytest.raises(LeaseLost, match="now held by taker"):
        stalled.renew()
    with pytest.raises(LeaseLost):
        _ = stalled.fence
    assert stalled.release() is False and _lock(db, "attribution") == {"holder": "taker", "token": second}
    # the current holder writes
    assert _promote(db, taker, "run-late") == [{"run_id": "run-late"}]
    assert _current(db) == ["run-late"]
    taker.release()


def test_an_expired_lease_is_lost_even_when_nobody_took_it(db: Database) -> None:
    _warm(db)
    lease = Lease(db, "ingest", "sleepy", ttl_s=1.0)
    lease.acquire()
    _run(db, "run-x")
    time.sleep(1.5)
    with pytest.raises(LeaseLost):
        _promote(db, lease, "run-x")
    with pytest.raises(LeaseLost, match="expired or was taken over"):
        lease.renew()
    assert _current(db) == []


def test_one_winner_among_racing_takers_and_tokens_only_grow(db: Database) -> None:
    name = "race"
    db.ensure_schema()  # the Lock constraint exists before the racers MERGE
    barrier = threading.Barrier(6)
    winners: list[Lease] = []
    busy: list[LeaseBusy] = []

    def take(i: int) -> None:
        lease = Lease(db, name, f"racer-{i}", ttl_s=30)
        barrier.wait(timeout=30)
        try:
            lease.acquire()
            winners.append(lease)
        except LeaseBusy as e:
            busy.append(e)

    threads = [threading.Thread(target=take, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(winners) == 1 and len(busy) == 5
    assert all(str(e).startswith("'race' is in progress (racer-") for e in busy)
    assert db.read_raw("MATCH (l:Lock {name: $name}) RETURN count(l) AS n", name=name) == [{"n": 1}]
    # released and taken again, or deleted by a reset: the next token is larger still
    assert winners[0].token is not None
    tokens = [winners[0].token]
    assert winners[0].release() is True
    for _ in range(3):
        lease = Lease(db, name, ttl_s=30)
        tokens.append(lease.acquire())
        lease.release()
    db.driver.execute_query("MATCH (l:Lock {name: $name}) DETACH DELETE l", name=name)
    lease = Lease(db, name, ttl_s=30)
    tokens.append(lease.acquire())
    assert tokens == sorted(tokens) and len(set(tokens)) == len(tokens)


def test_release_frees_only_our_own_lease(db: Database) -> None:
    with hold(db, "ingest", ttl_s=30, holder="one") as lease:
        with pytest.raises(LeaseBusy, match=r"another ingest is in progress \(one\)"):
            Lease(db, "ingest", "two", ttl_s=30).acquire()
        assert Lease(db, "ingest", "two", ttl_s=30).release() is False
        assert _lock(db, "ingest")["holder"] == "one"
        lease.check()
    assert _lock(db, "ingest")["holder"] is None


def test_acquire_waits_for_a_lease_that_frees(db: Database) -> None:
    first = Lease(db, "ingest", "first", ttl_s=30)
    first.acquire()
    threading.Timer(0.5, first.release).start()
    t0 = time.monotonic()
    Lease(db, "ingest", "second", ttl_s=30).acquire(wait_s=10, poll_s=0.1)
    assert 0.4 < time.monotonic() - t0 < 10


def test_the_heartbeat_keeps_a_lease_past_its_ttl_and_reports_a_loss(db: Database) -> None:
    _warm(db)
    # A ttl of seconds, not of one: on a loaded machine a renewal itself can take a second.
    with hold(db, "attribution", ttl_s=5.0, heartbeat_s=0.5, holder="beating") as lease:
        time.sleep(11)  # more than twice the ttl
        lease.check()
        with pytest.raises(LeaseBusy):
            Lease(db, "attribution", "other", ttl_s=30).acquire()
        # someone forcibly expires it (what a stall would do): the next beat notices
        db.driver.execute_query("MATCH (l:Lock {name: 'attribution'}) SET l.expires_at = datetime() - duration('PT1S')")
        Lease(db, "attribution", "other", ttl_s=30).acquire()
        deadline = time.monotonic() + 5
        while not lease.lost.is_set() and time.monotonic() < deadline:
            time.sleep(0.05)
        with pytest.raises(LeaseLost, match="was lost: it expired or was taken over"):
            lease.check()  # (the beat may see the expiry, or the takeover: lost either way)


def test_the_lock_name_is_unique_in_the_schema(db: Database) -> None:
    db.ensure_schema()
    rows = db.read_raw("SHOW CONSTRAINTS YIELD labelsOrTypes, properties, type RETURN *")
    assert {"labelsOrTypes": ["Lock"], "properties": ["name"], "type": "UNIQUENESS"} in rows


def _stopped(pid: int) -> bool:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] == "T"


def _leases(db: Database, name: str) -> dict[str, Any]:
    return next(r for r in db.read("lease/read_leases") if r["name"] == name)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_holder_frozen_inside_a_fenced_write_is_taken_over_within_a_bound(db: Database) -> None:
    """The holder freezes right after the fenced write's check took the lease node's write lock.
    A taker that cannot wait hears so at once; one that waits takes the lease over as soon as
    the server ended the frozen transaction (lease_write_timeout_s). The holder, thawed, is
    refused and its run never becomes current."""
    _warm(db)
    write_timeout_s, ttl_s = 8.0, 3.0
    env = {**os.environ, **db.settings.connection_env(), "PYTHONPATH": str(Path(__file__).parents[2]),
           "SYBILGRAPH_LEASE_TTL_S": str(ttl_s), "SYBILGRAPH_LEASE_HEARTBEAT_S": "1",
           "SYBILGRAPH_LEASE_WRITE_TIMEOUT_S": str(write_timeout_s)}
    child = subprocess.Popen([sys.executable, str(Path(__file__).parent / "lease_child.py")], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.strip() == "frozen inside the fenced write", line + child.stdout.read()
        while not _stopped(child.pid):
            time.sleep(0.05)
        frozen_at = time.monotonic()
        with pytest.raises(LeaseBusy, match=r"another attribution run is in progress \(frozen\).*frozen mid-write") as busy:
            Lease(db, "attribution", "impatient", ttl_s=30, lock_wait_s=1).acquire()
        assert busy.value.locked and busy.value.holder == "frozen"

        taker = Lease(db, "attribution", "taker", ttl_s=30)
        taker.acquire(wait_s=60, poll_s=0.2)
        took_s = time.monotonic() - frozen_at
        print(f"\nfrozen holder taken over after {took_s:.1f}s (write timeout {write_timeout_s:g}s, ttl {ttl_s:g}s)")
        # Bounded by the write timeout, the server's timeout check (every 2 s) and the taker's
        # lock wait, never by the frozen holder.
        assert took_s < write_timeout_s + LOCK_WAIT_S
        assert _lock(db, "attribution") == {"holder": "taker", "token": taker.token}
    finally:
        child.send_signal(signal.SIGCONT)
        out, _ = child.communicate(timeout=60)
    assert child.returncode == 1, out
    assert "refused: 'attribution/promote_run' did not finish within 8s" in out, out
    assert _current(db) == []
    taker.release()


@pytest.mark.slow
def test_a_fenced_write_longer_than_the_ttl_neither_starves_renewals_nor_loses_the_lease(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lease node is locked only for a fenced write's last statement, so the heartbeat renews
    while a long write runs, and the write's own check extends the lease."""
    _warm(db)
    real_read = session._read_fence
    renewals: list[int] = []

    def slow_write(*args: Any) -> None:
        real_read(*args)
        for _ in range(10):  # 5 s of writing: longer than the ttl
            time.sleep(0.5)
            renewals.append(_leases(db, "attribution")["renewed_at"])

    monkeypatch.setattr(session, "_read_fence", slow_write)
    with hold(db, "attribution", ttl_s=3.0, heartbeat_s=0.5, holder="long-writer") as lease:
        _run(db, "run-long")
        assert _promote(db, lease, "run-long") == [{"run_id": "run-long"}]
        lease.check()
        lease.renew()
    assert len(set(renewals)) >= 4, renewals  # renewed all along the write
    assert _current(db) == ["run-long"]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_stopped_attribution_process_loses_its_lease_and_its_run_is_never_promoted(
    db: Database, tmp_path: Path
) -> None:
    """End to end: ``sybilgraph attribute`` in a child process is frozen (SIGSTOP) mid-run; its
    lease expires, another run takes the lease and becomes current; the child, thawed, is refused
    and its run ends failed while the other stays current."""
    from sybilgraph.attribution import run_attribution
    from tests.jobs.jobs_support import FAST_LEASE, running_run, seed_operators, wait_for

    seed_operators(db, tmp_path)
    env = {**os.environ, **db.settings.connection_env(), "SLOW_COMMUNITIES_S": "4",
           **{f"SYBILGRAPH_{k.upper()}": str(v) for k, v in FAST_LEASE.items()}}
    log_file = tmp_path / "child.log"
    with open(log_file, "wb") as out:
        child = subprocess.Popen([sys.executable, str(Path(__file__).parents[1] / "jobs" / "scheduler_child.py"), "attribute"],
                                 env={**env, "PYTHONPATH": str(Path(__file__).parents[2])}, stdout=out, stderr=subprocess.STDOUT)
    try:
        try:
            victim = wait_for(lambda: running_run(db, "communities"), 180, "the child's run to reach communities")
        except AssertionError as e:
            raise AssertionError(f"{e}; the child said:\n{log_file.read_text()}") from None
        child.send_signal(signal.SIGSTOP)
        time.sleep(FAST_LEASE["lease_ttl_s"] + 0.5)
        survivor = run_attribution(db)
        child.send_signal(signal.SIGCONT)
        child.wait(timeout=300)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    log = log_file.read_text(errors="replace")
    assert child.returncode == 1, log
    assert "lease 'attribution'" in log and "was lost" in log, log
    status = db.read_raw("MATCH (r:AttributionRun {run_id: $id}) RETURN r.status AS s, r.current AS c", id=victim["run_id"])
    assert status == [{"s": "failed", "c": False}]
    assert _current(db) == [survivor.run_id]
    assert _lock(db, "attribution")["holder"] is None
