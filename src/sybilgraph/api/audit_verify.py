"""``sybilgraph audit verify``: the audit log's chain, keyed hashes and Neo4j checkpoint, checked.

The chain proves no record was edited, removed or reordered by anyone without the audit key;
the checkpoint the server keeps in Neo4j (``AuditCheckpoint``: the last sequence number and
hash it wrote) proves the file was not rewritten or cut short by anyone with it but without
write access to the database. Both are checked here, and the result is one report.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sybilgraph.api.audit import AuditHead, ChainReport, verify_chain
from sybilgraph.settings.api import ApiSection
from sybilgraph.settings import Settings

__all__ = ["AuditVerification", "read_checkpoint", "verify_audit_log"]

log = logging.getLogger("sybilgraph.api.audit")


@dataclass(frozen=True)
class AuditVerification:
    path: Path
    chain: ChainReport
    checkpoint: AuditHead | None
    checkpoint_error: str | None  # why the checkpoint could not be read (Neo4j away), if it could not

    @property
    def ok(self) -> bool:
        return self.chain.ok and self.checkpoint_error is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            **self.chain.as_dict(),
            "ok": self.ok,
            "checkpoint": {"seq": self.checkpoint.seq, "hash": self.checkpoint.hash} if self.checkpoint else None,
            "checkpoint_error": self.checkpoint_error,
        }


def read_checkpoint(settings: Settings, path: Path) -> AuditHead | None:
    """The head the server checkpointed for the log at ``path`` (None when it never wrote one)."""
    from sybilgraph.db.session import Database

    with Database(settings) as db:
        rows = db.read("api/read_audit_checkpoint", log=str(path.resolve()))
    return AuditHead(int(rows[0]["seq"]), str(rows[0]["hash"])) if rows else None


def verify_audit_log(
    settings: Settings,
    api: ApiSection,
    path: Path | None = None,
    *,
    expected_head: str | None = None,
    use_checkpoint: bool = True,
) -> AuditVerification:
    """Verify the log at ``path`` (default: the server's) with the configured audit key."""
    from sybilgraph.api.app import audit_path

    path = path or audit_path(settings, api)
    checkpoint, error = None, None
    if use_checkpoint:
        try:
            checkpoint = read_checkpoint(settings, path)
        except Exception as e:  # noqa: BLE001 - reported: an unverifiable checkpoint is not a pass
            error = f"the checkpoint in Neo4j could not be read: {e}"
    chain = verify_chain(path, api.audit_secret(api.production), checkpoint=checkpoint, expected_head=expected_head)
    return AuditVerification(path, chain, checkpoint, error)
