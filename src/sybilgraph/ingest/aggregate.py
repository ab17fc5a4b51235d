"""Aggregation of the columnar store into what the graph holds (DuckDB SQL, pure builders).

Interactions are tens of millions of rows; the graph needs only who used what, how often and
when, plus per-account activity features. Everything is aggregated here, before crossing into
Python, over *all* ingested bundles, so every value written to Neo4j is absolute (re-runs and
re-ingests converge on the same graph).

Relations the caller registers as views: ``accounts``, ``payment_methods``, ``sessions``,
``interactions``, ``labels`` (normalized schemas; ``accounts``, ``payment_methods`` and
``labels`` carry ``_ingest_seq``, the ingest order, so a later bundle's row wins).
"""

from __future__ import annotations

__all__ = [
    "MIN_ACCOUNTS_FOR_LINK",
    "HOURS_PER_WEEK",
    "ACCOUNTS_LATEST_SQL",
    "PAIRS_SQL",
    "IDENTIFIERS_SQL",
    "LINKS_SQL",
    "ACCOUNT_FEATURES_SQL",
    "ACCOUNTS_OUT_SQL",
    "LABELS_LATEST_SQL",
    "delta_sql",
    "hub_accounts",
]

# An identifier of a single account ties nobody together: no node, no link.
MIN_ACCOUNTS_FOR_LINK = 2
HOURS_PER_WEEK = 168

ACCOUNTS_LATEST_SQL = """
SELECT account_id,
       arg_max(created_at, _ingest_seq)   AS created_at,
       arg_max(email_domain, _ingest_seq) AS email_domain,
       arg_max(country, _ingest_seq)      AS country,
       arg_max(signup_ip, _ingest_seq)    AS signup_ip,
       arg_max(signup_subnet, _ingest_seq) AS signup_subnet,
       arg_max(status, _ingest_seq)       AS status
FROM accounts
GROUP BY account_id
"""

# One scan of interactions and of sessions, several groupings each (GROUPING SETS).
PAIRS_SQL = """
WITH raw AS (
    SELECT account_id,
           CASE WHEN grouping(ip) = 0 THEN 'ip'
                WHEN grouping(subnet) = 0 THEN 'subnet'
                WHEN grouping(device_id) = 0 THEN 'device'
                ELSE 'template' END AS kind,
           coalesce(ip, subnet, device_id, prompt_fingerprint) AS value,
           count(*) AS n, min(ts) AS first_seen, max(ts) AS last_seen
    FROM interactions
    GROUP BY GROUPING SETS ((account_id, ip), (account_id, subnet),
                            (account_id, device_id), (account_id, prompt_fingerprint))
    UNION ALL
    SELECT account_id,
           CASE WHEN grouping(ip) = 0 THEN 'ip'
                WHEN grouping(subnet) = 0 THEN 'subnet'
                WHEN grouping(device_id) = 0 THEN 'device'
                ELSE 'tls' END AS kind,
           coalesce(ip, subnet, device_id, tls_fingerprint) AS value,
           count(*) AS n, min(ts) AS first_seen, max(ts) AS last_seen
    FROM sessions
    GROUP BY GROUPING SETS ((account_id, ip), (account_id, subnet),
                            (account_id, device_id), (account_id, tls_fingerprint))
    UNION ALL
    SELECT account_id, 'card', instrument_id, count(*), min(added_at), max(added_at)
    FROM payment_methods GROUP BY ALL
    UNION ALL
    SELECT account_id, 'ip', signup_ip, 1, created_at, created_at
    FROM accounts_latest WHERE signup_ip IS NOT NULL
    UNION ALL
    SELECT account_id, 'subnet', signup_subnet, 1, created_at, created_at
    FROM accounts_latest WHERE signup_subnet IS NOT NULL
    UNION ALL
    SELECT account_id, 'email_domain', email_domain, 1, created_at, created_at
    FROM accounts_latest WHERE email_domain IS NOT NULL
)
SELECT account_id, kind, value, sum(n)::BIGINT AS count,
       min(first_seen) AS first_seen, max(last_seen) AS last_seen
FROM raw
WHERE value IS NOT NULL
GROUP BY account_id, kind, value
"""

# ``hub``: used by more than $hub_accounts accounts (a share of the population): carrier NAT,
# VPN exits, browser TLS, the most popular templates. The node and its rarity are written, but
# not a link per account: they tie nobody together, and hundreds of thousands of links to one
# node would dominate the write and every traversal through it. Their users stay queryable in
# the columnar store.
IDENTIFIERS_SQL = f"""
WITH ident AS (
    SELECT kind, value, count(*)::BIGINT AS n_accounts
    FROM pairs GROUP BY kind, value
    HAVING count(*) >= {MIN_ACCOUNTS_FOR_LINK}
),
cards AS (
    SELECT instrument_id AS value,
           arg_max(bin, _ingest_seq) AS bin,
           arg_max(last4, _ingest_seq) AS last4,
           arg_max(issuer_country, _ingest_seq) AS issuer_country
    FROM payment_methods GROUP BY instrument_id
)
SELECT i.kind, i.value, i.n_accounts, i.n_accounts > $hub_accounts AS hub,
       c.bin, c.last4, c.issuer_country
FROM ident i LEFT JOIN cards c ON i.kind = 'card' AND c.value = i.value
"""

LINKS_SQL = """
SELECT p.account_id, p.kind, p.value, p.count,
       epoch_ms(p.first_seen) AS first_seen, epoch_ms(p.last_seen) AS last_seen
FROM pairs p SEMI JOIN identifiers i ON p.kind = i.kind AND p.value = i.value AND NOT i.hub
"""

ACCOUNT_FEATURES_SQL = f"""
WITH f AS (
    SELECT account_id,
           count(*)::BIGINT AS n_interactions,
           coalesce(sum(input_tokens), 0)::BIGINT AS input_tokens,
           coalesce(sum(output_tokens), 0)::BIGINT AS output_tokens,
           min(ts) AS first_interaction,
           max(ts) AS last_interaction,
           histogram((isodow(ts) - 1) * 24 + hour(ts)) AS how,
           histogram(category) FILTER (WHERE category IS NOT NULL) AS cats
    FROM interactions GROUP BY account_id
)
SELECT account_id, n_interactions, input_tokens, output_tokens, first_interaction, last_interaction,
       list_transform(range({HOURS_PER_WEEK}), lambda h: coalesce(how[h], 0)::BIGINT) AS hour_hist,
       list_sort(map_keys(coalesce(cats, MAP {{}}))) AS category_names,
       list_transform(list_sort(map_keys(coalesce(cats, MAP {{}}))), lambda k: cats[k]::BIGINT) AS category_counts
FROM f
"""

ACCOUNTS_OUT_SQL = """
WITH per_kind AS (
    SELECT account_id,
           count(*) FILTER (WHERE kind = 'ip')::BIGINT AS n_ips,
           count(*) FILTER (WHERE kind = 'device')::BIGINT AS n_devices,
           count(*) FILTER (WHERE kind = 'template')::BIGINT AS n_templates,
           count(*) FILTER (WHERE kind = 'tls')::BIGINT AS n_tls,
           count(*) FILTER (WHERE kind = 'card')::BIGINT AS n_cards
    FROM pairs GROUP BY account_id
),
sess AS (SELECT account_id, count(*)::BIGINT AS n_sessions FROM sessions GROUP BY account_id)
SELECT a.account_id, epoch_ms(a.created_at) AS created_at, a.email_domain, a.country,
       a.signup_ip, a.status,
       coalesce(f.n_interactions, 0) AS n_interactions,
       coalesce(f.input_tokens, 0) AS input_tokens,
       coalesce(f.output_tokens, 0) AS output_tokens,
       epoch_ms(f.first_interaction) AS first_interaction,
       epoch_ms(f.last_interaction) AS last_interaction,
       coalesce(f.hour_hist, list_transform(range(168), lambda h: 0::BIGINT)) AS hour_hist,
       coalesce(f.category_names, []::VARCHAR[]) AS category_names,
       coalesce(f.category_counts, []::BIGINT[]) AS category_counts,
       coalesce(s.n_sessions, 0) AS n_sessions,
       coalesce(k.n_ips, 0) AS n_ips, coalesce(k.n_devices, 0) AS n_devices,
       coalesce(k.n_templates, 0) AS n_templates, coalesce(k.n_tls, 0) AS n_tls,
       coalesce(k.n_cards, 0) AS n_cards
FROM accounts_latest a
LEFT JOIN account_features f USING (account_id)
LEFT JOIN per_kind k USING (account_id)
LEFT JOIN sess s USING (account_id)
"""

LABELS_LATEST_SQL = """
SELECT account_id, operator_label, arg_max(source, _ingest_seq) AS source
FROM labels GROUP BY account_id, operator_label
"""

def hub_accounts(n_accounts: int, share: float, minimum: int) -> float:
    """Identifiers used by more accounts than this are hubs (see IDENTIFIERS_SQL)."""
    return max(float(minimum), share * n_accounts)


def delta_sql(new: str, old: str | None) -> str:
    """Rows of ``new`` that the graph does not hold yet (``old`` is what was written last)."""
    if old is None:
        return f"SELECT * FROM {_ident(new)}"
    return f"SELECT * FROM {_ident(new)} EXCEPT SELECT * FROM {_ident(old)}"


def _ident(name: str) -> str:
    # View names come from this package, never from input; still, refuse anything odd.
    if not name.replace("_", "").isalnum():
        raise ValueError(f"bad relation name {name!r}")
    return name
