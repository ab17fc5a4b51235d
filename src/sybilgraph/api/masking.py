"""What each role sees of an identifier value: one policy table, applied in one place.

Investigations need to see that two accounts share *the same* card or device far more often
than they need the value itself, so masks are deterministic: a keyed hash (HMAC-SHA256 with the
server's masking key, 12 hex digits) stays the same for the same value, across accounts,
operators and requests, and cannot be reversed or precomputed without the key. Cards show
what a support agent may see anyway (BIN and last 4 digits); IPs show their subnet.

The table (``POLICY``) is the reference for docs/api.md; every schema field that carries an
identifier applies it through the ``Masked`` field extension (``sybilgraph.api.types``), and a
test walks the schema to prove none escapes.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from enum import Enum

from sybilgraph.settings.api import Role

__all__ = ["POLICY", "Mask", "Masker", "looks_masked"]


class Mask(str, Enum):
    RAW = "raw"  # the stored value
    CARD = "card"  # BIN + last4 + keyed hash
    SUBNET = "subnet"  # the /24 (IPv4) or /48 (IPv6) the address belongs to
    HASH = "hash"  # '<kind>#' + 12 hex digits of a keyed hash


POLICY: dict[str, dict[Role, Mask]] = {
    "card": {Role.VIEWER: Mask.CARD, Role.ANALYST: Mask.CARD, Role.ADMIN: Mask.RAW},
    "ip": {Role.VIEWER: Mask.SUBNET, Role.ANALYST: Mask.RAW, Role.ADMIN: Mask.RAW},
    "subnet": {Role.VIEWER: Mask.RAW, Role.ANALYST: Mask.RAW, Role.ADMIN: Mask.RAW},
    "device": {Role.VIEWER: Mask.HASH, Role.ANALYST: Mask.RAW, Role.ADMIN: Mask.RAW},
    "tls": {Role.VIEWER: Mask.HASH, Role.ANALYST: Mask.RAW, Role.ADMIN: Mask.RAW},
    "template": {Role.VIEWER: Mask.HASH, Role.ANALYST: Mask.RAW, Role.ADMIN: Mask.RAW},
    "email_domain": {Role.VIEWER: Mask.HASH, Role.ANALYST: Mask.RAW, Role.ADMIN: Mask.RAW},
    # Kinds added by ingest (identifiers.py); the API does not serve them yet. A BIN (first 6-8
    # digits) may be shown under PCI DSS; the others follow device/tls.
    "user_agent": {Role.VIEWER: Mask.HASH, Role.ANALYST: Mask.RAW, Role.ADMIN: Mask.RAW},
    "bin": {Role.VIEWER: Mask.RAW, Role.ANALYST: Mask.RAW, Role.ADMIN: Mask.RAW},
    "api_key": {Role.VIEWER: Mask.HASH, Role.ANALYST: Mask.RAW, Role.ADMIN: Mask.RAW},
    "network_owner": {Role.VIEWER: Mask.RAW, Role.ANALYST: Mask.RAW, Role.ADMIN: Mask.RAW},
}


class Masker:
    """Applies ``POLICY`` with one secret key."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def ref(self, kind: str, value: str) -> str:
        digest = hmac.new(self._secret, f"{kind}\x00{value}".encode(), hashlib.sha256)
        return digest.hexdigest()[:12]

    def mask(
        self,
        kind: str,
        value: str | None,
        role: Role,
        *,
        bin: str | None = None,
        last4: str | None = None,
    ) -> str | None:
        if value is None:
            return None
        # An unknown kind or role gets the strictest mask: fail closed.
        rule = POLICY.get(kind, {}).get(role, Mask.HASH)
        if rule is Mask.RAW:
            return value
        if rule is Mask.CARD:
            return f"BIN {bin or '??????'} · last4 {last4 or '????'} · #{self.ref(kind, value)}"
        if rule is Mask.SUBNET:
            try:
                addr = ipaddress.ip_address(value)
            except ValueError:
                return f"{kind}#{self.ref(kind, value)}"
            prefix = 24 if addr.version == 4 else 48
            return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))
        return f"{kind}#{self.ref(kind, value)}"


_HASH_MASK = re.compile(r"[a-z_]+#[0-9a-f]{12}")
_CARD_MASK = re.compile(r"BIN \S+ · last4 \S+ · #[0-9a-f]{12}")


def looks_masked(kind: str, value: str) -> bool:
    """Whether ``value`` is one of this module's masks rather than an identifier: a keyed hash,
    a card's BIN/last4 form, or (for an IP) the subnet shown in its place."""
    value = value.strip()
    if _HASH_MASK.fullmatch(value) or _CARD_MASK.fullmatch(value):
        return True
    if kind == "ip" and "/" in value:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            return False
        return True
    return False
