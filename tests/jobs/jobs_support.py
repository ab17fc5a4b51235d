"""Helpers for the scheduler tests: configs, hand-made operator bundles, inbox drops, children."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sybilgraph.attribution import run_attribution
from sybilgraph.db.session import Database
from sybilgraph.ingest import ingest_bundle
from sybilgraph.settings import JobsSection, Settings
from tests.bundles import write_bundle

HERE = Path(__file__).resolve().parent
CHILD = HERE / "scheduler_child.py"

# Fast everything: tests wait seconds, not minutes.
FAST: dict[str, Any] = {
    "settle_s": 0.5,
    "poll_interval_s": 0.2,
    "after_ingest_delay_s": 0.0,
    "retry_attempts": 3,
    "retry_base_s": 0.2,
    "retry_max_s": 1.0,
    "lock_wait_s": 120.0,
    "shutdown_grace_s": 1.0,
    "attribution_cron": "0 0 1 1 *",  # never during a test
}
# Leases: a killed holder's lease frees itself within seconds.
FAST_LEASE: dict[str, float] = {"lease_ttl_s": 4.0, "lease_heartbeat_s": 0.4}  # seconds: renewals can be slow under load


def with_jobs(settings: Settings, inbox: Path, **overrides: Any) -> Settings:
    """``settings`` with a fast ``[jobs]`` section on ``inbox``."""
    return settings.model_copy(update={"jobs": JobsSection(inbox=inbox, **{**FAST, **overrides}), **FAST_LEASE})


def account(account_id: str) -> dict[str, Any]:
    return {"account_id": account_id, "created_at": "2026-04-01T10:00:00Z", "email_domain": "",
            "country": "DE", "signup_ip": "", "status": "active"}


def operator_tables(prefix: str, operators: int = 3, members: int = 5, loners: int = 40) -> dict[str, list[dict[str, Any]]]:
    """Operators whose members share a card and a device; loners share nothing.

    Every account has its own IP in its own /24, so networks tie nobody together.
    """
    accounts, cards, sessions = [], [], []
    for k in range(operators):
        for i in range(members):
            a = f"{prefix}-op{k}-m{i}"
            accounts.append(account(a))
            cards.append({"account_id": a, "instrument_id": f"tok_{prefix}_{k}", "bin": "411111", "last4": "1111",
                          "issuer_country": "DE", "added_at": "2026-04-01T10:00:00Z"})
            sessions.append({"account_id": a, "ts": "2026-04-02T10:00:00Z", "ip": f"10.{k + 1}.{i}.1",
                             "device_id": f"dev_{prefix}_{k}", "user_agent": "UA", "tls_fingerprint": f"tls_{prefix}_{k}_{i}"})
    for j in range(loners):
        a = f"{prefix}-loner{j}"
        accounts.append(account(a))
        sessions.append({"account_id": a, "ts": "2026-04-02T11:00:00Z", "ip": f"172.16.{j}.1",
                         "device_id": f"dev_{prefix}_loner{j}", "user_agent": "UA", "tls_fingerprint": f"tls_{prefix}_l{j}"})
    return {"accounts": accounts, "payment_methods": cards, "sessions": sessions}


def seed_operators(db: Database, tmp: Path, prefix: str = "seed") -> str:
    """Ingest an operator bundle and run attribution; the current run's id."""
    bundle = write_bundle(tmp / f"{prefix}-bundle", operator_tables(prefix))
    ingest_bundle(bundle, db.settings, db)
    return run_attribution(db).run_id


def drop(inbox: Path, name: str, tables: dict[str, list[dict[str, Any]]], ready: bool = True) -> Path:
    """Write a bundle beside the inbox, then move it in at once (as a producer should)."""
    staging = inbox.parent / f".staging-{name}"
    write_bundle(staging, tables)
    if ready:
        (staging / "READY").touch()
    inbox.mkdir(parents=True, exist_ok=True)
    target = inbox / name
    os.rename(staging, target)
    return target


def copy_in(inbox: Path, name: str, source: Path) -> Path:
    """Copy a bundle straight into the inbox, keeping modification times (no marker)."""
    inbox.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copytree(source, inbox / name))


def wait_for(predicate: Callable[[], Any], timeout_s: float, what: str, interval_s: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def child_env(db: Database, inbox: Path, **jobs: Any) -> dict[str, str]:
    """Environment for a scheduler child process on the test's database and home."""
    s = db.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYBILGRAPH_")}
    env.update(s.connection_env())
    for key, value in {**FAST, "inbox": inbox, **jobs}.items():
        env[f"SYBILGRAPH_JOBS_{key.upper()}"] = str(value)
    for key, value in FAST_LEASE.items():
        env[f"SYBILGRAPH_{key.upper()}"] = str(value)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE.parents[1]), env.get("PYTHONPATH", "")])
    return env


def start_child(mode: str, env: dict[str, str], log_file: Path, slow_s: float) -> subprocess.Popen[bytes]:
    env = {**env, "SLOW_COMMUNITIES_S": str(slow_s)}
    out = open(log_file, "wb")  # noqa: SIM115 - closed by the OS with the child
    return subprocess.Popen([sys.executable, str(CHILD), mode], env=env, stdout=out, stderr=subprocess.STDOUT)


def stop_child(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        proc.wait(timeout=30)


def running_run(db: Database, phase: str | None = None) -> dict[str, Any] | None:
    """The run in progress (its lease held), optionally once it reached ``phase``."""
    rows = db.read_raw(
        """MATCH (r:AttributionRun {status: 'running'})
           MATCH (l:Lock {name: 'attribution'})
           WHERE l.holder ENDS WITH (':' + r.run_id) AND l.expires_at > datetime()
             AND ($phase IS NULL OR r.progress = $phase)
           RETURN r.run_id AS run_id, l.holder AS holder, l.expires_at.epochMillis AS expires_at""",
        phase=phase,
    )
    return rows[0] if rows else None


def run_record(db: Database, run_id: str) -> dict[str, Any]:
    return db.read_raw(
        """MATCH (r:AttributionRun {run_id: $run_id})
           RETURN r.status AS status, r.current AS current, r.error AS error""",
        run_id=run_id,
    )[0]


def current_run(db: Database) -> str | None:
    rows = db.read_raw("MATCH (r:AttributionRun {current: true}) RETURN r.run_id AS run_id")
    return rows[0]["run_id"] if rows else None


def lock(db: Database, name: str = "attribution") -> dict[str, Any]:
    rows = db.read_raw(
        """MATCH (l:Lock {name: $name})
           RETURN l.holder AS holder, l.expires_at.epochMillis AS expires_at, l.taken_from AS taken_from,
                  l.token AS token""",
        name=name,
    )
    return rows[0] if rows else {}


def job_state(db: Database, name: str) -> dict[str, Any]:
    rows = db.read_raw("MATCH (j:JobState {name: $name}) RETURN properties(j) AS p", name=name)
    return rows[0]["p"] if rows else {}
