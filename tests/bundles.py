"""Small hand-made bundles for tests, written in any contract format."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

__all__ = ["ENRICHMENT", "TINY", "write_bundle", "write_table"]

# A bundle whose graph is easy to predict: a1/a2 share a card, a home IP and a device; a1-a3
# share a prompt template; a4 and a5 share nothing; a5 has no activity.
TINY: dict[str, list[dict[str, Any]]] = {
    "accounts": [
        {"account_id": "a1", "created_at": "2026-04-01T10:00:00Z", "email_domain": "example.com", "country": "DE", "signup_ip": "10.0.0.1", "status": "active"},
        {"account_id": "a2", "created_at": "2026-04-01T10:05:00Z", "email_domain": "example.com", "country": "DE", "signup_ip": "10.0.0.1", "status": "active"},
        {"account_id": "a3", "created_at": "2026-04-02T08:00:00+02:00", "email_domain": "mail.test", "country": "FR", "signup_ip": "2001:db8:1::7", "status": "suspended"},
        {"account_id": "a4", "created_at": "2026-04-03T00:00:00Z", "email_domain": "other.test", "country": "US", "signup_ip": "", "status": "active"},
        {"account_id": "a5", "created_at": "2026-04-04T00:00:00Z", "email_domain": "", "country": "", "signup_ip": "", "status": "closed"},
    ],
    "payment_methods": [
        {"account_id": "a1", "instrument_id": "tok_shared", "bin": "411111", "last4": "1111", "issuer_country": "DE", "added_at": "2026-04-01T10:10:00Z"},
        {"account_id": "a2", "instrument_id": "tok_shared", "bin": "411111", "last4": "1111", "issuer_country": "DE", "added_at": "2026-04-01T10:20:00Z"},
        {"account_id": "a3", "instrument_id": "tok_alone", "bin": "550000", "last4": "0004", "issuer_country": "FR", "added_at": ""},
    ],
    "sessions": [
        {"account_id": "a1", "ts": "2026-04-05T09:00:00Z", "ip": "10.0.0.1", "device_id": "dev1", "user_agent": "UA", "tls_fingerprint": "tlsA"},
        {"account_id": "a2", "ts": "2026-04-05T09:30:00Z", "ip": "10.0.0.1", "device_id": "dev1", "user_agent": "UA", "tls_fingerprint": "tlsA"},
        {"account_id": "a4", "ts": "2026-04-05T11:00:00Z", "ip": "192.0.2.9", "device_id": "dev4", "user_agent": "UA", "tls_fingerprint": "tlsB"},
    ],
    "interactions": [
        {"account_id": a, "ts": f"2026-04-0{d}T{h:02d}:00:00Z", "ip": ip, "device_id": "", "api_key_id": f"k_{a}",
         "model": "m1", "input_tokens": 100, "output_tokens": 400, "prompt_fingerprint": fp, "category": cat}
        for a, d, h, ip, fp, cat in [
            ("a1", 6, 1, "10.0.0.1", "00000000000000aa", "coding"),
            ("a1", 6, 2, "10.0.0.1", "00000000000000aa", "coding"),
            ("a2", 6, 3, "10.0.0.2", "00000000000000aa", "reasoning"),
            ("a3", 7, 4, "2001:db8:1::7", "00000000000000aa", "chat"),
            ("a4", 7, 5, "192.0.2.9", "00000000000000bb", "chat"),
        ]
    ],
    "labels": [
        {"account_id": "a1", "operator_label": "OP-TEST", "source": "unit-test"},
    ],
}

# Known organisations and network owners for TINY: 10.0.0.0/8 is a corporate network of org-acme
# with a nested /24 datacenter range (the most specific range owns 10.0.0.1 and 10.0.0.2);
# 192.0.2.0/24 is a VPN; 2001:db8::/32 a university.
ENRICHMENT: dict[str, list[dict[str, Any]]] = {
    "organisations": [
        {"org_id": "org-acme", "name": "Acme AI", "country": "US", "domains": "example.com;acme.test", "kind": "ai_lab"},
        {"org_id": "org-uni", "name": "Test University", "country": "FR", "domains": "mail.test", "kind": "university"},
    ],
    "ip_owners": [
        {"cidr": "10.0.0.0/8", "owner": "org-acme", "asn": 64500, "kind": "corporate"},
        {"cidr": "10.0.0.0/24", "owner": "Cloudy Hosting", "asn": 64501, "kind": "datacenter"},
        {"cidr": "192.0.2.0/24", "owner": "Tunnel VPN", "asn": 64502, "kind": "vpn"},
        {"cidr": "2001:db8::/32", "owner": "org-uni", "asn": None, "kind": "education"},
    ],
}

TIMESTAMP_COLUMNS = {"created_at", "added_at", "ts"}
INT_COLUMNS = {"input_tokens", "output_tokens", "asn"}


def _arrow(rows: list[dict[str, Any]], typed: bool) -> pa.Table:
    columns: dict[str, list[Any]] = {k: [r.get(k) for r in rows] for k in rows[0]}
    arrays = {}
    for name, values in columns.items():
        values = [None if v == "" else v for v in values]
        if typed and name in TIMESTAMP_COLUMNS:
            arrays[name] = _ts(values)
        elif name in INT_COLUMNS:
            arrays[name] = pa.array(values, pa.int64())
        else:
            arrays[name] = pa.array(values, pa.string())
    return pa.table(arrays)


def _ts(values: list[Any]) -> pa.Array:
    from datetime import datetime

    return pa.array([None if v is None else datetime.fromisoformat(v.replace("Z", "+00:00")) for v in values], pa.timestamp("ms", tz="UTC"))


def write_table(path: Path, rows: list[dict[str, Any]], fmt: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        out = path.with_suffix(".parquet")
        pq.write_table(_arrow(rows, typed=True), out)
    elif fmt in ("csv", "csv.gz"):
        out = path.parent / f"{path.name}.{fmt}"
        table = _arrow(rows, typed=False)
        if fmt == "csv":
            pacsv.write_csv(table, out)
        else:
            with pa.CompressedOutputStream(str(out), "gzip") as stream:
                pacsv.write_csv(table, stream)
    elif fmt in ("jsonl", "jsonl.gz"):
        out = path.parent / f"{path.name}.{fmt}"
        text = "".join(json.dumps({k: v for k, v in r.items() if v != ""}) + "\n" for r in rows)
        if fmt == "jsonl":
            out.write_text(text)
        else:
            with gzip.open(out, "wt") as f:
                f.write(text)
    else:
        raise ValueError(fmt)
    return out


def write_bundle(directory: Path, tables: dict[str, list[dict[str, Any]]], fmt: str = "csv", parts: bool = False) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        if parts and len(rows) > 1:
            half = len(rows) // 2
            write_table(directory / name / "part-0001", rows[:half], fmt)
            write_table(directory / name / "part-0002", rows[half:], fmt)
        else:
            write_table(directory / name, rows, fmt)
    return directory
