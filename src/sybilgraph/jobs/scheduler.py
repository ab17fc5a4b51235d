"""``sybilgraph scheduler``: ingest what lands in the inbox, attribute on a schedule, unattended.

Why: attribution is only as fresh as its last run. Investigators should not have to run
``ingest`` and ``attribute`` by hand each time a bundle arrives, and new accounts of a known
operator should be placed with it within seconds, not at the next full run.

One loop, on the main thread (so SIGTERM can finish or abandon exactly the step it interrupts):

1. *inbox* (every ``poll_interval_s``): each ready bundle (``inbox.py``) is ingested once under
   the ``ingest`` lease (the one ``sybilgraph ingest`` and withdrawal take, db/lease.py), its new
   accounts are attributed incrementally (``incremental.py``), and it moves to ``done/`` or
   ``failed/``.
2. *attribution* (on the cron expression, and ``after_ingest_delay_s`` after an ingest): a full
   run, which takes the ``attribution`` lease itself like every run; a busy lease is retried
   with backoff. Leases are renewed by heartbeat threads, so a killed holder's lease frees
   itself after ``lease_ttl_s``, and fenced, so a holder that stalled past it cannot write.

Failures are retried with exponential backoff (``retry.py``); every outcome is written to
``(:JobState)`` (``state.py``). On SIGTERM (or SIGINT) the current step may finish within
``shutdown_grace_s``; after that, or on a second signal, it is abandoned: the step is
interrupted, an attribution run is marked failed and its lock released (the previous run stays
current), an interrupted ingest leaves its bundle in the inbox (ingest is idempotent).
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import FrameType
from typing import Any

from sybilgraph.attribution.params import AttributionParams
from sybilgraph.attribution.pipeline import new_run_id, run_attribution
from sybilgraph.db.lease import INGEST_LEASE, Lease, LeaseBusy, new_holder
from sybilgraph.db.session import Database, connect
from sybilgraph.errors import AttributionError, DatabaseUnavailable
from sybilgraph.ingest import IngestReport, ingest_bundle
from sybilgraph.jobs.health import HealthBeacon, health_file
from sybilgraph.jobs.inbox import BadEntry, Inbox, ReadyBundle
from sybilgraph.jobs.incremental import (
    IncrementalResult,
    attribute_new_accounts,
    new_account_ids,
)
from sybilgraph.jobs.retry import Backoff, Stopped, is_infrastructure, retry
from sybilgraph.jobs.state import JobStateWriter, apply_job_schema, utcnow
from sybilgraph.settings import Settings
from sybilgraph.settings.jobs import cron_trigger, next_cron_time

__all__ = ["AttributionOutcome", "BundleOutcome", "CycleReport", "Scheduler", "StepAbandoned", "main"]

log = logging.getLogger("sybilgraph.jobs")

MAX_IDLE_WAIT_S = 60.0


class StepAbandoned(BaseException):
    """Raised into the running step when shutdown gives up waiting for it.

    A BaseException, like KeyboardInterrupt, so library code catching Exception lets it through
    (the attribution pipeline marks its run failed and releases its lock on the way out).
    """


@dataclass
class BundleOutcome:
    name: str
    status: str  # done | failed | deferred (left in the inbox: database trouble or shutdown)
    path: str | None = None
    reason: str | None = None
    ingest_id: str | None = None
    ingest_s: float = 0.0
    incremental: IncrementalResult | None = None


@dataclass
class AttributionOutcome:
    status: str  # complete | busy | failed | abandoned | stopped
    run_id: str | None = None
    error: str | None = None
    attempts: int = 0
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class CycleReport:
    bundles: list[BundleOutcome] = field(default_factory=list)
    attribution: AttributionOutcome | None = None

    @property
    def ingested(self) -> list[BundleOutcome]:
        return [b for b in self.bundles if b.status == "done"]


class Scheduler:
    """Inbox watcher and attribution scheduler; ``run_forever()`` for service, ``run_once()`` for tests."""

    def __init__(
        self,
        settings: Settings,
        db: Database | None = None,
        params: AttributionParams | None = None,
        holder: str | None = None,
    ) -> None:
        self.settings = settings
        self.config = settings.jobs
        self._owns_db = db is None
        self.db = db or connect(settings)
        # The same parameters as any other run (CLI, API): one [attribution] section.
        self.params = params or settings.attribution.params()
        self.holder = holder or new_holder("scheduler")
        cfg = self.config
        self.inbox = Inbox(cfg.inbox_dir(settings.home), cfg.done_path(settings.home), cfg.failed_path(settings.home),
                           cfg.ready_marker, cfg.settle_s)
        self.states = JobStateWriter(self.db, self.holder)
        self.ingest_lease = Lease(self.db, INGEST_LEASE, self.holder, settings.lease_ttl_s)
        self.backoff = Backoff(cfg.retry_base_s, cfg.retry_max_s)
        self._cron = cron_trigger(cfg.attribution_cron)
        self._next_cron = next_cron_time(self._cron, utcnow())
        self._stop = threading.Event()
        self._started = False
        # attribution wanted: when (monotonic) it is due, with failures/busy answers so far
        self._pending_at: float | None = None
        self._failures = 0
        self._busy = 0
        self._next_poll = 0.0
        # shutdown
        self._in_step = False
        self._abandon_requested = False
        self._abandon_raised = False
        self._main_ident: int | None = None
        self._grace_timer: threading.Timer | None = None
        # what the health file says (sybilgraph scheduler --check)
        self._doing = "idle"
        self._last_tick_error: str | None = None
        self.health = HealthBeacon(health_file(settings), self._describe)

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        if self._started:
            return
        self.inbox.ensure()
        apply_job_schema(self.db)
        self.states.next_run("attribution", self._next_cron)
        self.health.start()
        self._started = True
        _event("scheduler_started", holder=self.holder, inbox=str(self.inbox.root),
               cron=self.config.attribution_cron, next_attribution=self._next_cron.isoformat())

    def stop(self) -> None:
        """Ask the loop to stop after the current step (what SIGTERM does first)."""
        self._stop.set()

    def close(self) -> None:
        self.health.stop()
        if self._grace_timer is not None:
            self._grace_timer.cancel()
        if self._owns_db:
            self.db.close()

    def run_once(self, attribute: bool | None = None) -> CycleReport:
        """Ingest every ready bundle, then attribute when asked, due by cron, or after an ingest.

        Blocking: failed steps are retried with backoff here, and a busy attribution lock is
        waited for (up to ``lock_wait_s``).
        """
        self.start()
        report = CycleReport(bundles=self._process_inbox())
        due = self._cron_due() or (bool(report.ingested) and self.config.attribute_after_ingest)
        if attribute is not None:
            due = attribute
        if due:
            report.attribution = self._attribute(wait=True)
        return report

    def run_forever(self) -> None:
        """The service loop, until stop() or SIGTERM/SIGINT (handlers installed on the main thread)."""
        self.start()
        if self.config.attribute_on_start:
            self._pending_at = time.monotonic()
        with self._signal_handlers():
            try:
                self._loop()
            except StepAbandoned as e:
                _event("scheduler_abandoned_step", reason=str(e))
        _event("scheduler_stopped", holder=self.holder)

    # -- the loop --------------------------------------------------------------------------------
    def _loop(self) -> None:
        """Ticks until stopped; a tick that fails (the database went away) is retried with backoff."""
        failures = 0
        while not self._stop.is_set():
            try:
                self._tick()
                failures, self._last_tick_error = 0, None
                wait = self._idle_wait_s()
            except Exception as e:  # noqa: BLE001 - the service outlives database outages
                failures += 1
                wait = self.backoff.delay(failures)
                self._last_tick_error = f"{type(e).__name__}: {e}"
                log.error(json.dumps({"event": "tick_failed", "error": f"{type(e).__name__}: {e}",
                                      "retry_in_s": round(wait, 2)}))
            self._stop.wait(wait)

    def _tick(self) -> None:
        now = time.monotonic()
        if now >= self._next_poll:
            outcomes = self._process_inbox()
            if any(o.status == "done" for o in outcomes) and self.config.attribute_after_ingest:
                due = time.monotonic() + self.config.after_ingest_delay_s
                self._pending_at = due if self._pending_at is None else min(self._pending_at, due)
            deferred = any(o.status == "deferred" for o in outcomes) and not self._stop.is_set()
            delay = self.backoff.delay(1) if deferred else self.config.poll_interval_s
            self._next_poll = time.monotonic() + delay
        if self._stop.is_set():
            return
        if self._cron_due() and self._pending_at is None:
            self._pending_at = time.monotonic()
        if self._pending_at is not None and time.monotonic() >= self._pending_at:
            self._attribute(wait=False)

    def _idle_wait_s(self) -> float:
        now = time.monotonic()
        wakeups = [self._next_poll, now + (self._next_cron - utcnow()).total_seconds()]
        if self._pending_at is not None:
            wakeups.append(self._pending_at)
        return min(MAX_IDLE_WAIT_S, max(0.05, min(wakeups) - now))

    def _cron_due(self) -> bool:
        now = utcnow()
        if now < self._next_cron:
            return False
        self._next_cron = next_cron_time(self._cron, now + timedelta(seconds=1))
        self.states.next_run("attribution", self._next_cron)
        return True

    # -- inbox -----------------------------------------------------------------------------------
    def _process_inbox(self) -> list[BundleOutcome]:
        """Ingest every ready bundle and move every bad entry to failed/, under the ingest lease.

        Only an inbox that cannot be listed at all raises (the tick is retried with backoff)."""
        if self._stop.is_set():
            return []
        first = self.inbox.scan()
        if not first.ready and not first.bad:
            return []
        started = utcnow()
        try:
            self.ingest_lease.acquire()
        except LeaseBusy as e:
            _event("inbox_busy", holder=e.holder)
            return []
        except Exception as e:  # noqa: BLE001 - the database is down: try again at the next poll
            self.states.record("inbox", "failed", started, error=f"{type(e).__name__}: {e}")
            return [BundleOutcome(name="*", status="deferred", reason=str(e))]
        outcomes: list[BundleOutcome] = []
        try:
            with self.ingest_lease.heartbeat(self.settings.lease_heartbeat_s):
                outcomes = self._ingest_ready(outcomes)
        finally:
            self._release(self.ingest_lease)
            self._record_inbox(started, outcomes)
        return outcomes

    def _ingest_ready(self, outcomes: list[BundleOutcome]) -> list[BundleOutcome]:
        # Listed again under the lease: another scheduler may have taken some meanwhile.
        scan = self.inbox.scan()
        for bad in scan.bad:  # no bad entry stops the others: each goes to failed/ with its reason
            outcomes.append(self._to_failed(bad, {"bundle": bad.name, "reason": bad.reason, "at": utcnow().isoformat()}))
        for bundle in scan.ready:
            if self._stop.is_set() or self.ingest_lease.lost.is_set():
                break
            if not bundle.path.is_dir():
                continue
            outcome = self._ingest(bundle)
            outcomes.append(outcome)
            if outcome.status == "deferred":
                break  # the database is in trouble: no point trying the next bundle now
        return outcomes

    @staticmethod
    def _release(lease: Lease) -> None:
        try:
            lease.release()
        except Exception as e:  # noqa: BLE001 - the lease expires by itself
            log.warning(json.dumps({"event": "lease_not_released", "lease": lease.name, "error": str(e)}))

    def _record_inbox(self, started: datetime, outcomes: list[BundleOutcome]) -> None:
        if not outcomes:
            return
        bad = [o for o in outcomes if o.status != "done"]
        self.states.record(
            "inbox",
            "ok" if not bad else ("deferred" if all(o.status == "deferred" for o in bad) else "failed"),
            started,
            error="; ".join(f"{o.name}: {o.reason}" for o in bad) or None,
            next_run_at=utcnow() + timedelta(seconds=self.config.poll_interval_s),
            detail={s: [o.name for o in outcomes if o.status == s] for s in ("done", "failed", "deferred")},
        )

    def _ingest(self, bundle: ReadyBundle) -> BundleOutcome:
        t0 = time.perf_counter()
        _event("ingest_started", bundle=bundle.name, by_marker=bundle.by_marker)
        try:
            with self._step(f"ingest {bundle.name}"):
                report = self._retrying(
                    "inbox", lambda: ingest_bundle(bundle.path, self.settings, self.db, lease=self.ingest_lease))
        except Stopped as e:
            return BundleOutcome(bundle.name, "deferred", reason=str(e))
        except StepAbandoned:
            self.states.record("inbox", "abandoned", utcnow(), error=f"ingest of {bundle.name} abandoned at shutdown")
            raise
        except Exception as e:  # noqa: BLE001 - sorted below: database trouble waits, the rest is refused
            if is_infrastructure(e):
                return BundleOutcome(bundle.name, "deferred", reason=f"{type(e).__name__}: {e}")
            return self._refuse(bundle, f"{type(e).__name__}: {e}", time.perf_counter() - t0)
        ingest_s = time.perf_counter() - t0
        if report.failed_tables:
            return self._refuse(bundle, _failed_tables_reason(report), ingest_s, report)
        incremental = self._incremental(report)
        document = {"ingest": report.model_dump(mode="json"), "status": report.status,
                    "incremental": incremental.summary() if incremental else None}
        path = self.inbox.move_done(bundle, document)
        _event("ingest_done", bundle=bundle.name, ingest_id=report.ingest_id, seconds=round(ingest_s, 3),
               status=report.status, moved_to=str(path))
        return BundleOutcome(bundle.name, "done", str(path), ingest_id=report.ingest_id, ingest_s=ingest_s,
                             incremental=incremental)

    def _refuse(self, bundle: ReadyBundle, reason: str, seconds: float, report: IngestReport | None = None) -> BundleOutcome:
        document = {"bundle": bundle.name, "reason": reason, "at": utcnow().isoformat(),
                    "ingest": report.model_dump(mode="json") if report else None}
        outcome = self._to_failed(bundle, document)
        outcome.ingest_id, outcome.ingest_s = (report.ingest_id if report else None), seconds
        return outcome

    def _to_failed(self, entry: ReadyBundle | BadEntry, document: dict[str, Any]) -> BundleOutcome:
        """Move an entry to failed/ with its reason; one that cannot be moved either is left in
        place, reported once and skipped from then on (so it cannot fail every tick)."""
        reason = str(document["reason"])
        try:
            path = self.inbox.move_failed(entry, document)
        except OSError as e:
            self.inbox.stuck[entry.name] = reason
            why = f"{reason}; it could not be moved to {self.inbox.failed} ({e}), so it is left in place and skipped"
            log.error(json.dumps({"event": "inbox_entry_stuck", "bundle": entry.name, "reason": why}))
            return BundleOutcome(entry.name, "failed", str(entry.path), reason=why)
        _event("ingest_failed", bundle=entry.name, reason=reason, moved_to=str(path))
        return BundleOutcome(entry.name, "failed", str(path), reason=reason)

    def _incremental(self, report: IngestReport) -> IncrementalResult | None:
        if not self.config.incremental:
            return None
        started = utcnow()
        cfg = self.config
        try:
            with self._step("incremental attribution"):
                result = self._retrying("incremental", lambda: attribute_new_accounts(
                    self.db, new_account_ids(self.settings, report.ingest_id), self.params,
                    max_accounts=cfg.incremental_max_accounts, ingest_id=report.ingest_id))
        except StepAbandoned:
            self.states.record("incremental", "abandoned", started, error="abandoned at shutdown")
            raise
        except Exception as e:  # noqa: BLE001 - best effort: the next full run places these accounts
            self.states.record("incremental", "failed", started, error=f"{type(e).__name__}: {e}")
            return None
        self.states.record("incremental", "skipped" if result.skipped else "ok", started,
                           detail={**result.summary(), "ingest_id": report.ingest_id})
        return result

    # -- attribution -----------------------------------------------------------------------------
    def _attribute(self, wait: bool) -> AttributionOutcome:
        """Attempts until complete, given up, or (when not waiting) the next retry is scheduled."""
        t0 = time.perf_counter()
        deadline = time.monotonic() + self.config.lock_wait_s
        attempts = 0
        while True:
            attempts += 1
            outcome = self._attribution_attempt()
            outcome.attempts = attempts
            outcome.seconds = time.perf_counter() - t0
            delay = self._after_attempt(outcome)
            if delay is None:
                return outcome
            if not wait or (outcome.status == "busy" and time.monotonic() + delay > deadline):
                self._pending_at = time.monotonic() + delay
                return outcome
            if self._stop.wait(delay):
                outcome.status = "stopped"
                return outcome

    def _after_attempt(self, outcome: AttributionOutcome) -> float | None:
        """Book-keeping after one attempt; the delay before the next, or None when done."""
        started = utcnow() - timedelta(seconds=outcome.seconds)
        if outcome.status == "complete":
            self._pending_at, self._failures, self._busy = None, 0, 0
            self.states.record("attribution", "ok", started, next_run_at=self._next_cron,
                               detail={"run_id": outcome.run_id, "counts": outcome.counts})
            return None
        if outcome.status == "busy":
            self._busy += 1
            delay = self.backoff.delay(self._busy)
            self.states.record("attribution", "busy", started, error=outcome.error,
                               next_run_at=utcnow() + timedelta(seconds=delay))
            return delay
        if outcome.status == "failed":
            self._failures += 1
            if self._failures >= self.config.retry_attempts:
                self._pending_at, self._failures = None, 0
                self.states.record("attribution", "failed", started, error=outcome.error, next_run_at=self._next_cron,
                                   detail={"run_id": outcome.run_id, "gave_up": True})
                return None
            delay = self.backoff.delay(self._failures)
            self.states.record("attribution", "failed", started, error=outcome.error,
                               next_run_at=utcnow() + timedelta(seconds=delay),
                               detail={"run_id": outcome.run_id, "retrying": True})
            return delay
        self._pending_at = None  # stopped
        return None

    def _attribution_attempt(self) -> AttributionOutcome:
        """One full run; the pipeline takes the attribution lease (busy: another holder has it)."""
        if self._stop.is_set():
            return AttributionOutcome("stopped")
        run_id = new_run_id()
        self.states.record("attribution", "running", utcnow(), detail={"run_id": run_id})
        try:
            with self._step(f"attribution {run_id}"):
                result = run_attribution(self.db, self.params, run_id=run_id)
        except StepAbandoned:
            self.states.record("attribution", "abandoned", utcnow(), error="abandoned at shutdown; the previous run stays current",
                               detail={"run_id": run_id})
            raise
        except LeaseBusy as e:
            return AttributionOutcome("busy", error=str(e))
        except AttributionError as e:
            return AttributionOutcome("failed", run_id, error=str(e))
        except Exception as e:  # noqa: BLE001 - retried with backoff
            return AttributionOutcome("failed", run_id, error=f"{type(e).__name__}: {e}")
        _event("attribution_complete", run_id=run_id, counts=result.counts, timings=result.timings_s)
        return AttributionOutcome("complete", run_id, counts=dict(result.counts))

    # -- retries and shutdown --------------------------------------------------------------------
    def _retrying(self, job: str, step: Any) -> Any:
        def on_failure(n: int, e: BaseException, wait: float) -> None:
            _event("step_retry", job=job, attempt=n, error=f"{type(e).__name__}: {e}", wait_s=round(wait, 2))

        return retry(step, self.config.retry_attempts, self.backoff, self._stop, on_failure)

    @contextmanager
    def _step(self, doing: str) -> Iterator[None]:
        self._in_step, self._doing = True, doing
        try:
            yield
        finally:
            self._in_step, self._doing = False, "idle"

    def _describe(self) -> dict[str, Any]:
        return {"holder": self.holder, "state": self._doing, "last_tick_error": self._last_tick_error}

    @contextmanager
    def _signal_handlers(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # signals reach the main thread only; tests stop a threaded scheduler with stop()
            return
        self._main_ident = threading.get_ident()
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            if self._grace_timer is not None:
                self._grace_timer.cancel()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self._abandon_requested and self._in_step and not self._abandon_raised:
            self._abandon_raised = True
            raise StepAbandoned(f"signal {signal.Signals(signum).name}: the step did not finish within "
                                f"{self.config.shutdown_grace_s:g}s")
        if self._stop.is_set():  # a second signal: do not wait any longer
            self._request_abandon()
            return
        _event("scheduler_stopping", signal=signal.Signals(signum).name, in_step=self._in_step,
               grace_s=self.config.shutdown_grace_s)
        self._stop.set()
        if self._in_step:
            self._grace_timer = threading.Timer(self.config.shutdown_grace_s, self._request_abandon)
            self._grace_timer.daemon = True
            self._grace_timer.start()

    def _request_abandon(self) -> None:
        """Interrupt the step on the main thread (a real signal, so blocking calls wake up)."""
        self._abandon_requested = True
        if self._in_step and self._main_ident is not None and not self._abandon_raised:
            signal.pthread_kill(self._main_ident, signal.SIGTERM)


def _failed_tables_reason(report: IngestReport) -> str:
    return "tables failed: " + "; ".join(f"{t.table}: {t.error}" for t in report.tables.values() if t.error)


def _event(name: str, **fields: Any) -> None:
    log.info(json.dumps({"event": name, **fields}, default=str))


# -- the command ---------------------------------------------------------------------------------
def main(settings: Settings) -> int:
    """``sybilgraph scheduler``: run until SIGTERM/SIGINT; 0 after a clean stop."""
    db = _connect_patiently(settings)
    scheduler = Scheduler(settings, db=db)
    try:
        scheduler.run_forever()
    finally:
        scheduler.close()
        db.close()
    return 0


def _connect_patiently(settings: Settings) -> Database:
    """Neo4j may start after the scheduler (compose): wait up to ``connect_timeout_s``."""
    deadline = time.monotonic() + settings.jobs.connect_timeout_s
    backoff = Backoff(1.0, 15.0)
    tried_launcher = False
    failures = 0
    while True:
        try:
            return connect(settings)
        except DatabaseUnavailable:
            if settings.uses_local_launcher and not tried_launcher:
                from sybilgraph.db.launcher import LocalNeo4j

                tried_launcher = True
                LocalNeo4j(settings).start()
                continue
            failures += 1
            if time.monotonic() >= deadline:
                raise
            wait = backoff.delay(failures)
            _event("waiting_for_neo4j", uri=settings.bolt_uri, retry_in_s=round(wait, 1))
            time.sleep(wait)
