"""``sybilgraph report operator ID``: write one operator's case file, masked for a role, and audit it.

The command line reads the database directly (it is the operator of the installation), yet a
case file leaves the building: it is masked with the API's masking for the role asked for
(analyst by default), and its making is appended to the API's audit log like a query, naming the
operator and its member accounts.
"""

from __future__ import annotations

import shlex
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from sybilgraph.report.gather import CaseOptions, Mask, Reader, gather_case
from sybilgraph.report.model import CaseFile
from sybilgraph.report.render import render_html, render_pdf

__all__ = ["audit_record", "build_case", "report_command", "save_case"]

Format = Literal["html", "pdf"]


def report_command(operator_id: str, out: Path, fmt: Format, role: str) -> str:
    return shlex.join(["sybilgraph", "report", "operator", operator_id, "--out", str(out), "--format", fmt, "--role", role])


def build_case(read: Reader, operator_id: str, role: str, mask: Mask, interaction_files: list[str],
               command: str, members_shown: int = 2_000) -> tuple[CaseFile, str]:
    """The case and its HTML page (nothing written yet: the caller audits first)."""
    options = CaseOptions(role=role, report_command=command, members_shown=members_shown)
    case = gather_case(read, operator_id, mask, options, interaction_files)
    return case, render_html(case)


def save_case(html: str, out: Path, fmt: Format) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "pdf":
        render_pdf(html, out)
        return
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)


def audit_record(case: CaseFile | None, operator_id: str, *, user: str | None, role: str, origin: str,
                 operation: str, outcome: str, errors: list[dict[str, Any]], started: float,
                 key_id: str | None = None, request_id: str | None = None) -> dict[str, Any]:
    """An audit record of the same shape the API writes for GraphQL operations (api/extensions.py)."""
    accounts = sorted(m.account_id for m in case.members) if case else []
    return {
        "v": 1,
        "ts": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "request_id": request_id,
        "user": user,
        "role": role,
        "key_id": key_id,
        "origin": origin,
        "operation": operation,
        "operation_type": "report",
        "fields": ["reports.operator"],
        "query_sha256": None,
        "variables": {"id": operator_id},
        "accounts": accounts[:1_000],
        "operators": [operator_id],
        "outcome": outcome,
        "errors": errors,
        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
        "db_statements": 0,
        **({"truncated": {"accounts": len(accounts), "operators": 1}} if len(accounts) > 1_000 else {}),
    }
