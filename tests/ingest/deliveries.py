"""Small random deliveries for the delivery tests: accounts that share identifiers, row ids that repeat.

``delivery(seed, accounts)`` draws a bundle's tables over a small pool of identifiers so that
deliveries overlap: the same account in two deliveries (a later row updates it), the same
interaction or session id in two deliveries (it counts once), links that appear and leave
(an IP shared by two accounts in one delivery only), labels, organisations and network ranges.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from tests.bundles import write_bundle

__all__ = ["delivery", "write_delivery", "ACCOUNT_POOL"]

ACCOUNT_POOL = [f"acct-{i:02d}" for i in range(12)]
_IPS = ["10.0.0.1", "10.0.0.2", "10.0.1.9", "192.0.2.5", "198.51.100.7", "2001:db8::5"]
_DEVICES = ["dev-a", "dev-b", "dev-c", "dev-d"]
_TEMPLATES = [f"{i:016x}" for i in range(1, 6)]
_DOMAINS = ["example.com", "mail.test", "corp.test"]
_CARDS = ["tok_1", "tok_2", "tok_3"]


def delivery(seed: int, accounts: list[str] | None = None) -> dict[str, list[dict[str, Any]]]:
    """The tables of one random delivery (deterministic in ``seed``)."""
    rng = random.Random(seed)
    mine = accounts if accounts is not None else rng.sample(ACCOUNT_POOL, rng.randint(2, 5))
    tables: dict[str, list[dict[str, Any]]] = {
        "accounts": [
            {"account_id": a, "created_at": f"2026-04-0{rng.randint(1, 9)}T10:00:00Z",
             "email_domain": rng.choice(_DOMAINS), "country": rng.choice(["DE", "FR", "US"]),
             "signup_ip": rng.choice(_IPS), "status": rng.choice(["active", "suspended"])}
            for a in mine
        ],
        "payment_methods": [
            {"account_id": a, "instrument_id": rng.choice(_CARDS), "bin": rng.choice(["411111", "555555"]),
             "last4": "1111", "issuer_country": "DE", "added_at": "2026-04-10T00:00:00Z"}
            for a in mine if rng.random() < 0.6
        ],
        "sessions": [
            {"account_id": rng.choice(mine), "session_id": f"s-{rng.randint(0, 30)}",
             "ts": f"2026-04-1{rng.randint(0, 9)}T0{rng.randint(0, 9)}:00:00Z", "ip": rng.choice(_IPS),
             "device_id": rng.choice(_DEVICES), "user_agent": rng.choice(["UA-1", "UA-2"]),
             "tls_fingerprint": rng.choice(["tls-a", "tls-b"])}
            for _ in range(rng.randint(1, 6))
        ],
        "interactions": [
            {"account_id": rng.choice(mine), "interaction_id": f"r-{rng.randint(0, 60)}" if rng.random() < 0.8 else "",
             "ts": f"2026-04-2{rng.randint(0, 8)}T{rng.randint(0, 23):02d}:00:00Z", "ip": rng.choice(_IPS),
             "device_id": rng.choice(_DEVICES), "api_key_id": rng.choice(["k1", "k2", ""]), "model": rng.choice(["m1", "m2"]),
             "input_tokens": rng.randint(0, 500), "output_tokens": rng.randint(0, 500),
             "prompt_fingerprint": rng.choice(_TEMPLATES), "category": rng.choice(["chat", "coding"])}
            for _ in range(rng.randint(2, 12))
        ],
    }
    if rng.random() < 0.5:
        tables["labels"] = [{"account_id": rng.choice(mine), "operator_label": rng.choice(["OP-A", "OP-B"]),
                             "organisation": rng.choice(["org-1", ""]), "source": f"src-{seed % 3}"}]
    if rng.random() < 0.4:
        tables["organisations"] = [{"org_id": "org-1", "name": rng.choice(["One", "One Inc"]), "country": "DE",
                                    "domains": "example.com", "kind": "enterprise"}]
    if rng.random() < 0.4:
        tables["ip_owners"] = [{"cidr": "10.0.0.0/16", "owner": "org-1", "asn": 64500, "kind": rng.choice(["corporate", "vpn"])},
                               {"cidr": "10.0.0.0/24", "owner": "Cloud", "asn": 64501, "kind": "datacenter"}]
    return {name: rows for name, rows in tables.items() if rows}


def write_delivery(directory: Path, bundle_id: str, tables: dict[str, list[dict[str, Any]]]) -> Path:
    """Write a delivery as a bundle with ``bundle.json`` naming its id."""
    write_bundle(directory, tables)
    (directory / "bundle.json").write_text(json.dumps({"bundle_id": bundle_id, "source": "tests"}))
    return directory
