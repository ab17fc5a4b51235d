"""Scheduler parts that need no database: cron, backoff, retries, inbox readiness, placement."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from pydantic import ValidationError

from sybilgraph.attribution.params import AttributionParams
from sybilgraph.errors import BundleError, DatabaseUnavailable
from sybilgraph.jobs.inbox import Inbox
from sybilgraph.jobs.retry import Backoff, Stopped, is_infrastructure, retry
from sybilgraph.settings import JobsSection, Settings
from sybilgraph.settings.jobs import cron_trigger, next_cron_time, standard_weekdays


# -- config --------------------------------------------------------------------------------------
def test_cron_five_and_six_fields() -> None:
    start = datetime(2026, 5, 1, 10, 17, 3, tzinfo=UTC)
    assert next_cron_time(cron_trigger("0 * * * *"), start) == datetime(2026, 5, 1, 11, 0, tzinfo=UTC)
    assert next_cron_time(cron_trigger("*/10 * * * * *"), start) == datetime(2026, 5, 1, 10, 17, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("field", "days"),
    [("0", "sun"), ("7", "sun"), ("1-5", "mon,tue,wed,thu,fri"), ("mon-fri", "mon,tue,wed,thu,fri"),
     ("5-7", "sun,fri,sat"), ("*/2", "sun,tue,thu,sat"), ("0,3", "sun,wed"), ("*", "*")],
)
def test_weekdays_mean_what_crontab_means(field: str, days: str) -> None:
    assert standard_weekdays(field) == days


def test_sunday_is_sunday() -> None:
    wednesday = datetime(2026, 5, 6, 12, 0, tzinfo=UTC)
    assert next_cron_time(cron_trigger("0 0 * * 0"), wednesday).strftime("%a") == "Sun"
    assert next_cron_time(cron_trigger("0 0 * * 1-5"), wednesday).strftime("%a %d") == "Thu 07"


@pytest.mark.parametrize("expr", ["every hour", "61 * * * *", "* * *", "0 0 * * 8", "0 0 * * 5-2"])
def test_bad_cron_is_refused(expr: str) -> None:
    with pytest.raises(ValidationError, match="cron"):
        JobsSection(attribution_cron=expr)


def test_config_from_environment_and_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SYBILGRAPH_JOBS_ATTRIBUTION_CRON", "30 2 * * *")
    monkeypatch.setenv("SYBILGRAPH_JOBS_SETTLE_S", "5")
    cfg = Settings(home=tmp_path).jobs
    assert cfg.attribution_cron == "30 2 * * *" and cfg.settle_s == 5
    assert cfg.inbox_dir(tmp_path) == tmp_path / "inbox"
    assert cfg.done_path(tmp_path) == tmp_path / "inbox" / "done"


def test_stale_must_outlast_missed_beats() -> None:
    with pytest.raises(ValidationError, match="twice lease_heartbeat_s"):
        Settings(lease_heartbeat_s=10, lease_ttl_s=15)


# -- backoff and retry ---------------------------------------------------------------------------
def test_backoff_doubles_and_caps() -> None:
    b = Backoff(base_s=1.0, max_s=10.0, jitter=0.0)
    assert [b.delay(n) for n in range(6)] == [0.0, 1.0, 2.0, 4.0, 8.0, 10.0]


def test_retry_retries_then_succeeds() -> None:
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise DatabaseUnavailable("down")
        return "ok"

    assert retry(flaky, 5, Backoff(0.01, 0.02), threading.Event()) == "ok"
    assert len(calls) == 3


def test_retry_does_not_retry_a_bad_bundle() -> None:
    calls: list[int] = []

    def bad() -> None:
        calls.append(1)
        raise BundleError("no accounts table")

    with pytest.raises(BundleError):
        retry(bad, 5, Backoff(0.01, 0.02), threading.Event())
    assert len(calls) == 1


def test_retry_gives_up_and_stop_interrupts() -> None:
    with pytest.raises(RuntimeError):
        retry(lambda: (_ for _ in ()).throw(RuntimeError("x")), 2, Backoff(0.01, 0.01), threading.Event())
    stop = threading.Event()
    stop.set()
    with pytest.raises(Stopped):
        retry(lambda: (_ for _ in ()).throw(RuntimeError("x")), 5, Backoff(10, 10), stop)


def test_infrastructure_errors_are_told_apart() -> None:
    assert is_infrastructure(DatabaseUnavailable("x"))
    wrapped = RuntimeError("wrapper")
    wrapped.__cause__ = ConnectionError("reset")
    assert is_infrastructure(wrapped)
    assert not is_infrastructure(ValueError("bad row"))


# -- inbox readiness -----------------------------------------------------------------------------
def _inbox(tmp_path: Path, settle_s: float = 30.0) -> Inbox:
    inbox = Inbox(tmp_path / "inbox", tmp_path / "inbox" / "done", tmp_path / "inbox" / "failed", "READY", settle_s)
    inbox.ensure()
    return inbox


def _arriving(inbox: Inbox, name: str = "b1", table: str = "accounts.csv", text: str = "account_id,created_at\n") -> Path:
    """A bundle directory in the inbox with one table file."""
    bundle = inbox.root / name
    bundle.mkdir()
    (bundle / table).write_text(text)
    return bundle / table


def test_marker_makes_a_bundle_ready_at_once(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path)
    b = _arriving(inbox).parent
    assert inbox.ready_bundles() == []
    (b / "READY").touch()
    assert [r.name for r in inbox.ready_bundles()] == ["b1"]


def test_unchanged_bundle_becomes_ready_after_settling(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path, settle_s=30)
    _arriving(inbox)
    now = time.time()
    assert inbox.ready_bundles(now=now) == []
    assert [r.name for r in inbox.ready_bundles(now=now + 31)] == ["b1"]


def test_copy_keeping_old_mtimes_is_not_ready_at_once(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path, settle_s=30)
    f = _arriving(inbox)
    old = time.time() - 3600
    os.utime(f, (old, old))
    os.utime(f.parent, (old, old))  # as cp -p would: ctime still says "just now"
    assert inbox.ready_bundles() == []


def test_settling_needs_two_equal_looks(tmp_path: Path) -> None:
    """Old times alone are not enough: a file that grew between two looks is still arriving."""
    inbox = _inbox(tmp_path, settle_s=30)
    part = _arriving(inbox, table="interactions.csv", text="account_id,ts,ip\n")
    t = time.time()
    assert inbox.ready_bundles(now=t + 100) == []  # first look
    with open(part, "a") as f:  # the copy goes on (a slow link, a pause)
        f.write("a1,2026-04-01T00:00:00Z,10.0.0.1\n")
    assert inbox.ready_bundles(now=t + 200) == []  # changed since the first look: look again
    assert [r.name for r in inbox.ready_bundles(now=t + 229)] == []  # unchanged, but not for settle_s yet
    assert [r.name for r in inbox.ready_bundles(now=t + 231)] == ["b1"]


def test_a_bad_entry_does_not_hide_the_others(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path, settle_s=0)
    os.symlink("a-loop", inbox.root / "a-loop")  # points at itself
    b = inbox.root / "b1"
    b.mkdir()
    (b / "READY").touch()
    scan = inbox.scan()
    assert [r.name for r in scan.ready] == ["b1"]
    assert [(e.name, "symbolic link loop (ELOOP)" in e.reason) for e in scan.bad] == [("a-loop", True)]


def test_hidden_empty_and_outcome_dirs_are_not_bundles(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path, settle_s=0)
    (inbox.root / ".partial").mkdir()
    (inbox.root / ".partial" / "READY").touch()
    (inbox.root / "empty").mkdir()
    (inbox.root / "loose.csv").write_text("x")
    (inbox.done / "READY").touch()
    assert inbox.ready_bundles(now=time.time() + 60) == []


def test_moves_keep_both_bundles_of_one_name(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path)
    paths = []
    for _ in range(2):
        b = inbox.root / "same"
        b.mkdir()
        (b / "READY").touch()
        paths.append(inbox.move_done(inbox.ready_bundles()[0], {"ok": True}))
    assert paths[0].name == "same" and paths[1].name.startswith("same.")
    assert (inbox.done / "same.report.json").is_file() and (inbox.done / f"{paths[1].name}.report.json").is_file()
