"""The ``[api]`` settings section and what reads it: roles, the key table, the production check.

Settings of the GraphQL API: who may call it, how much one request may cost, and masking. From
the environment (``SYBILGRAPH_API__KEYS`` or ``SYBILGRAPH_API_KEYS``: a JSON object
``{"<key>": {"user": "alice", "role": "admin"}}``), from ``[api]`` in the TOML file, and, when
``keys_file`` names one, from a JSON or TOML file of the same shape. A key may be written as
``sha256:<hex digest of the key>`` so that files never hold a usable key.

Production mode refuses to start with no keys, with a demo key, or without a masking key:
a server that anyone can call, or whose viewer masks anyone can reverse, is worse than none.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import re
import tomllib
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from sybilgraph.errors import ConfigError
from sybilgraph.settings.base import Section, json_value

__all__ = [
    "DEMO_KEYS",
    "MAX_PAGE_SIZE",
    "ApiSection",
    "KeySpec",
    "RateLimit",
    "Role",
    "check_production",
    "hash_key",
    "load_key_table",
]

log = logging.getLogger("sybilgraph.api")

# Relay page size limit: `first` above this is rejected (not silently clamped).
MAX_PAGE_SIZE = 100

# Keys that ship in docs and in development defaults; never accepted in production.
DEMO_KEYS: dict[str, dict[str, str]] = {
    "demo-viewer-key": {"user": "demo-viewer", "role": "viewer"},
    "demo-analyst-key": {"user": "demo-analyst", "role": "analyst"},
    "demo-admin-key": {"user": "demo-admin", "role": "admin"},
}
_WEAK_KEY = re.compile(r"(?i)(demo|changeme|change-me|example|default|password|secret|test)")
MIN_PRODUCTION_KEY_LENGTH = 24
# The development masking key: masks made with it can be reversed by anyone who reads this file.
DEV_MASK_KEY = "sybilgraph-development-mask-key"
# The development audit key: chains keyed with it prove nothing to anyone who reads this file.
DEV_AUDIT_KEY = "sybilgraph-development-audit-key"


class Role(str, Enum):
    """Roles, in increasing order of what they may see and do."""

    VIEWER = "viewer"
    ANALYST = "analyst"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


_RANK = {Role.VIEWER: 0, Role.ANALYST: 1, Role.ADMIN: 2}


class KeySpec(BaseModel):
    """Who a key belongs to and the role it grants."""

    user: str = Field(min_length=1, max_length=128)
    role: Role


def hash_key(key: str) -> str:
    """The stored form of a key: its SHA-256, hex."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class RateLimit(BaseModel):
    """A token bucket: ``per_second`` sustained, up to ``burst`` at once."""

    per_second: float = Field(gt=0)
    burst: float = Field(ge=1)


def _per_role(viewer: Any, analyst: Any, admin: Any) -> Any:
    return lambda: {"viewer": viewer, "analyst": analyst, "admin": admin}


class ApiSection(Section):
    """``[api]``: who may call the GraphQL API, how much one request may cost, masking, caching, audit.

    API keys are a JSON object ``{"<key>": {"user": "alice", "role": "admin"}}`` (or a JSON/TOML
    file of that shape named by ``keys_file``); a key may be written ``sha256:<hex digest>`` so
    files never hold a usable key.
    """

    # Production (the default): no demo keys, GraphiQL, introspection or suggestions; refuse to
    # start without strong keys, a masking key and an audit key. Development is asked for (--dev).
    production: bool = True
    # Whether an app built by the factory (``app_from_environment``) may start attribution runs.
    run_attribution: bool = False
    # Authentication: key -> {user, role}.
    keys: Annotated[dict[SecretStr, KeySpec], NoDecode] = Field(default_factory=dict)
    keys_file: Path | None = None
    # HMAC key for the short hashes viewers see instead of devices, TLS fingerprints, templates.
    mask_key: SecretStr | None = None
    # The client's address for the audit log and the limits of strangers: X-Forwarded-For is
    # read from the right, through these proxy addresses or networks (CIDR) ...
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # ... or, with no list, through this many proxies in front of the server (0: the TCP peer).
    trusted_proxy_count: int = Field(default=0, ge=0, le=10)

    # Requests per key (token bucket per role); without a valid key, per client address.
    rate_limits: dict[str, RateLimit] = Field(default_factory=_per_role(
        RateLimit(per_second=10, burst=40), RateLimit(per_second=30, burst=100), RateLimit(per_second=60, burst=200)))
    unauthenticated_rate_limit: RateLimit = Field(default_factory=lambda: RateLimit(per_second=2, burst=10))
    # Identifier lookups (`accounts(identifier|handle)`, each alias one) per key, per role.
    lookup_rate_limits: dict[str, RateLimit] = Field(default_factory=_per_role(
        RateLimit(per_second=0.5, burst=20), RateLimit(per_second=5, burst=100), RateLimit(per_second=10, burst=200)))
    # Static cost budget of one operation per role (cost.py: fields returned, page sizes multiplied).
    cost_budgets: dict[str, int] = Field(default_factory=_per_role(50_000, 100_000, 200_000))

    # Response cache (cache.py): bytes per worker process (0 turns it off), the longest any answer
    # is kept, and how often the data version is read from Neo4j.
    cache_max_bytes: int = Field(default=256 * 1024 * 1024, ge=0)
    cache_max_age_s: float = Field(default=300.0, gt=0)
    cache_check_interval_s: float = Field(default=0.5, ge=0)
    # Send X-Sybilgraph-Cache: hit|miss|coalesced (benchmarks; off by default: it says what others asked).
    cache_status_header: bool = False
    # Trusted documents (documents.py): a JSON manifest {"sha256:<hex>": "<document>"} or a
    # directory of .graphql files; with trusted_documents_only, nothing else is served.
    trusted_documents: Path | None = None
    trusted_documents_only: bool = False

    # Cost limits of one request.
    max_depth: int = Field(default=12, ge=2, le=50)
    max_aliases: int = Field(default=20, ge=0, le=500)
    max_tokens: int = Field(default=2_000, ge=50, le=100_000)
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    query_timeout_s: float = Field(default=10.0, gt=0)

    # The async Neo4j driver: fail fast while Neo4j is away, recover when it returns.
    neo4j_connection_timeout_s: float = Field(default=3.0, gt=0)
    neo4j_acquisition_timeout_s: float = Field(default=5.0, gt=0)
    neo4j_retry_time_s: float = Field(default=1.0, ge=0)
    neo4j_pool_size: int = Field(default=50, ge=1)

    # `connection(a, b)`: identifiers used by more accounts than this are hubs, not evidence.
    connection_max_identifier_accounts: int = Field(default=1_000, ge=2)

    # Audit log: where (default: <home>/audit/audit.jsonl), whether each record is fsynced, the
    # HMAC key of its hash chain (required in production), and how often its head is
    # checkpointed into Neo4j.
    audit_path: Path | None = None
    audit_fsync: bool = False
    audit_key: SecretStr | None = None
    audit_checkpoint_interval_s: float = Field(default=1.0, gt=0)

    @field_validator("rate_limits", "lookup_rate_limits", "cost_budgets")
    @classmethod
    def _every_role(cls, v: dict[str, Any]) -> dict[str, Any]:
        missing = {r.value for r in Role} - set(v)
        if missing:
            raise ValueError(f"needs a value for every role (missing: {', '.join(sorted(missing))})")
        return v

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, v: list[str]) -> list[str]:
        for entry in v:
            try:
                ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError:
                raise ValueError(f"trusted proxy {entry!r} is not an IP address or CIDR network") from None
        return v

    def audit_secret(self, production: bool) -> bytes:
        if self.audit_key is not None:
            return self.audit_key.get_secret_value().encode("utf-8")
        if production:  # check_production refuses this first; this is a second guard.
            raise ConfigError("refusing to start in production: SYBILGRAPH_API_AUDIT_KEY is not set")
        return DEV_AUDIT_KEY.encode("utf-8")

    @field_validator("keys", mode="before")
    @classmethod
    def _keys_json(cls, v: Any) -> Any:
        if isinstance(v, str):
            try:
                return json.loads(v) if v.strip() else {}
            except json.JSONDecodeError as e:
                raise ValueError(f"SYBILGRAPH_API_KEYS is not a JSON object: {e.msg}") from None
        return v

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies_list(cls, v: Any) -> Any:
        if isinstance(v, str) and not v.strip().startswith("["):
            return [p.strip() for p in v.split(",") if p.strip()]
        return json_value(v, "trusted_proxies", list)

    def audit_file(self, home: Path) -> Path:
        return self.audit_path or home / "audit" / "audit.jsonl"

    def mask_secret(self, production: bool) -> bytes:
        if self.mask_key is not None:
            return self.mask_key.get_secret_value().encode("utf-8")
        if production:  # check_production refuses this first; this is a second guard.
            raise ConfigError("refusing to start in production: SYBILGRAPH_API_MASK_KEY is not set")
        return DEV_MASK_KEY.encode("utf-8")


def _read_keys_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"API keys file {path} does not exist")
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"API keys file {path} cannot be parsed: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"API keys file {path} must hold an object of key -> {{user, role}}")
    return data


def load_key_table(api: ApiSection, production: bool) -> dict[str, KeySpec]:
    """SHA-256 of each key -> who holds it. Development without keys gets the demo keys."""
    raw: dict[str, Any] = {k.get_secret_value(): v.model_dump() for k, v in api.keys.items()}
    if api.keys_file is not None:
        raw.update(_read_keys_file(api.keys_file))
    if not raw and not production:
        log.warning("no API keys configured: the demo keys are active (development mode only)")
        raw = {k: dict(v) for k, v in DEMO_KEYS.items()}
    table: dict[str, KeySpec] = {}
    for key, spec in raw.items():
        try:
            parsed = KeySpec.model_validate(spec)
        except ValueError as e:
            raise ConfigError(f"API key for {spec!r} is invalid: {e}") from None
        digest = key[len("sha256:"):].lower() if key.startswith("sha256:") else hash_key(key)
        if not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise ConfigError("an API key written as 'sha256:...' must carry 64 hex digits")
        table[digest] = parsed
    return table


def check_production(api: ApiSection, table: dict[str, KeySpec]) -> None:
    """Refuse to serve in production with no keys, a demo or weak key, or no masking key."""
    raw_keys = [k.get_secret_value() for k in api.keys]
    if api.keys_file is not None:
        raw_keys += list(_read_keys_file(api.keys_file))
    if not table:
        raise ConfigError(
            "refusing to start in production: no API keys configured "
            "(set SYBILGRAPH_API_KEYS or SYBILGRAPH_API_KEYS_FILE)"
        )
    demo_digests = {hash_key(k) for k in DEMO_KEYS}
    for key in raw_keys:
        if key.startswith("sha256:"):
            if key[len("sha256:"):].lower() in demo_digests:
                raise ConfigError("refusing to start in production: a demo API key is configured")
            continue
        if hash_key(key) in demo_digests or _WEAK_KEY.search(key) or len(key) < MIN_PRODUCTION_KEY_LENGTH:
            raise ConfigError(
                "refusing to start in production: a default, demo or weak API key is configured "
                f"(keys need at least {MIN_PRODUCTION_KEY_LENGTH} random characters)"
            )
    for name, value, dev in (("MASK_KEY", api.mask_key, DEV_MASK_KEY), ("AUDIT_KEY", api.audit_key, DEV_AUDIT_KEY)):
        secret = value.get_secret_value() if value is not None else ""
        if not secret or secret == dev or len(secret) < 16:
            raise ConfigError(
                f"refusing to start in production: SYBILGRAPH_API_{name} must be set to at least 16 random characters"
            )
