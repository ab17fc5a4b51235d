"""What one request carries through the resolvers: who asks, from where, its loaders and budget.

``AppState`` is built once by ``create_app`` (driver, masker, audit log, key table, attribution
runner); ``ApiContext`` once per HTTP request, so nothing a request caches can reach another.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from strawberry.fastapi import BaseContext

from sybilgraph.api.audit import AuditLog
from sybilgraph.api.auth import Authenticator, Principal
from sybilgraph.settings.api import ApiSection, Role
from sybilgraph.api.db import AsyncDatabase, RequestDb
from sybilgraph.api.loaders import Loaders, Touched
from sybilgraph.api.masking import Masker
from sybilgraph.settings import Settings

if TYPE_CHECKING:
    from sybilgraph.api.runner import AttributionRunner

__all__ = ["ApiContext", "AppState"]


@dataclass
class AppState:
    settings: Settings
    api: ApiSection
    production: bool
    db: AsyncDatabase
    masker: Masker
    audit: AuditLog
    authenticator: Authenticator
    runner: AttributionRunner
    extra: dict[str, Any] = field(default_factory=dict)

    async def close(self) -> None:
        await self.runner.close()
        await self.db.close()
        self.audit.close()


class ApiContext(BaseContext):
    def __init__(self, state: AppState, principal: Principal | None, auth_failure: str | None, origin: str) -> None:
        super().__init__()
        self.state = state
        self.principal = principal
        self.auth_failure = auth_failure
        self.origin = origin
        self.request_id = secrets.token_hex(8)
        self.db = RequestDb(state.db)
        self.touched = Touched.empty()
        self.loaders = Loaders(self.db, state.settings.columnar_dir, self.touched)

    @property
    def role(self) -> Role:
        # Resolvers only run for an authenticated principal (the audit extension refuses others);
        # the strictest role is the fallback should one ever run without.
        return self.principal.role if self.principal else Role.VIEWER

    def mask(self, kind: str, value: str | None, *, bin: str | None = None, last4: str | None = None) -> str | None:
        return self.state.masker.mask(kind, value, self.role, bin=bin, last4=last4)
