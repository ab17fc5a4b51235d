"""Who is calling: an API key in ``X-API-Key`` or as ``Authorization: Bearer <key>``.

Both headers carry the same kind of credential (a key from the configured key table), so
scripts and browser tools can use whichever they support. Keys are looked up by their SHA-256,
so the process never needs the plaintext of a key written as ``sha256:...``. Authentication
does not fail the HTTP request: it yields a principal or the reason there is none, and the
GraphQL layer refuses the operation *and audits it*, which a 401 raised here could not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sybilgraph.settings.api import KeySpec, Role, hash_key

__all__ = ["Authenticator", "Principal"]


@dataclass(frozen=True)
class Principal:
    user: str
    role: Role
    key_id: str  # first 8 hex digits of the key's SHA-256: names the key in the audit log


class Authenticator:
    def __init__(self, table: dict[str, KeySpec]) -> None:
        self._table = dict(table)

    def __len__(self) -> int:
        return len(self._table)

    def authenticate(self, headers: Mapping[str, str]) -> tuple[Principal | None, str | None]:
        """(principal, None) or (None, why not), from the request's (lower-cased) headers."""
        key = headers.get("x-api-key")
        if not key:
            auth = headers.get("authorization", "")
            scheme, _, credential = auth.partition(" ")
            if scheme.lower() == "bearer" and credential.strip():
                key = credential.strip()
        if not key:
            return None, "missing"
        digest = hash_key(key)
        spec = self._table.get(digest)
        if spec is None:
            return None, "invalid"
        return Principal(user=spec.user, role=spec.role, key_id=digest[:8]), None
