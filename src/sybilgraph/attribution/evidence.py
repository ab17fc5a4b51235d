"""What ties accounts to their operator: shared identifiers with member counts and weights (pure).

Computed with DuckDB over the weighted links (hubs already removed), so it scales to tens of
thousands of members without Python loops.
"""

from __future__ import annotations

import json

import duckdb
import pyarrow as pa

__all__ = ["EvidenceTables", "evidence_tables"]

# Each member's links with how many members of its operator share the identifier. One pass
# over the links: joining the links back to a per-operator summary lets the planner pair every
# member with every shared identifier of its operator (hours at campaign scale).
_MEMBER_LINKS_SQL = """
SELECT wl.account_id, m.operator_id, wl.kind, wl.value, wl.w AS weight, wl.n_accounts,
       count(*) OVER (PARTITION BY m.operator_id, wl.kind, wl.value) AS members_sharing
FROM wl JOIN membership m USING (account_id)
"""

_SHARED_SQL = """
SELECT operator_id, kind, value, any_value(members_sharing)::BIGINT AS members_sharing,
       max(weight) AS weight, max(n_accounts)::BIGINT AS n_accounts
FROM member_links
WHERE members_sharing >= 2
GROUP BY operator_id, kind, value
"""

# Top items by window rank, not by sorting whole lists: an operator of thousands of accounts
# shares thousands of identifiers, and only the strongest few are kept.
_OPERATOR_SQL = """
WITH ranked AS (
    SELECT *, row_number() OVER (PARTITION BY operator_id
                                 ORDER BY members_sharing * weight DESC, kind, value) AS rn
    FROM shared
),
tops AS (
    SELECT operator_id,
           max(CASE WHEN kind = 'template' THEN members_sharing END) AS top_template_members,
           max(CASE WHEN kind = 'tls' THEN members_sharing END) AS top_tls_members
    FROM shared GROUP BY operator_id
)
SELECT r.operator_id,
       list({'kind': kind, 'value': value, 'members_sharing': members_sharing,
             'n_accounts': n_accounts, 'weight': round(weight, 3)} ORDER BY rn) AS evidence,
       any_value(t.top_template_members), any_value(t.top_tls_members)
FROM ranked r JOIN tops t USING (operator_id)
WHERE rn <= $top
GROUP BY r.operator_id
"""

_ACCOUNT_SQL = """
WITH items AS (
    SELECT account_id, kind, value, members_sharing, weight,
           row_number() OVER (PARTITION BY account_id
                              ORDER BY members_sharing * weight DESC, kind, value) AS rn
    FROM member_links
    WHERE members_sharing >= 2
)
SELECT account_id,
       list({'kind': kind, 'value': value, 'members_sharing': members_sharing,
             'weight': round(weight, 3)} ORDER BY rn) AS evidence
FROM items WHERE rn <= $top
GROUP BY account_id
"""


class EvidenceTables:
    def __init__(self, operators: dict[str, dict[str, object]], accounts: dict[str, str]) -> None:
        self.operators = operators  # operator_id -> {evidence_json, top_template_members, top_tls_members}
        self.accounts = accounts  # account_id -> evidence_json


def evidence_tables(
    weighted_links: pa.Table,
    membership: pa.Table,
    top_operator: int = 10,
    top_account: int = 5,
    memory_limit: str = "4GB",
    spill_dir: str | None = None,
) -> EvidenceTables:
    con = duckdb.connect()
    try:
        con.execute("SET threads = 2")
        con.execute("SET memory_limit = ?", [memory_limit])
        if spill_dir:
            con.execute("SET temp_directory = ?", [spill_dir])
        con.register("wl", weighted_links)
        con.register("membership", membership)
        con.execute(f"CREATE TEMP TABLE member_links AS {_MEMBER_LINKS_SQL}")
        con.execute(f"CREATE TEMP TABLE shared AS {_SHARED_SQL}")
        ops = con.sql(_OPERATOR_SQL, params={"top": top_operator}).fetchall()
        accs = con.sql(_ACCOUNT_SQL, params={"top": top_account}).fetchall()
    finally:
        con.close()
    operators = {
        op: {"evidence_json": json.dumps(ev), "top_template_members": tt or 0, "top_tls_members": tl or 0}
        for op, ev, tt, tl in ops
    }
    return EvidenceTables(operators, {a: json.dumps(ev) for a, ev in accs})
