"""Control epochs: when an account changed hands (account takeover), from ingest's per-account
identifier intervals (pure, DuckDB).

Operators also drive hijacked aged accounts. Such an account has two lives: its owner's devices,
home lines and habits until a time T, then the hijacker's. Evidence is time-scoped: from T on the
account is attributed by what it does under its new controller, and what it shared before T (its
owner's household, home line, family card) no longer ties it to anybody, so a household is not
pulled into an operator through its member's hijacked account.

A change of control at T is read off the account's own identifiers (``account_identifiers``:
every device, TLS client, user agent, IP, subnet and API key it used, with first and last use):

* its client (devices, TLS clients, user agents) *and* its network (IPs, subnets) both switch at
  T: some were used only before T, others only from T on;
* nothing of either (nor an API key) is used on both sides of T: a person who buys a new phone
  keeps their home line; one who moves keeps their laptop; a takeover replaces both at once.
  Values shared by more than ``hub_share`` of all accounts (a browser's TLS stack, a carrier's
  NAT) say nothing about who holds the account and do not count either way.

Of the times that qualify (the first use of one of its identifiers), the one that best balances
the two lives (the larger smaller side, by uses) is the account's epoch boundary.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

__all__ = ["CLIENT_KINDS", "NETWORK_KINDS", "control_changes"]

CLIENT_KINDS = ("device", "tls", "user_agent")
NETWORK_KINDS = ("ip", "subnet")

_CHANGES_SQL = f"""
WITH users AS (SELECT kind, value, count(DISTINCT account_id) AS n FROM ai GROUP BY kind, value),
total AS (SELECT count(DISTINCT account_id) AS n FROM ai),
ids AS (
    SELECT a.account_id, a.kind, a.first_seen, a.last_seen, coalesce(a.count, 1) AS uses,
           a.kind IN {CLIENT_KINDS} AS client, a.kind IN {NETWORK_KINDS} AS network
    FROM ai a JOIN users u USING (kind, value), total
    WHERE a.kind IN {CLIENT_KINDS + NETWORK_KINDS + ("api_key",)}
      AND a.first_seen IS NOT NULL AND a.last_seen IS NOT NULL
      AND u.n <= $hub_share * total.n
),
starts AS (SELECT account_id, min(first_seen) AS born FROM ids GROUP BY account_id),
cand AS (
    SELECT DISTINCT i.account_id, i.first_seen AS t
    FROM ids i JOIN starts s USING (account_id)
    WHERE i.first_seen > s.born AND (i.client OR i.network)
),
sides AS (
    SELECT c.account_id, c.t,
           count(*) FILTER (WHERE i.client AND i.last_seen < c.t) AS old_client,
           count(*) FILTER (WHERE i.client AND i.first_seen >= c.t) AS new_client,
           count(*) FILTER (WHERE i.network AND i.last_seen < c.t) AS old_network,
           count(*) FILTER (WHERE i.network AND i.first_seen >= c.t) AS new_network,
           count(*) FILTER (WHERE i.first_seen < c.t AND i.last_seen >= c.t) AS spanning,
           sum(i.uses) FILTER (WHERE i.last_seen < c.t) AS old_uses,
           sum(i.uses) FILTER (WHERE i.first_seen >= c.t) AS new_uses
    FROM cand c JOIN ids i USING (account_id)
    GROUP BY c.account_id, c.t
),
ok AS (
    SELECT *, least(old_uses, new_uses) AS balance FROM sides
    WHERE old_client > 0 AND new_client > 0 AND old_network > 0 AND new_network > 0 AND spanning = 0
)
SELECT account_id, arg_max(t, balance * 1e15 - t) AS controlled_from
FROM ok GROUP BY account_id
ORDER BY account_id
"""


def control_changes(account_identifiers: pa.Table, hub_share: float = 0.05) -> pa.Table:
    """(account_id, controlled_from epoch ms) of the accounts whose control changed."""
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        con.register("ai", account_identifiers)
        return con.sql(_CHANGES_SQL, params={"hub_share": hub_share}).to_arrow_table()
    finally:
        con.close()
