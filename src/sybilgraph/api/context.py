"""What one request carries through the resolvers: who asks, from where, its loaders and deadline.

``AppState`` is built once by ``create_app`` (driver, masker, handles, audit log, key table,
caches, limits, attribution runner); ``ApiContext`` once per HTTP request, so nothing a request
caches can reach another. Mutations change the graph through ``ApiContext.audited_write``: the
audit log gets the intent before the transaction opens and the outcome before it commits, so
no change commits without its record, and a record that cannot be written rolls it back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sybilgraph.api.audit import AuditLog, bounded_text, utc_now
from sybilgraph.api.auth import Authenticator, Principal
from sybilgraph.api.cache import DataVersion, ResponseCache
from sybilgraph.settings.api import ApiSection, Role
from sybilgraph.api.db import AsyncDatabase, RequestDb, Row
from sybilgraph.api.documents import DocumentStore
from sybilgraph.api.errors import AuditUnavailable
from sybilgraph.api.handles import HandleCodec
from sybilgraph.api.loaders import Loaders, Touched
from sybilgraph.api.masking import Masker
from sybilgraph.api.origin import TrustedProxies
from sybilgraph.api.ratelimit import RateLimiter
from sybilgraph.settings import Settings

if TYPE_CHECKING:
    from sybilgraph.api.runner import AttributionRunner

__all__ = ["ApiContext", "AppState"]

log = logging.getLogger("sybilgraph.api")


@dataclass
class AppState:
    settings: Settings
    api: ApiSection
    production: bool
    db: AsyncDatabase
    masker: Masker
    handles: HandleCodec
    audit: AuditLog
    authenticator: Authenticator
    proxies: TrustedProxies
    limiter: RateLimiter
    documents: DocumentStore
    cache: ResponseCache
    version: DataVersion
    runner: AttributionRunner
    extra: dict[str, Any] = field(default_factory=dict)

    async def close(self) -> None:
        await self.runner.close()
        await self.db.close()
        self.audit.close()


class ApiContext:
    def __init__(self, state: AppState, principal: Principal, origin: str, request_id: str, deadline: float | None) -> None:
        self.state = state
        self.principal = principal
        self.origin = origin
        self.request_id = request_id
        self.db = RequestDb(state.db, deadline=deadline, request_id=request_id)
        self.touched = Touched.empty()
        self.lookups: list[dict[str, str]] = []  # identifiers looked up, as kind and keyed reference
        self.loaders = Loaders(self.db, state.settings, self.touched)

    @property
    def role(self) -> Role:
        return self.principal.role

    def mask(self, kind: str, value: str | None, *, bin: str | None = None, last4: str | None = None) -> str | None:
        return self.state.masker.mask(kind, value, self.role, bin=bin, last4=last4)

    def handle(self, kind: str, value: str) -> str:
        return self.state.handles.encode(kind, value)

    def note_lookup(self, kind: str, value: str) -> None:
        """An identifier lookup, for the audit log: its kind and keyed reference, never the value."""
        self.lookups.append({"kind": kind, "ref": self.state.masker.ref(kind, value)})

    # -- changes ----------------------------------------------------------------------------------
    def _event(self, event: str, mutation: str, details: dict[str, Any]) -> None:
        record = {
            "event": event, "ts": utc_now(), "request_id": self.request_id, "user": self.principal.user,
            "role": self.principal.role.value, "key_id": self.principal.key_id, "origin": self.origin,
            "mutation": bounded_text(mutation, 64), **details,
        }
        try:
            self.state.audit.append(record)
        except Exception as e:
            log.exception("audit %s record could not be written (request %s)", event, self.request_id)
            raise AuditUnavailable() from e

    async def audited_write(self, mutation: str, statement: str, details: dict[str, Any], **params: Any) -> list[Row]:
        """Run one write statement as an audited change.

        intent record -> statement (and the data version bump) in an open transaction -> outcome
        record -> commit. Rows that match nothing commit nothing. If a record cannot be written the
        transaction rolls back and the client gets AUDIT_UNAVAILABLE; if the commit fails after
        the outcome was recorded, a ``rolled_back`` record says so.
        """
        self._event("intent", mutation, details)
        async with self.db.transaction() as tx:
            rows = await tx.run(statement, **params)
            if not rows:
                self._event("outcome", mutation, {**details, "committed": False, "rows": 0})
                return rows
            version = (await tx.run("db/bump_data_version", reason=mutation))[0]["version"]
            self._event("outcome", mutation, {**details, "committed": True, "rows": len(rows), "data_version": version})
            try:
                await tx.commit()
            except BaseException:
                try:
                    self._event("rolled_back", mutation, details)
                except AuditUnavailable:
                    pass  # the commit's own failure is what the client needs to hear
                raise
        self.state.version.invalidate()
        return rows

    def audit_intent(self, mutation: str, details: dict[str, Any]) -> None:
        """An intent record for a change made elsewhere (an attribution run started in a thread)."""
        self._event("intent", mutation, details)
