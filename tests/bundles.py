"""Small hand-made bundles for tests, written in any contract format."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

__all__ = ["ENRICHMENT", "TINY", "RING_SIZE", "ring_bundle", "ring_partition", "write_bundle", "write_table"]

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


RING_SIZE = 24
N_STRANGERS = 300


def ring_bundle() -> dict[str, list[dict[str, Any]]]:
    """An obvious ring beside strangers, deterministic.

    Ring r00..r23: four cards shared by six accounts each (chained: the last account of each
    group also holds the next card), three devices on eight accounts each, IPs drawn from ten
    addresses of one /24, templates from a private pool of twelve, one rare e-mail domain.
    Truth: the ring is DIST-RING, every stranger stands alone; r00 carries the label OP-RING.
    Strangers s000..s299: each its own card, device and home line, common webmail domains, two of
    five popular templates (used by so many accounts that they are hubs) and its own templates.
    """
    rnd = random.Random(11)
    accounts: list[dict[str, Any]] = []
    cards: list[dict[str, Any]] = []
    sessions: list[dict[str, Any]] = []
    interactions: list[dict[str, Any]] = []

    def account(a: str, domain: str, country: str) -> None:
        accounts.append({"account_id": a, "created_at": "2026-03-01T00:00:00Z", "email_domain": domain,
                         "country": country, "signup_ip": "", "status": "active"})

    def use(a: str, ip: str, device: str, templates: list[str], tls: str, ua: str) -> None:
        sessions.append({"account_id": a, "ts": "2026-04-01T00:00:00Z", "ip": ip, "device_id": device,
                         "user_agent": ua, "tls_fingerprint": tls})
        for i, t in enumerate(templates):
            interactions.append({"account_id": a, "ts": f"2026-04-02T{i % 24:02d}:00:00Z", "ip": ip,
                                 "device_id": device, "prompt_fingerprint": t, "category": "chat"})

    pool = [f"{0xA000 + i:016x}" for i in range(12)]
    for i in range(RING_SIZE):
        a = f"r{i:02d}"
        account(a, "ringmail.test", "US")
        group = i // 6
        cards.append({"account_id": a, "instrument_id": f"tok_ring_{group}", "bin": "555555"})
        if i % 6 == 5 and group < 3:
            cards.append({"account_id": a, "instrument_id": f"tok_ring_{group + 1}", "bin": "555555"})
        for ip in rnd.sample(range(10), 3):
            use(a, f"203.0.113.{ip + 1}", f"dev_ring_{i // 8}", rnd.sample(pool, 8), "tls_ring", "ua-ring/1.0")
    popular = [f"{0xB000 + i:016x}" for i in range(5)]
    domains = ["gmail.com", "outlook.com", "yahoo.com", "proton.me"]
    countries = ["US", "DE", "FR", "BR", "IN", "JP"]
    for j in range(N_STRANGERS):
        a = f"s{j:03d}"
        account(a, domains[j % 4], countries[j % 6])
        cards.append({"account_id": a, "instrument_id": f"tok_{a}", "bin": f"4{rnd.randrange(10**5):05d}"})
        own = [f"{0xC0000 + 100 * j + k:016x}" for k in range(4)]
        ip = f"10.{j // 200}.{j % 200}.7"  # every home line in its own /24
        use(a, ip, f"dev_{a}", rnd.sample(popular, 2) + own, f"tls_browser_{j % 3}", f"ua-browser/{j % 7}")
    truth = [{"account_id": r["account_id"], "operator": "DIST-RING" if r["account_id"][0] == "r" else "",
              "is_distillation": "true" if r["account_id"][0] == "r" else "false"} for r in accounts]
    labels = [{"account_id": "r00", "operator_label": "OP-RING", "source": "unit-test"}]
    return {"accounts": accounts, "payment_methods": cards, "sessions": sessions, "interactions": interactions,
            "labels": labels, "truth": truth}


def ring_partition() -> set[frozenset[str]]:
    return {frozenset(f"r{i:02d}" for i in range(RING_SIZE))}  # strangers stand alone


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
