"""``sybilgraph report operator ID``: write one operator's case file, masked for a role, and audit it.

The command line reads the database directly (it is the operator of the installation), yet a
case file leaves the building: it is masked with the API's masking for the role asked for
(analyst by default), and its making is appended to the API's audit log like a query, naming the
operator and its member accounts.
"""

from __future__ import annotations

import getpass
import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sybilgraph.errors import ConfigError
from sybilgraph.report.gather import CaseOptions, Mask, Reader, gather_case
from sybilgraph.report.model import CaseFile
from sybilgraph.report.render import render_html, render_pdf

if TYPE_CHECKING:
    from sybilgraph.settings import Settings
    from sybilgraph.settings.api import ApiSection

__all__ = ["CaseKeys", "audit_record", "build_case", "report_command", "save_case", "write_audited_case"]

Format = Literal["html", "pdf"]
MAX_AUDITED_IDS = 1_000  # as the API's records (api/gateway.py); the audit log bounds the rest


@dataclass(frozen=True)
class CaseKeys:
    """The API's masking and audit keys, as the command line uses them: a case file is masked and
    its audit record chained exactly as the API would, so ``sybilgraph audit verify`` checks both."""

    mask: bytes
    audit: bytes
    warnings: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, api: ApiSection) -> CaseKeys:
        missing = [name for name, key in (("SYBILGRAPH_API_MASK_KEY", api.mask_key), ("SYBILGRAPH_API_AUDIT_KEY", api.audit_key))
                   if key is None]
        if missing and api.production:
            raise ConfigError(
                f"a case file is masked and audited with the API's keys: set {' and '.join(missing)} "
                "(or SYBILGRAPH_API_PRODUCTION=false to use the development keys on test data)"
            )
        warnings = tuple(f"{name} is not set: the development key is used, which anyone with the source can use "
                         "(to reverse masks, or to rewrite the audit chain)" for name in missing)
        return cls(api.mask_secret(production=False), api.audit_secret(production=False), warnings)


def report_command(operator_id: str, out: Path, fmt: Format, role: str) -> str:
    return shlex.join(["sybilgraph", "report", "operator", operator_id, "--out", str(out), "--format", fmt, "--role", role])


def build_case(read: Reader, operator_id: str, role: str, mask: Mask, interaction_files: list[str],
               command: str, members_shown: int = 2_000) -> tuple[CaseFile, str]:
    """The case and its HTML page (nothing written yet: the caller audits first)."""
    options = CaseOptions(role=role, report_command=command, members_shown=members_shown)
    case = gather_case(read, operator_id, mask, options, interaction_files)
    return case, render_html(case)


def write_audited_case(read: Reader, settings: Settings, keys: CaseKeys, operator_id: str, role: str, command: str,
                       members_shown: int = 2_000) -> tuple[CaseFile, str]:
    """The command line's case file: built, masked for ``role``, and audited in the API's log
    before the caller writes it anywhere (no case file leaves unrecorded)."""
    from sybilgraph.api.audit import AuditLog
    from sybilgraph.api.masking import Masker
    from sybilgraph.ingest.columnar import ColumnarStore
    from sybilgraph.settings.api import Role

    try:
        who = Role(role)
    except ValueError:
        raise ConfigError(f"--role must be viewer, analyst or admin, not {role!r}") from None
    masker = Masker(keys.mask)

    def mask(kind: str, value: str, bin: str | None, last4: str | None) -> str:
        return masker.mask(kind, value, who, bin=bin, last4=last4) or ""

    started = time.perf_counter()
    files = ColumnarStore(settings.columnar_dir).table_files("interactions")
    case, html = build_case(read, operator_id, who.value, mask, files, command, members_shown)
    audit = AuditLog(settings.api.audit_file(settings.home), keys.audit, fsync=settings.api.audit_fsync)
    try:
        audit.append(audit_record(case, operator_id, user=getpass.getuser(), role=who.value, origin="cli",
                                  operation="sybilgraph report operator", started=started))
    finally:
        audit.close()
    return case, html


def save_case(html: str, out: Path, fmt: Format) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "pdf":
        render_pdf(html, out)
        return
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)


def audit_record(case: CaseFile, operator_id: str, *, user: str, role: str, origin: str, operation: str,
                 started: float) -> dict[str, Any]:
    """An audit record of the shape the API writes for its operations (api/gateway.py), naming the
    operator and its member accounts."""
    from sybilgraph.api.audit import utc_now

    accounts = sorted(m.account_id for m in case.members)
    record: dict[str, Any] = {
        "event": "operation",
        "ts": utc_now(),
        "request_id": None,
        "user": user,
        "role": role,
        "key_id": None,
        "origin": origin,
        "operation": operation,
        "operation_type": "report",
        "fields": [],
        "query_sha256": None,
        "trusted": None,
        "variables": {"id": operator_id},
        "accounts": accounts[:MAX_AUDITED_IDS],
        "operators": [operator_id],
        "outcome": "allowed",
        "errors": [],
        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
        "db_statements": 0,
    }
    if len(accounts) > MAX_AUDITED_IDS:
        record["truncated"] = {"accounts": len(accounts), "operators": 1}
    return record
