"""``sybilgraph runs``: attribution run history, job state and locks, as one rich table.

Why: an unattended scheduler must be inspectable from a terminal without Cypher: which run is
current, which failed and why, when the next run is due, who holds the leases, how many
provisional attributions await confirmation. Everything shown is read from Neo4j, so it is the
same from any host.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from rich.markup import escape
from rich.table import Table

from sybilgraph.db.session import Database

__all__ = ["attribution_runs_table", "job_states_table", "locks_table", "runs_table"]

STATUS_STYLE = {"complete": "green", "ok": "green", "running": "yellow", "busy": "yellow", "skipped": "dim",
                "deferred": "yellow", "failed": "red", "abandoned": "red"}
ERROR_CHARS = 80


def runs_table(db: Database, limit: int = 15) -> Table:
    """Attribution runs (newest first), then job states and leases, stacked in one table."""
    outer = Table.grid(padding=(1, 0))
    outer.add_column()
    outer.add_row(attribution_runs_table(db, limit))
    outer.add_row(job_states_table(db))
    outer.add_row(locks_table(db))
    return outer


def attribution_runs_table(db: Database, limit: int = 15) -> Table:
    t = Table(title=f"Attribution runs (newest {limit})", title_justify="left")
    for col, justify in (("run", "left"), ("status", "left"), ("current", "center"), ("started (UTC)", "left"),
                         ("duration", "right"), ("accounts", "right"), ("operators", "right"),
                         ("attributed", "right"), ("provisional", "right"), ("flagged", "right"), ("note", "left")):
        t.add_column(col, justify=justify)  # type: ignore[arg-type]
    rows = db.read("jobs/read_recent_runs", limit=limit)
    if not rows:
        t.caption = "no attribution run yet"
    for r in rows:
        counts = _json(r["counts_json"])
        t.add_row(
            r["run_id"],
            _styled(r["status"]),
            "✓" if r["current"] else "",
            _when(r["started_at"]),
            _duration(r["started_at"], r["finished_at"]),
            _count(counts.get("accounts")),
            _count(counts.get("operators")),
            _count(counts.get("attributed")),
            _count(r["provisional"]),
            _count(counts.get("flagged_operators")),
            _short(r["error"] or (r["progress"] if r["status"] == "running" else "")),
        )
    return t


def job_states_table(db: Database) -> Table:
    t = Table(title="Jobs", title_justify="left")
    for col in ("job", "last status", "last run (UTC)", "took", "next run (UTC)", "holder", "detail / error"):
        t.add_column(col)
    rows = db.read("jobs/read_job_states")
    if not rows:
        t.caption = "no scheduler has recorded a job yet (sybilgraph scheduler)"
    for r in rows:
        took = r["last_duration_s"]
        t.add_row(
            r["name"],
            _styled(r["last_status"]),
            _when(r["last_run_at"]),
            "" if took is None else f"{took:.1f}s",
            _when(r["next_run_at"]),
            escape(r["holder"] or ""),
            _short(r["last_error"] or _detail(r["last_detail_json"])),
        )
    return t


def locks_table(db: Database) -> Table:
    t = Table(title="Leases", title_justify="left")
    for col in ("lease", "holder", "token", "expires (UTC)", "renewed (UTC)", "taken over from"):
        t.add_column(col)
    rows = db.read("lease/read_leases")
    if not rows:
        t.caption = "no lease taken yet"
    for r in rows:
        held = r["holder"] is not None
        t.add_row(
            r["name"],
            escape(r["holder"]) if held else "[dim]free[/]",
            str(r["token"] or ""),
            _when(r["expires_at"]) if held else "",
            _when(r["renewed_at"]) if held else "",
            escape(r["taken_from"] or ""),
        )
    return t


def _json(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _detail(text: str | None) -> str:
    detail = _json(text)
    return ", ".join(f"{k}={v}" for k, v in detail.items() if v not in (None, [], {}))


def _when(epoch_ms: int | None) -> str:
    if epoch_ms is None:
        return ""
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _duration(start_ms: int | None, end_ms: int | None) -> str:
    if start_ms is None or end_ms is None:
        return ""
    return f"{(end_ms - start_ms) / 1000:.1f}s"


def _count(value: Any) -> str:
    return "" if value is None else f"{int(value):,}"


def _styled(status: str | None) -> str:
    if not status:
        return ""
    style = STATUS_STYLE.get(status)
    return f"[{style}]{status}[/]" if style else status


def _short(text: str | None) -> str:
    if not text:
        return ""
    return escape(text if len(text) <= ERROR_CHARS else text[: ERROR_CHARS - 1] + "…")
