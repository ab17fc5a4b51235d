"""Aggregation of the columnar store into what the graph holds (DuckDB SQL, pure builders).

Interactions are tens of millions of rows; the graph needs only who used what, how often and
when, plus per-account activity features. Aggregation has two stages:

1. *Partial* (``PAIRS_PARTIAL_SQL``, ``ACTIVITY_PARTIAL_SQL``): the heavy scan of one delivery's
   ``interactions``, ``sessions`` and ``payment_methods`` into per (account, identifier) usage and
   per-account activity. Partials are additive: counts sum, first/last seen take min/max,
   histograms add, active days unite.
2. *Combine* (the other statements): every live delivery's partials, folded, plus the small
   versioned tables (``accounts``, ``payment_methods`` card details, ``labels``,
   ``organisations``, ``ip_owners``; a later delivery's row wins per key, by ``_ingest_seq``)
   into the state the graph holds. Every value is absolute, so re-runs converge on one graph.

Relations the caller registers: for a partial, ``interactions``, ``sessions`` and
``payment_methods`` of the rows to aggregate; for combining, ``pairs_partial`` and
``activity_partial`` (every live delivery's partials), the staged ``accounts``,
``payment_methods``, ``labels``, ``organisations``, ``ip_owners`` and ``ip_networks`` (the
owner of each IP, ``networks.match_networks``). Timestamps leave as epoch milliseconds.
"""

from __future__ import annotations

from sybilgraph.contract import NETWORK_KINDS

__all__ = [
    "MIN_ACCOUNTS_FOR_LINK",
    "HOURS_PER_WEEK",
    "MS_PER_DAY",
    "PAIRS_PARTIAL_PARTS",
    "PAIRS_PARTIAL_SQL",
    "HOUR_OF_WEEK_SQL",
    "ACTIVITY_PARTIAL_SQL",
    "HOURS_PARTIAL_SQL",
    "ACCOUNTS_LATEST_SQL",
    "IP_OWNERS_LATEST_SQL",
    "PAIRS_SQL",
    "ACCOUNT_IDENTIFIERS_SQL",
    "network_owner_usage_sql",
    "IDENTIFIER_COUNTS_SQL",
    "IDENTIFIERS_SQL",
    "LINKS_SQL",
    "ACTIVITY_SQL",
    "ACCOUNTS_OUT_SQL",
    "LABELS_LATEST_SQL",
    "ORGANISATIONS_LATEST_SQL",
    "NET_KIND_COLUMNS",
    "delta_sql",
    "hub_accounts",
]

# An identifier of a single account ties nobody together: no node, no link.
MIN_ACCOUNTS_FOR_LINK = 2
HOURS_PER_WEEK = 168
MS_PER_DAY = 86_400_000

# Per account, activity seen from each kind of network (ip_owners.kind): n_datacenter, ...
NET_KIND_COLUMNS: dict[str, str] = {kind: f"n_{kind}" for kind in NETWORK_KINDS}

# -- stage 1: partials of one delivery ----------------------------------------------------------
# One GROUP BY per identifier kind, UNION ALL: each reads only its columns, and DuckDB runs them
# side by side (measured 2.9x faster than one GROUPING SETS scan on 9.4M interactions); a kind
# seen in two tables groups the union of their rows, so every (account, kind, value) comes out
# once. Times leave as epoch milliseconds taken from the timestamp's value (no calendar work).
_SOURCES: dict[str, tuple[tuple[str, str, str], ...]] = {  # kind -> (table, column, time column)
    "ip": (("interactions", "ip", "ts"), ("sessions", "ip", "ts")),
    "subnet": (("interactions", "subnet", "ts"), ("sessions", "subnet", "ts")),
    "device": (("interactions", "device_id", "ts"), ("sessions", "device_id", "ts")),
    "api_key": (("interactions", "api_key_id", "ts"),),
    "template": (("interactions", "prompt_fingerprint", "ts"),),
    "tls": (("sessions", "tls_fingerprint", "ts"),),
    "user_agent": (("sessions", "user_agent", "ts"),),
    "card": (("payment_methods", "instrument_id", "added_at"),),
    "bin": (("payment_methods", "bin", "added_at"),),
}


def _usage(kind: str, sources: tuple[tuple[str, str, str], ...]) -> str:
    if len(sources) == 1:
        table, column, ts = sources[0]
        return (f"SELECT account_id, '{kind}' AS kind, {column} AS value, count(*)::BIGINT AS count, "
                f"min(epoch_ms({ts})) AS first_seen, max(epoch_ms({ts})) AS last_seen "
                f"FROM {table} WHERE {column} IS NOT NULL GROUP BY account_id, {column}")
    rows = " UNION ALL ".join(
        f"SELECT account_id, {column} AS value, epoch_ms({ts}) AS t FROM {table} WHERE {column} IS NOT NULL"
        for table, column, ts in sources
    )
    return (f"SELECT account_id, '{kind}' AS kind, value, count(*)::BIGINT AS count, min(t) AS first_seen, "
            f"max(t) AS last_seen FROM ({rows}) GROUP BY account_id, value")


# One statement per kind, for engines that run them one after another (DuckDBAggregator: one
# kind's hash table in memory at a time), and all of them as one UNION ALL.
PAIRS_PARTIAL_PARTS: tuple[str, ...] = tuple(_usage(kind, sources) for kind, sources in _SOURCES.items())
PAIRS_PARTIAL_SQL = "\nUNION ALL\n".join(PAIRS_PARTIAL_PARTS)

# Hour of week (Monday 00:00 UTC = 0) from epoch milliseconds: 1970-01-01 was a Thursday, so
# hour h of the epoch is hour (h + 72) mod 168 of its week.
HOUR_OF_WEEK_SQL = "((epoch_ms(ts) // 3600000 + 72) % 168)"

# One simple GROUP BY per feature, joined by account: DuckDB aggregates several MAP-valued
# histograms in one GROUP BY several times slower than each on its own (measured 12 s against
# 1.7 s apiece on 9.4M interactions). The hour-of-week histogram is not here: a 168-long list
# per account built from a MAP (168 lookups per account) took ~5 of the 11 s this statement
# took at scale 1.0; ``HOURS_PARTIAL_SQL`` counts (account, hour) instead and
# ``aggregators.hour_histograms`` lays the counts out (2.4 + 0.3 s, measured in one process).
ACTIVITY_PARTIAL_SQL = f"""
WITH totals AS (
    SELECT account_id,
           count(*)::BIGINT AS n_interactions,
           coalesce(sum(input_tokens), 0)::BIGINT AS input_tokens,
           coalesce(sum(output_tokens), 0)::BIGINT AS output_tokens,
           min(epoch_ms(ts)) AS first_interaction,
           max(epoch_ms(ts)) AS last_interaction,
           count(api_key_id)::BIGINT AS n_api_key_requests
    FROM interactions GROUP BY account_id
),
cats AS (SELECT account_id, histogram(category) AS cats FROM interactions WHERE category IS NOT NULL GROUP BY account_id),
models AS (SELECT account_id, histogram(model) AS models FROM interactions WHERE model IS NOT NULL GROUP BY account_id),
days AS (
    SELECT account_id, list_sort(list(DISTINCT (epoch_ms(ts) // {MS_PER_DAY})::INTEGER)) AS days
    FROM interactions GROUP BY account_id
),
f AS (
    SELECT t.*, c.cats, m.models, d.days
    FROM totals t JOIN days d USING (account_id)
    LEFT JOIN cats c USING (account_id) LEFT JOIN models m USING (account_id)
),
s AS (SELECT account_id, count(*)::BIGINT AS n_sessions FROM sessions GROUP BY account_id)
SELECT coalesce(f.account_id, s.account_id) AS account_id,
       coalesce(f.n_interactions, 0) AS n_interactions,
       coalesce(f.input_tokens, 0) AS input_tokens,
       coalesce(f.output_tokens, 0) AS output_tokens,
       f.first_interaction, f.last_interaction,
       coalesce(f.n_api_key_requests, 0) AS n_api_key_requests,
       list_sort(map_keys(coalesce(f.cats, MAP {{}}))) AS category_names,
       list_transform(list_sort(map_keys(coalesce(f.cats, MAP {{}}))), lambda k: f.cats[k]::BIGINT) AS category_counts,
       list_sort(map_keys(coalesce(f.models, MAP {{}}))) AS model_names,
       list_transform(list_sort(map_keys(coalesce(f.models, MAP {{}}))), lambda k: f.models[k]::BIGINT) AS model_counts,
       coalesce(f.days, []::INTEGER[]) AS days,
       coalesce(s.n_sessions, 0) AS n_sessions
FROM f FULL OUTER JOIN s ON f.account_id = s.account_id
"""

# Interactions per (account, hour of week): the partial's ``hour_hist``, sparse.
HOURS_PARTIAL_SQL = f"""
SELECT account_id, {HOUR_OF_WEEK_SQL}::INTEGER AS hour, count(*)::BIGINT AS n FROM interactions GROUP BY ALL
"""

# -- stage 2: combine every live delivery -------------------------------------------------------
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

IP_OWNERS_LATEST_SQL = """
SELECT cidr, arg_max(owner, _ingest_seq) AS owner, arg_max(asn, _ingest_seq) AS asn,
       arg_max(kind, _ingest_seq) AS kind
FROM ip_owners GROUP BY cidr
"""

# Usage of every identifier by every account, identifiers of one account included; rows of
# accounts no live delivery has (their delivery was withdrawn) do not count.
PAIRS_SQL = """
WITH raw AS (
    SELECT account_id, kind, value, count, first_seen, last_seen FROM pairs_partial
    UNION ALL
    SELECT account_id, 'ip', signup_ip, 1, epoch_ms(created_at), epoch_ms(created_at)
    FROM accounts_latest WHERE signup_ip IS NOT NULL
    UNION ALL
    SELECT account_id, 'subnet', signup_subnet, 1, epoch_ms(created_at), epoch_ms(created_at)
    FROM accounts_latest WHERE signup_subnet IS NOT NULL
    UNION ALL
    SELECT account_id, 'email_domain', email_domain, 1, epoch_ms(created_at), epoch_ms(created_at)
    FROM accounts_latest WHERE email_domain IS NOT NULL
)
SELECT account_id, kind, value, sum(count)::BIGINT AS count,
       min(first_seen) AS first_seen, max(last_seen) AS last_seen
FROM raw SEMI JOIN accounts_latest USING (account_id)
GROUP BY account_id, kind, value
"""


def network_owner_usage_sql(pairs: str) -> str:
    """Per account, its use of the owner of every network it used (kind ``network_owner``): the
    ``ip`` rows of relation ``pairs`` folded by ``ip_networks.owner``. Its own statement, so that
    combining can fold them from the ip rows alone into each range of accounts it groups
    (``combine._usage``) rather than from a table of every usage row; ``pairs`` is a relation
    name, never data."""
    return f"""
SELECT p.account_id, 'network_owner' AS kind, n.owner AS value, sum(p.count)::BIGINT AS count,
       min(p.first_seen) AS first_seen, max(p.last_seen) AS last_seen
FROM {pairs} p JOIN ip_networks n ON p.kind = 'ip' AND p.value = n.ip
GROUP BY p.account_id, n.owner
"""


# pairs plus the owner of the networks each account used (network_owner).
ACCOUNT_IDENTIFIERS_SQL = f"""
SELECT account_id, kind, value, count, first_seen, last_seen FROM pairs
UNION ALL
{network_owner_usage_sql("pairs")}"""

# ``hub``: used by more than $hub_accounts accounts (a share of the population): carrier NAT,
# VPN exits, browser TLS, the most popular templates. The node and its rarity are written, but
# not a link per account: they tie nobody together, and hundreds of thousands of links to one
# node would dominate the write and every traversal through it. Their users stay queryable in
# the account_identifiers state table.
# Accounts per identifier. IDENTIFIERS_SQL reads this relation, not account_identifiers, so that
# a splice (``splice.py``) can hand it the counts of the few identifiers a delivery touched.
IDENTIFIER_COUNTS_SQL = """
SELECT kind, value, count(*)::BIGINT AS n_accounts FROM account_identifiers GROUP BY kind, value
"""

IDENTIFIERS_SQL = f"""
WITH ident AS (
    SELECT kind, value, n_accounts FROM identifier_counts WHERE n_accounts >= {MIN_ACCOUNTS_FOR_LINK}
),
cards AS (
    SELECT instrument_id AS value,
           arg_max(bin, _ingest_seq) AS bin,
           arg_max(last4, _ingest_seq) AS last4,
           arg_max(issuer_country, _ingest_seq) AS issuer_country
    FROM payment_methods GROUP BY instrument_id
)
SELECT i.kind, i.value, i.n_accounts, i.n_accounts > $hub_accounts AS hub,
       c.bin, c.last4, c.issuer_country,
       n.owner, n.asn, n.net_kind
FROM ident i
LEFT JOIN cards c ON i.kind = 'card' AND c.value = i.value
LEFT JOIN ip_networks n ON i.kind = 'ip' AND n.ip = i.value
"""

LINKS_SQL = """
SELECT p.account_id, p.kind, p.value, p.count, p.first_seen, p.last_seen
FROM account_identifiers p SEMI JOIN identifiers i ON p.kind = i.kind AND p.value = i.value AND NOT i.hub
"""

# The hour-of-week histograms of several partials added element by element: one sum per hour
# in a single GROUP BY (unnesting them into (account, hour) rows and grouping again was ~4x the
# CPU, measured on 0.11M partial rows).
_HOUR_SUMS = "[" + ", ".join(f"sum(hour_hist[{h + 1}])::BIGINT" for h in range(HOURS_PER_WEEK)) + "]"

# Every live delivery's activity partials folded per account. An account in one partial only
# (the usual case) is taken as it is; the others add up element by element.
ACTIVITY_SQL = f"""
WITH multi AS (
    SELECT account_id FROM activity_partial GROUP BY account_id HAVING count(*) > 1
),
single AS (
    SELECT * FROM activity_partial ANTI JOIN multi USING (account_id)
),
parts AS (
    SELECT * FROM activity_partial SEMI JOIN multi USING (account_id)
),
totals AS (
    SELECT account_id, sum(n_interactions)::BIGINT AS n_interactions,
           sum(input_tokens)::BIGINT AS input_tokens, sum(output_tokens)::BIGINT AS output_tokens,
           min(first_interaction) AS first_interaction, max(last_interaction) AS last_interaction,
           sum(n_api_key_requests)::BIGINT AS n_api_key_requests,
           list_sort(list_distinct(flatten(list(days)))) AS days,
           sum(n_sessions)::BIGINT AS n_sessions
    FROM parts GROUP BY account_id
),
hours AS (SELECT account_id, {_HOUR_SUMS} AS hour_hist FROM parts GROUP BY account_id),
cats AS (
    SELECT account_id, list(name ORDER BY name) AS category_names, list(n ORDER BY name) AS category_counts
    FROM (SELECT account_id, name, sum(n)::BIGINT AS n
          FROM (SELECT account_id, unnest(category_names) AS name, unnest(category_counts) AS n FROM parts)
          GROUP BY account_id, name)
    GROUP BY account_id
),
models AS (
    SELECT account_id, list(name ORDER BY name) AS model_names, list(n ORDER BY name) AS model_counts
    FROM (SELECT account_id, name, sum(n)::BIGINT AS n
          FROM (SELECT account_id, unnest(model_names) AS name, unnest(model_counts) AS n FROM parts)
          GROUP BY account_id, name)
    GROUP BY account_id
)
SELECT account_id, n_interactions, input_tokens, output_tokens, first_interaction, last_interaction,
       n_api_key_requests, hour_hist, category_names, category_counts, model_names, model_counts,
       days, n_sessions
FROM single
UNION ALL
SELECT t.account_id, t.n_interactions, t.input_tokens, t.output_tokens, t.first_interaction,
       t.last_interaction, t.n_api_key_requests, h.hour_hist,
       coalesce(c.category_names, []::VARCHAR[]), coalesce(c.category_counts, []::BIGINT[]),
       coalesce(m.model_names, []::VARCHAR[]), coalesce(m.model_counts, []::BIGINT[]),
       t.days, t.n_sessions
FROM totals t JOIN hours h USING (account_id)
LEFT JOIN cats c USING (account_id) LEFT JOIN models m USING (account_id)
"""

_NET_KIND_SUMS = ",\n           ".join(
    f"coalesce(sum(p.count) FILTER (WHERE n.net_kind = '{kind}'), 0)::BIGINT AS {column}"
    for kind, column in NET_KIND_COLUMNS.items()
)
_NET_KIND_OUT = ", ".join(f"coalesce(nk.{c}, 0) AS {c}" for c in NET_KIND_COLUMNS.values())

# Reads account_identifiers (pairs plus network_owner rows, which no count here selects), so that
# combining can drop its copy of pairs first (memory).
ACCOUNTS_OUT_SQL = f"""
WITH per_kind AS (
    SELECT account_id,
           count(*) FILTER (WHERE kind = 'ip')::BIGINT AS n_ips,
           count(*) FILTER (WHERE kind = 'device')::BIGINT AS n_devices,
           count(*) FILTER (WHERE kind = 'template')::BIGINT AS n_templates,
           count(*) FILTER (WHERE kind = 'tls')::BIGINT AS n_tls,
           count(*) FILTER (WHERE kind = 'card')::BIGINT AS n_cards,
           count(*) FILTER (WHERE kind = 'user_agent')::BIGINT AS n_user_agents,
           count(*) FILTER (WHERE kind = 'api_key')::BIGINT AS n_api_keys
    FROM account_identifiers GROUP BY account_id
),
net_kinds AS (
    SELECT p.account_id,
           {_NET_KIND_SUMS}
    FROM account_identifiers p JOIN ip_networks n ON p.kind = 'ip' AND p.value = n.ip
    GROUP BY p.account_id
)
SELECT a.account_id, epoch_ms(a.created_at) AS created_at, a.email_domain, a.country,
       a.signup_ip, a.status,
       coalesce(f.n_interactions, 0) AS n_interactions,
       coalesce(f.input_tokens, 0) AS input_tokens,
       coalesce(f.output_tokens, 0) AS output_tokens,
       f.first_interaction, f.last_interaction,
       coalesce(f.hour_hist, list_transform(range({HOURS_PER_WEEK}), lambda h: 0::BIGINT)) AS hour_hist,
       coalesce(f.category_names, []::VARCHAR[]) AS category_names,
       coalesce(f.category_counts, []::BIGINT[]) AS category_counts,
       coalesce(f.model_names, []::VARCHAR[]) AS model_names,
       coalesce(f.model_counts, []::BIGINT[]) AS model_counts,
       coalesce(f.n_api_key_requests, 0) AS n_api_key_requests,
       coalesce(len(f.days), 0)::BIGINT AS active_days,
       coalesce(f.n_sessions, 0) AS n_sessions,
       coalesce(k.n_ips, 0) AS n_ips, coalesce(k.n_devices, 0) AS n_devices,
       coalesce(k.n_templates, 0) AS n_templates, coalesce(k.n_tls, 0) AS n_tls,
       coalesce(k.n_cards, 0) AS n_cards, coalesce(k.n_user_agents, 0) AS n_user_agents,
       coalesce(k.n_api_keys, 0) AS n_api_keys,
       {_NET_KIND_OUT}
FROM accounts_latest a
LEFT JOIN activity f USING (account_id)
LEFT JOIN per_kind k USING (account_id)
LEFT JOIN net_kinds nk USING (account_id)
"""

LABELS_LATEST_SQL = """
SELECT account_id, operator_label,
       arg_max(source, _ingest_seq) AS source,
       arg_max(organisation, _ingest_seq) AS organisation
FROM labels SEMI JOIN accounts_latest USING (account_id)
GROUP BY account_id, operator_label
"""

# ``domains`` is ';'-separated text in the contract, a sorted list of lower-cased names here.
ORGANISATIONS_LATEST_SQL = """
WITH latest AS (
    SELECT org_id, arg_max(name, _ingest_seq) AS name, arg_max(country, _ingest_seq) AS country,
           arg_max(domains, _ingest_seq) AS domains, arg_max(kind, _ingest_seq) AS kind
    FROM organisations GROUP BY org_id
)
SELECT org_id, name, country,
       list_sort(list_distinct(list_filter(list_transform(string_split(coalesce(domains, ''), ';'),
                                                          lambda d: lower(trim(d))),
                                           lambda d: d <> ''))) AS domains,
       kind
FROM latest
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
