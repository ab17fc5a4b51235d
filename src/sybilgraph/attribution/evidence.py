"""What ties accounts to their operator: shared identifiers with member counts and weights (pure).

Computed with DuckDB over the weighted links (hubs already removed), so it scales to tens of
thousands of members without Python loops.
"""

from __future__ import annotations

import json

import duckdb
import pyarrow as pa

__all__ = ["EvidenceTables", "evidence_tables"]

_SHARED_SQL = """
SELECT m.operator_id, wl.kind, wl.value, count(*)::BIGINT AS members_sharing,
       max(wl.w) AS weight, max(wl.n_accounts)::BIGINT AS n_accounts
FROM wl JOIN membership m USING (account_id)
GROUP BY m.operator_id, wl.kind, wl.value
HAVING count(*) >= 2
"""

_OPERATOR_SQL = """
SELECT operator_id,
       list({'kind': kind, 'value': value, 'members_sharing': members_sharing,
             'n_accounts': n_accounts, 'weight': round(weight, 3)}
            ORDER BY members_sharing * weight DESC, kind, value)[1:$top] AS evidence,
       max(CASE WHEN kind = 'template' THEN members_sharing END) AS top_template_members,
       max(CASE WHEN kind = 'tls' THEN members_sharing END) AS top_tls_members
FROM shared GROUP BY operator_id
"""

_ACCOUNT_SQL = """
SELECT wl.account_id,
       list({'kind': s.kind, 'value': s.value, 'members_sharing': s.members_sharing,
             'weight': round(s.weight, 3)}
            ORDER BY s.members_sharing * s.weight DESC, s.kind, s.value)[1:$top] AS evidence
FROM wl JOIN membership m USING (account_id)
JOIN shared s ON s.operator_id = m.operator_id AND s.kind = wl.kind AND s.value = wl.value
GROUP BY wl.account_id
"""


class EvidenceTables:
    def __init__(self, operators: dict[str, dict[str, object]], accounts: dict[str, str]) -> None:
        self.operators = operators  # operator_id -> {evidence_json, top_template_members, top_tls_members}
        self.accounts = accounts  # account_id -> evidence_json


def evidence_tables(weighted_links: pa.Table, membership: pa.Table, top_operator: int = 10, top_account: int = 5) -> EvidenceTables:
    con = duckdb.connect()
    try:
        con.register("wl", weighted_links)
        con.register("membership", membership)
        con.execute(f"CREATE TEMP TABLE shared AS {_SHARED_SQL}")
        ops = con.execute(_OPERATOR_SQL, {"top": top_operator}).fetchall()
        accs = con.execute(_ACCOUNT_SQL, {"top": top_account}).fetchall()
    finally:
        con.close()
    operators = {
        op: {"evidence_json": json.dumps(ev), "top_template_members": tt or 0, "top_tls_members": tl or 0}
        for op, ev, tt, tl in ops
    }
    return EvidenceTables(operators, {a: json.dumps(ev) for a, ev in accs})
