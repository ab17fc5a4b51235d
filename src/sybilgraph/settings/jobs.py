"""The ``[jobs]`` settings section (the scheduler, docs/jobs.md) and its cron helpers.

From the environment (``SYBILGRAPH_JOBS__INBOX`` or ``SYBILGRAPH_JOBS_INBOX``) or ``[jobs]`` in
the TOML file. The scheduler's attribution runs read ``[attribution]`` like every other run.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from apscheduler.triggers.cron import CronTrigger
from pydantic import Field, field_validator, model_validator

from sybilgraph.settings.base import Section

__all__ = ["JobsSection", "cron_trigger", "next_cron_time", "standard_weekdays"]


class JobsSection(Section):
    """``[jobs]``: the scheduler (docs/jobs.md). Its attribution runs read ``[attribution]``."""

    # -- the inbox -------------------------------------------------------------------------------
    # Where bundles are dropped, one directory each. Default: <home>/inbox.
    inbox: Path | None = None
    # Where ingested bundles go (with <name>.report.json) and where refused ones go (with
    # <name>.reason.json). Default: <inbox>/done and <inbox>/failed.
    done_dir: Path | None = None
    failed_dir: Path | None = None
    # A bundle is ready when it holds this file, or when nothing in it changed for settle_s.
    ready_marker: str = Field(default="READY", min_length=1)
    settle_s: float = Field(default=60.0, ge=0)
    poll_interval_s: float = Field(default=5.0, gt=0)

    # -- attribution -----------------------------------------------------------------------------
    # Cron expression (UTC): 5 fields (minute hour day month weekday, crontab meanings: 0 and 7
    # are Sunday), or 6 with seconds first.
    attribution_cron: str = "0 * * * *"
    attribute_after_ingest: bool = True
    # Wait this long after the last ingest before the full run, so a burst of bundles gives one run.
    after_ingest_delay_s: float = Field(default=10.0, ge=0)
    # Run attribution as soon as the scheduler starts (catch up after downtime).
    attribute_on_start: bool = False

    # -- incremental attribution -----------------------------------------------------------------
    incremental: bool = True
    # Bundles with more new accounts than this wait for the full run (the work is a full read).
    incremental_max_accounts: int = Field(default=20_000, ge=1)

    # -- failures, locks, shutdown ---------------------------------------------------------------
    retry_attempts: int = Field(default=5, ge=1)
    retry_base_s: float = Field(default=2.0, gt=0)
    retry_max_s: float = Field(default=300.0, gt=0)
    # run_once: how long to wait for the attribution lease another holder has. (How long a
    # silent holder keeps a lease: lease_ttl_s and lease_heartbeat_s at the top level.)
    lock_wait_s: float = Field(default=900.0, ge=0)
    # On SIGTERM the current step may finish within this; after it, it is abandoned.
    shutdown_grace_s: float = Field(default=30.0, ge=0)
    # main(): how long to wait for Neo4j to answer at start (compose starts services together).
    connect_timeout_s: float = Field(default=300.0, ge=0)

    @field_validator("attribution_cron")
    @classmethod
    def _valid_cron(cls, v: str) -> str:
        cron_trigger(v)
        return v

    @field_validator("ready_marker")
    @classmethod
    def _plain_name(cls, v: str) -> str:
        if "/" in v or v in (".", ".."):
            raise ValueError("ready_marker must be a file name, not a path")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> JobsSection:
        if self.retry_max_s < self.retry_base_s:
            raise ValueError("retry_max_s must be at least retry_base_s")
        return self

    def inbox_dir(self, home: Path) -> Path:
        return self.inbox or home / "inbox"

    def done_path(self, home: Path) -> Path:
        return self.done_dir or self.inbox_dir(home) / "done"

    def failed_path(self, home: Path) -> Path:
        return self.failed_dir or self.inbox_dir(home) / "failed"


def cron_trigger(expression: str) -> CronTrigger:
    """A UTC cron trigger from 5 fields, or 6 with a leading seconds field.

    Weekdays mean what they mean in crontab (0 and 7 are Sunday); APScheduler 3 alone would
    read 0 as Monday, so the field is translated to day names first.
    """
    fields = expression.split()
    if len(fields) == 5:
        fields = ["0", *fields]
    if len(fields) != 6:
        raise ValueError(f"invalid cron expression {expression!r}: expected 5 fields (or 6 with seconds first)")
    second, minute, hour, day, month, dow = fields
    try:
        return CronTrigger(second=second, minute=minute, hour=hour, day=day, month=month,
                           day_of_week=standard_weekdays(dow), timezone=UTC)
    except ValueError as e:
        raise ValueError(f"invalid cron expression {expression!r}: {e}") from None


WEEKDAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def standard_weekdays(field: str) -> str:
    """A crontab weekday field (0-7 with 0 and 7 Sunday, names, ranges, steps, lists) as the
    explicit day names APScheduler reads unambiguously."""
    if field in ("*", "?"):
        return "*"
    days: set[int] = set()
    for part in field.lower().split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() else 0
        if base == "*":
            first, last = 0, 6
        else:
            lo, _, hi = base.partition("-")
            first = _weekday(lo)
            last = _weekday(hi) if hi else (6 if step_text else first)
            if hi and last == 0:
                last = 7  # "5-7", "fri-sun": through Sunday
        if (step_text and step < 1) or last < first:
            raise ValueError(f"bad weekday field {field!r}")
        days |= {d % 7 for d in range(first, last + 1, step or 1)}
    return ",".join(WEEKDAY_NAMES[d] for d in sorted(days))


def _weekday(token: str) -> int:
    if token.isdigit() and 0 <= int(token) <= 7:
        return int(token)
    if token[:3] in WEEKDAY_NAMES:
        return WEEKDAY_NAMES.index(token[:3])
    raise ValueError(f"bad weekday {token!r}")


def next_cron_time(trigger: CronTrigger, after: datetime) -> datetime:
    fire = trigger.get_next_fire_time(None, after)
    if fire is None:  # pragma: no cover - a cron expression always fires again
        raise ValueError("the cron expression never fires again")
    return fire
