"""A small attribution graph written with Cypher exactly as docs/graph-model.md describes it.

Two current operators (OP-KESTREL, four accounts on one card/device/IP; op-heron, two accounts),
one retired operator with lineage into both, 25 filler operators for paging, four runs (failed,
complete, current, running), analyst decisions, a known label, a hub e-mail domain (that must
not connect anyone) and an IPv6 address. ``write_interactions`` writes the matching columnar
store (Parquet, the ingest layout) for the operator timeline.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["ACCOUNTS", "CARD_TOKEN", "HOME_IP", "SEED_STATEMENTS", "seed_graph", "write_account_identifiers",
           "write_interactions"]

# a7's home address: used by a7 alone, so the graph has no node for it (the columnar store does).
HOME_IP = "192.0.2.77"

CARD_TOKEN = "tok_4f1c9a7e2b"
ACCOUNTS = [f"a{i}" for i in range(1, 9)]

_HOUR_HIST = [0] * 168
_HOUR_HIST[2] = 40
_HOUR_HIST[27] = 60

SEED_STATEMENTS: list[tuple[str, dict[str, Any]]] = [
    (
        """
        UNWIND $rows AS row
        CREATE (a:Account {account_id: row.id})
        SET a.created_at = datetime(row.created), a.email_domain = row.domain, a.country = row.country,
            a.signup_ip = row.signup_ip, a.status = row.status,
            a.n_interactions = row.n, a.input_tokens = row.tin, a.output_tokens = row.tout,
            a.first_interaction = CASE WHEN row.n > 0 THEN datetime('2026-03-01T02:00:00Z') END,
            a.last_interaction = CASE WHEN row.n > 0 THEN datetime('2026-03-03T03:00:00Z') END,
            a.hour_hist = $hour_hist, a.category_names = ['coding', 'math'], a.category_counts = [70, 30],
            a.n_sessions = 3, a.n_ips = 2, a.n_devices = 1, a.n_templates = 1, a.n_tls = 1, a.n_cards = 1
        """,
        {
            "hour_hist": _HOUR_HIST,
            "rows": [
                {"id": "a1", "created": "2026-02-20T10:00:00Z", "domain": "example.org", "country": "SG", "signup_ip": "203.0.113.7", "status": "active", "n": 100, "tin": 3_000_000_000, "tout": 90_000},
                {"id": "a2", "created": "2026-02-20T10:05:00Z", "domain": "example.org", "country": "SG", "signup_ip": "203.0.113.7", "status": "active", "n": 100, "tin": 50_000, "tout": 90_000},
                {"id": "a3", "created": "2026-02-20T10:09:00Z", "domain": "gmail.com", "country": "SG", "signup_ip": "203.0.113.8", "status": "suspended", "n": 100, "tin": 50_000, "tout": 90_000},
                {"id": "a4", "created": "2026-02-21T10:00:00Z", "domain": "mailbox.test", "country": "MY", "signup_ip": None, "status": "active", "n": 100, "tin": 50_000, "tout": 90_000},
                {"id": "a5", "created": "2026-02-22T10:00:00Z", "domain": "mailbox.test", "country": "US", "signup_ip": "198.51.100.23", "status": "active", "n": 100, "tin": 50_000, "tout": 90_000},
                {"id": "a6", "created": "2026-02-22T11:00:00Z", "domain": "mailbox.test", "country": "US", "signup_ip": "2001:db8:1:2::5", "status": "closed", "n": 100, "tin": 50_000, "tout": 90_000},
                {"id": "a7", "created": "2026-01-02T10:00:00Z", "domain": "gmail.com", "country": "DE", "signup_ip": None, "status": "active", "n": 0, "tin": 0, "tout": 0},
                {"id": "a8", "created": "2026-01-03T10:00:00Z", "domain": "gmail.com", "country": "FR", "signup_ip": None, "status": "active", "n": 5, "tin": 10, "tout": 20},
            ],
        },
    ),
    (
        """
        CREATE (:PaymentInstrument {instrument_id: $card, bin: '411111', last4: '1234', issuer_country: 'US', n_accounts: 4})
        CREATE (:Device {device_id: 'dev-aaa-0001', n_accounts: 4})
        CREATE (:Device {device_id: 'dev-bbb-0002', n_accounts: 2})
        CREATE (ip1:IP {ip: '203.0.113.7', n_accounts: 4})
        CREATE (ip2:IP {ip: '198.51.100.23', n_accounts: 2})
        CREATE (ip3:IP {ip: '2001:db8:1:2::5', n_accounts: 2})
        CREATE (s1:Subnet {cidr: '203.0.113.0/24', n_accounts: 5})
        CREATE (s2:Subnet {cidr: '198.51.100.0/24', n_accounts: 2})
        CREATE (s3:Subnet {cidr: '2001:db8:1::/48', n_accounts: 2})
        CREATE (ip1)-[:IN_SUBNET]->(s1), (ip2)-[:IN_SUBNET]->(s2), (ip3)-[:IN_SUBNET]->(s3)
        CREATE (:TlsFingerprint {fingerprint: 't13d1516h2_8daaf6152771', n_accounts: 3})
        CREATE (:PromptTemplate {fingerprint: '9f86d081884c7d65', n_accounts: 6})
        CREATE (:EmailDomain {domain: 'example.org', n_accounts: 2})
        CREATE (:EmailDomain {domain: 'mailbox.test', n_accounts: 3})
        CREATE (:EmailDomain {domain: 'gmail.com', n_accounts: 100000})
        """,
        {"card": CARD_TOKEN},
    ),
    (
        """
        UNWIND $links AS l
        MATCH (a:Account {account_id: l.a})
        CALL (a, l) {
            MATCH (n:PaymentInstrument {instrument_id: l.v}) WHERE l.k = 'card' MERGE (a)-[r:PAID_WITH]->(n) RETURN r
            UNION MATCH (n:IP {ip: l.v}) WHERE l.k = 'ip' MERGE (a)-[r:USED_IP]->(n) RETURN r
            UNION MATCH (n:Subnet {cidr: l.v}) WHERE l.k = 'subnet' MERGE (a)-[r:USED_SUBNET]->(n) RETURN r
            UNION MATCH (n:Device {device_id: l.v}) WHERE l.k = 'device' MERGE (a)-[r:USED_DEVICE]->(n) RETURN r
            UNION MATCH (n:TlsFingerprint {fingerprint: l.v}) WHERE l.k = 'tls' MERGE (a)-[r:USED_TLS]->(n) RETURN r
            UNION MATCH (n:PromptTemplate {fingerprint: l.v}) WHERE l.k = 'template' MERGE (a)-[r:USED_TEMPLATE]->(n) RETURN r
            UNION MATCH (n:EmailDomain {domain: l.v}) WHERE l.k = 'email_domain' MERGE (a)-[r:HAS_EMAIL_DOMAIN]->(n) RETURN r
        }
        SET r.count = l.c, r.first_seen = datetime('2026-03-01T00:00:00Z'), r.last_seen = datetime('2026-03-03T00:00:00Z')
        """,
        {
            "links": [
                *({"a": a, "k": "card", "v": CARD_TOKEN, "c": 1} for a in ("a1", "a2", "a3", "a4")),
                *({"a": a, "k": "device", "v": "dev-aaa-0001", "c": 10} for a in ("a1", "a2", "a3", "a4")),
                *({"a": a, "k": "ip", "v": "203.0.113.7", "c": 20} for a in ("a1", "a2", "a3", "a4")),
                *({"a": a, "k": "subnet", "v": "203.0.113.0/24", "c": 25} for a in ("a1", "a2", "a3", "a4", "a5")),
                *({"a": a, "k": "tls", "v": "t13d1516h2_8daaf6152771", "c": 5} for a in ("a1", "a2", "a3")),
                *({"a": a, "k": "template", "v": "9f86d081884c7d65", "c": 50} for a in ("a1", "a2", "a3", "a4", "a5", "a6")),
                *({"a": a, "k": "device", "v": "dev-bbb-0002", "c": 7} for a in ("a5", "a6")),
                *({"a": a, "k": "ip", "v": "198.51.100.23", "c": 9} for a in ("a5", "a6")),
                *({"a": a, "k": "subnet", "v": "198.51.100.0/24", "c": 9} for a in ("a5", "a6")),
                *({"a": a, "k": "ip", "v": "2001:db8:1:2::5", "c": 3} for a in ("a6", "a8")),
                *({"a": a, "k": "subnet", "v": "2001:db8:1::/48", "c": 3} for a in ("a6", "a8")),
                *({"a": a, "k": "email_domain", "v": "example.org", "c": 1} for a in ("a1", "a2")),
                *({"a": a, "k": "email_domain", "v": "mailbox.test", "c": 1} for a in ("a4", "a5", "a6")),
                *({"a": a, "k": "email_domain", "v": "gmail.com", "c": 1} for a in ("a3", "a7", "a8")),
            ]
        },
    ),
    (
        """
        CREATE (:AttributionRun {run_id: 'run-0', status: 'failed', current: false, started_at: datetime('2026-02-01T00:00:00Z'),
                finished_at: datetime('2026-02-01T00:01:00Z'), seed: 7, params_json: '{"seed": 7}', progress: 'similarity',
                error: 'RuntimeError: boom'})
        CREATE (:AttributionRun {run_id: 'run-1', status: 'complete', current: false, started_at: datetime('2026-03-01T00:00:00Z'),
                finished_at: datetime('2026-03-01T00:05:00Z'), seed: 42, params_json: '{"seed": 42, "flag_threshold": 0.5}',
                timings_json: '{"read": 1.5, "similarity": 2.0}', counts_json: '{"accounts": 8, "operators": 2}',
                metrics_json: '{"ari": 0.8}', progress: 'complete'})
        CREATE (:AttributionRun {run_id: 'run-2', status: 'complete', current: true, started_at: datetime('2026-03-08T00:00:00Z'),
                finished_at: datetime('2026-03-08T00:04:00Z'), seed: 42, params_json: '{"seed": 42, "flag_threshold": 0.5}',
                timings_json: '{"read": 1.25, "similarity": 2.5, "write": 0.25}', counts_json: '{"accounts": 8, "operators": 27}',
                metrics_json: '{"ari": 0.9}', progress: 'complete'})
        CREATE (:AttributionRun {run_id: 'run-3', status: 'running', current: false, started_at: datetime('2026-03-09T00:00:00Z'),
                seed: 43, params_json: '{"seed": 43}', progress: 'communities'})
        """,
        {},
    ),
    (
        """
        MATCH (r1:AttributionRun {run_id: 'run-1'}), (r2:AttributionRun {run_id: 'run-2'})
        CREATE (k:Operator {operator_id: 'op-kestrel', label: 'OP-KESTREL', label_conflict: ['OP-FALCON'], size: 4,
                campaign_score: 0.91, flagged: true, features_json: $kf, evidence_json: $ke,
                first_run_id: 'run-2', last_run_id: 'run-2'})
        CREATE (h:Operator {operator_id: 'op-heron', label_conflict: [], size: 2, campaign_score: 0.2, flagged: false,
                features_json: '{"template_reuse": 0.5}', evidence_json: $he, first_run_id: 'run-1', last_run_id: 'run-2'})
        CREATE (o:Operator {operator_id: 'op-old', label: 'OP-OLD', label_conflict: [], size: 6, campaign_score: 0.6,
                flagged: true, features_json: '{}', evidence_json: '[]', first_run_id: 'run-1', last_run_id: 'run-1'})
        CREATE (k)-[:SCORED_IN {run_id: 'run-2', size: 4, campaign_score: 0.91, flagged: true, features_json: $kf, evidence_json: $ke}]->(r2)
        CREATE (h)-[:SCORED_IN {run_id: 'run-2', size: 2, campaign_score: 0.2, flagged: false, features_json: '{}', evidence_json: $he}]->(r2)
        CREATE (h)-[:SCORED_IN {run_id: 'run-1', size: 2, campaign_score: 0.3, flagged: false, features_json: '{}', evidence_json: '[]'}]->(r1)
        CREATE (o)-[:SCORED_IN {run_id: 'run-1', size: 6, campaign_score: 0.6, flagged: true, features_json: '{}', evidence_json: '[]'}]->(r1)
        CREATE (k)-[:SPLIT_FROM {run_id: 'run-2', shared: 4}]->(o)
        CREATE (o)-[:MERGED_INTO {run_id: 'run-2', shared: 2}]->(h)
        WITH r2
        UNWIND range(0, 24) AS i
        CREATE (f:Operator {operator_id: 'op-f' + right('0' + toString(i), 2), label: 'FILL-' + toString(i), label_conflict: [],
                size: 2 + i % 5, campaign_score: toFloat(i) / 25.0, flagged: i % 3 = 0, features_json: '{}', evidence_json: '[]',
                first_run_id: 'run-2', last_run_id: 'run-2'})
        CREATE (f)-[:SCORED_IN {run_id: 'run-2', size: 2 + i % 5, campaign_score: toFloat(i) / 25.0, flagged: i % 3 = 0,
                features_json: '{}', evidence_json: '[]'}]->(r2)
        """,
        {
            "kf": '{"template_reuse": 0.9, "night_share": 0.75}',
            "ke": (
                '[{"kind": "card", "value": "' + CARD_TOKEN + '", "members_sharing": 4, "n_accounts": 4, "weight": 1.0},'
                ' {"kind": "device", "value": "dev-aaa-0001", "members_sharing": 4, "n_accounts": 4, "weight": 0.9},'
                ' {"kind": "ip", "value": "203.0.113.7", "members_sharing": 4, "n_accounts": 4, "weight": 0.6},'
                ' {"kind": "template", "value": "9f86d081884c7d65", "members_sharing": 4, "n_accounts": 6, "weight": 0.5}]'
            ),
            "he": '[{"kind": "device", "value": "dev-bbb-0002", "members_sharing": 2, "n_accounts": 2, "weight": 0.9}]',
        },
    ),
    (
        """
        UNWIND $rows AS row
        MATCH (a:Account {account_id: row.a}), (o:Operator {operator_id: row.o})
        CREATE (a)-[:ATTRIBUTED_TO {run_id: row.run, confidence: row.c, provisional: row.p, evidence_json: row.e}]->(o)
        """,
        {
            "rows": [
                *({"a": a, "o": "op-kestrel", "run": "run-2", "c": 0.9, "p": False,
                   "e": '[{"kind": "card", "value": "' + CARD_TOKEN + '", "members_sharing": 4, "weight": 1.0},'
                        ' {"kind": "ip", "value": "203.0.113.7", "members_sharing": 4, "weight": 0.6}]'} for a in ("a1", "a2", "a3")),
                {"a": "a4", "o": "op-kestrel", "run": "run-2", "c": 1.0, "p": True, "e": "[]"},
                *({"a": a, "o": "op-heron", "run": "run-2", "c": 0.7, "p": False,
                   "e": '[{"kind": "device", "value": "dev-bbb-0002", "members_sharing": 2, "weight": 0.9}]'} for a in ("a5", "a6")),
                *({"a": a, "o": "op-old", "run": "run-1", "c": 0.8, "p": False, "e": "[]"} for a in ("a1", "a2", "a3", "a4")),
                *({"a": a, "o": "op-heron", "run": "run-1", "c": 0.6, "p": False, "e": "[]"} for a in ("a5", "a6")),
            ]
        },
    ),
    (
        # a5 changed hands on 2026-03-05 (account takeover): run-2 attributes it from then on.
        "MATCH (:Account {account_id: 'a5'})-[r:ATTRIBUTED_TO {run_id: 'run-2'}]->() SET r.controlled_from = $t",
        {"t": 1772668800000},
    ),
    (
        """
        MATCH (a4:Account {account_id: 'a4'}), (a7:Account {account_id: 'a7'}), (a1:Account {account_id: 'a1'})
        MATCH (k:Operator {operator_id: 'op-kestrel'}), (h:Operator {operator_id: 'op-heron'})
        CREATE (a4)-[:DECISION {decision: 'confirmed', by: 'alice', at: datetime('2026-03-07T09:00:00Z'), reason: 'same card as a1'}]->(k)
        CREATE (a7)-[:DECISION {decision: 'rejected', by: 'bob', at: datetime('2026-03-07T12:00:00Z'), reason: 'shares only gmail.com'}]->(h)
        MERGE (l:Label {name: 'OP-KESTREL'})
        CREATE (a1)-[:HAS_LABEL {source: 'ticket-4711'}]->(l)
        """,
        {},
    ),
    (
        # The organisation step: op-kestrel is attributed to Acme Labs (listed, its domain and card),
        # with Kite Hosting (a network owner no table lists) as a weaker lead; op-heron has only a
        # lead (unattributed); the retired op-old had Acme in run-1 (not current).
        """
        MATCH (k:Operator {operator_id: 'op-kestrel'}), (h:Operator {operator_id: 'op-heron'}), (o:Operator {operator_id: 'op-old'})
        CREATE (acme:Organisation {org_id: 'ORG-ACME', name: 'Acme Labs', confirmed: true, kind: 'ai_lab', country: 'SG',
                domains: ['example.org']})
        CREATE (kite:Organisation {org_id: 'Kite Hosting', name: 'Kite Hosting', confirmed: false, source: 'network owner',
                domains: []})
        CREATE (:Organisation {org_id: 'ORG-QUIET', name: 'Quiet Co', confirmed: true, kind: 'enterprise', domains: []})
        CREATE (k)-[:LIKELY_RUN_BY {run_id: 'run-2', score: 14.5, probability: 0.998, rank: 1, asserted: true,
                evidence_json: $acme_ev}]->(acme)
        CREATE (k)-[:LIKELY_RUN_BY {run_id: 'run-2', score: 2.1, probability: 0.001, rank: 2, asserted: false,
                evidence_json: $kite_ev}]->(kite)
        CREATE (h)-[:LIKELY_RUN_BY {run_id: 'run-2', score: 1.5, probability: 0.2, rank: 1, asserted: false,
                evidence_json: $kite_ev2}]->(kite)
        CREATE (o)-[:LIKELY_RUN_BY {run_id: 'run-1', score: 9.0, probability: 0.9, rank: 1, asserted: true,
                evidence_json: '[]'}]->(acme)
        CREATE (k)-[:ORGANISATION_DECISION {decision: 'rejected', by: 'carol', at: datetime('2026-03-07T15:00:00Z'),
                reason: 'Kite is only their host'}]->(kite)
        """,
        {
            "acme_ev": (
                '[{"comparison": "domain", "level": "campaign: fewer than half the members; used by <= 0.001 of accounts",'
                ' "weight": 9.5, "m": 0.01, "u": 1e-05, "members": 2, "popularity": 0.0002, "accounts": ["a1", "a2"],'
                ' "identifiers": [{"kind": "email_domain", "value": "example.org"}]},'
                ' {"comparison": "card", "level": "campaign: fewer than half the members; used by <= 0.001 of accounts",'
                ' "weight": 5.0, "m": 0.02, "u": 0.0006, "members": 1, "popularity": 0.0004, "accounts": ["a1"],'
                ' "identifiers": [{"kind": "card", "value": "' + CARD_TOKEN + '"}]}]'
            ),
            "kite_ev": (
                '[{"comparison": "hosted_network", "level": "campaign: half the members or more; used by <= 0.01 of accounts",'
                ' "weight": 2.1, "m": 0.001, "u": 0.0002, "members": 3, "popularity": 0.004, "accounts": ["a1", "a2", "a3"],'
                ' "identifiers": [{"kind": "ip", "value": "203.0.113.7"}]}]'
            ),
            "kite_ev2": (
                '[{"comparison": "hosted_network", "level": "open group: half the members or more; used by <= 0.01 of accounts",'
                ' "weight": 1.5, "m": 0.001, "u": 0.0003, "members": 2, "popularity": 0.004, "accounts": ["a5", "a6"],'
                ' "identifiers": [{"kind": "ip", "value": "198.51.100.23"}]}]'
            ),
        },
    ),
]


def seed_graph(driver: Any, database: str = "neo4j") -> None:
    """Empty the graph and write the seed (the caller's driver is the sync one of the test DB)."""
    with driver.session(database=database) as s:
        s.run("MATCH (n) DETACH DELETE n").consume()
        for statement, params in SEED_STATEMENTS:
            s.run(statement, params).consume()


def write_interactions(columnar_dir: Path) -> Path:
    """Interactions of a1..a6 over three days (UTC) in the ingest layout; returns the file."""
    rows: dict[str, list[Any]] = {c: [] for c in ("account_id", "ts", "ip", "subnet", "device_id", "api_key_id", "model",
                                                  "input_tokens", "output_tokens", "prompt_fingerprint", "category")}
    base = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
    plan = {"a1": [3, 2, 1], "a2": [1, 0, 4], "a3": [0, 1, 0], "a4": [2, 2, 2], "a5": [5, 0, 0], "a6": [0, 0, 1], "a7": [9, 9, 9]}
    for account, per_day in plan.items():
        for day, n in enumerate(per_day):
            for j in range(n):
                rows["account_id"].append(account)
                rows["ts"].append(base + timedelta(days=day, minutes=j))
                rows["ip"].append("203.0.113.7")
                rows["subnet"].append("203.0.113.0/24")
                rows["device_id"].append("dev-aaa-0001")
                rows["api_key_id"].append("k1")
                rows["model"].append("m")
                rows["input_tokens"].append(100)
                rows["output_tokens"].append(10)
                rows["prompt_fingerprint"].append("9f86d081884c7d65")
                rows["category"].append("coding")
    schema = pa.schema([
        ("account_id", pa.string()), ("ts", pa.timestamp("ms", tz="UTC")), ("ip", pa.string()), ("subnet", pa.string()),
        ("device_id", pa.string()), ("api_key_id", pa.string()), ("model", pa.string()), ("input_tokens", pa.int64()),
        ("output_tokens", pa.int64()), ("prompt_fingerprint", pa.string()), ("category", pa.string()),
    ])
    out = columnar_dir / "bundles" / "ingest-0001" / "interactions" / "part-00000.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(rows, schema=schema), out)
    return out


def write_account_identifiers(columnar_dir: Path) -> None:
    """The ingest state table of every identifier of every account (``account_identifiers``):
    the graph's links and what the graph leaves out (an IP a7 alone used)."""
    from sybilgraph.ingest.state import StateDir

    ms = int(datetime(2026, 3, 1, tzinfo=UTC).timestamp() * 1000)
    links = [(a, k, v, c) for statement, params in SEED_STATEMENTS for link in params.get("links", ())
             for a, k, v, c in [(link["a"], link["k"], link["v"], link["c"])]]
    rows = [*links, ("a7", "ip", HOME_IP, 12), ("a8", "device", "dev-zzz-0009", 3)]
    table = pa.table({
        "account_id": [r[0] for r in rows], "kind": [r[1] for r in rows], "value": [r[2] for r in rows],
        "count": [r[3] for r in rows], "first_seen": [ms] * len(rows), "last_seen": [ms + 86_400_000] * len(rows),
    })
    StateDir(columnar_dir / "graph_state").write({"account_identifiers": table}, {})
