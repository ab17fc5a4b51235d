"""What ties accounts to their operator: the shared values, weighed by the fitted model (pure).

Each value an operator's members share is weighed by what sharing it tells two accounts: the
fitted ``log2(m/u)`` of the level it produces (``fellegi_sunter.py``): a card of three accounts
weighs a lot, a subnet of thousands little. An operator's evidence is its values shared by the
most members times that weight; an account's is its own shared values with its operator's other
members, and the membership comparisons that accepted it (``membership.py``).

Computed with DuckDB over the run's integer-id tables, so it scales to operators of tens of
thousands of accounts without Python loops.
"""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pyarrow as pa

from sybilgraph.attribution.comparisons import COMPARISONS, KIND_TO_COMPARISON, comparison, frequency_level, place_level, place_levels
from sybilgraph.attribution.fellegi_sunter import FSModel

__all__ = ["EvidenceTables", "evidence_tables", "identifier_weight", "value_weights"]

_MEMBER_LINKS_SQL = """
CREATE OR REPLACE TEMP TABLE member_links AS
SELECT l.aid, m.operator_id, v.kind, v.value, w.weight, l.n AS n_accounts,
       count(*) OVER (PARTITION BY m.operator_id, l.vid) AS members_sharing
FROM lk l JOIN membership m USING (aid) JOIN vals v USING (vid) JOIN vweight w USING (vid)
"""

_SHARED_SQL = """
CREATE OR REPLACE TEMP TABLE shared AS
SELECT operator_id, kind, value, any_value(members_sharing)::BIGINT AS members_sharing,
       max(weight) AS weight, max(n_accounts)::BIGINT AS n_accounts
FROM member_links
WHERE members_sharing >= 2
GROUP BY operator_id, kind, value
"""

_OPERATOR_SQL = """
WITH ranked AS (
    SELECT *, row_number() OVER (PARTITION BY operator_id
                                 ORDER BY members_sharing * greatest(weight, 0) DESC, kind, value) AS rn
    FROM shared
)
SELECT operator_id,
       list({'kind': kind, 'value': value, 'members_sharing': members_sharing,
             'n_accounts': n_accounts, 'weight': round(weight, 3)} ORDER BY rn) AS evidence
FROM ranked WHERE rn <= $top
GROUP BY operator_id
"""

_ACCOUNT_SQL = """
WITH items AS (
    SELECT aid, kind, value, members_sharing, weight,
           row_number() OVER (PARTITION BY aid ORDER BY members_sharing * greatest(weight, 0) DESC, kind, value) AS rn
    FROM member_links
    WHERE members_sharing >= 2
)
SELECT a.account_id,
       list({'kind': kind, 'value': value, 'members_sharing': members_sharing,
             'weight': round(weight, 3)} ORDER BY rn) AS evidence
FROM items i JOIN accts a USING (aid)
WHERE rn <= $top
GROUP BY a.account_id
"""


class EvidenceTables:
    def __init__(self, operators: dict[str, str], accounts: dict[str, str], shared: pa.Table) -> None:
        self.operators = operators  # operator_id -> evidence_json
        self.accounts = accounts  # account_id -> evidence_json
        self.shared = shared  # operator_id, kind, value, members_sharing, weight, n_accounts


def identifier_weight(model: FSModel, kind: str, n_accounts: int, population: int) -> float:
    """The fitted weight (bits) of two accounts sharing one value of ``kind`` used by
    ``n_accounts`` of ``population`` accounts: the level it produces in its comparison (an IP or
    subnet with no shared e-mail domain; an e-mail domain alone), 0 for kinds the pair model does
    not compare and for hubs it never saw."""
    c_name = KIND_TO_COMPARISON.get(kind)
    if c_name is None or c_name not in model.comparisons or n_accounts < 2 or population < 2:
        return 0.0
    j = model.comparisons.index(c_name)
    c = comparison(c_name)
    share = n_accounts / population
    if c_name == "place":
        level = place_level(0, share) if kind == "email_domain" else place_level(frequency_level(c, kind, share), None)
    else:
        level = frequency_level(c, kind, share)
    return float(model.weights()[j][level])


def value_weights(con: duckdb.DuckDBPyConnection, model: FSModel) -> pa.Table:
    """(vid, weight): the fitted weight of sharing each value, by the level it produces."""
    rows = con.execute("SELECT DISTINCT vid, cid, level, coalesce(email_share, -1.0) AS email FROM lk").fetchnumpy()
    vid = np.asarray(rows["vid"], dtype=np.int64)
    cid = np.asarray(rows["cid"], dtype=np.int64)
    level = np.asarray(rows["level"], dtype=np.int64)
    email = np.asarray(rows["email"], dtype=float)
    weights = model.weights()
    out = np.zeros(len(vid))
    place = [i for i, c in enumerate(COMPARISONS) if c.name == "place"][0]
    for j, w in enumerate(weights):
        sel = cid == j
        if not sel.any():
            continue
        lv = place_levels(level[sel], email[sel]) if j == place else level[sel]
        out[sel] = w[np.asarray(lv, dtype=np.int64)]
    return pa.table({"vid": pa.array(vid, pa.int32()), "weight": pa.array(out)})


def evidence_tables(
    con: duckdb.DuckDBPyConnection, model: FSModel, membership: pa.Table, top_operator: int = 10, top_account: int = 5
) -> EvidenceTables:
    """``membership``: (aid int32, operator_id string) of every placed account."""
    con.register("vweight", value_weights(con, model))
    con.register("membership", membership)
    try:
        con.execute(_MEMBER_LINKS_SQL)
        con.execute(_SHARED_SQL)
        ops = con.execute(_OPERATOR_SQL, {"top": top_operator}).fetchall()
        accs = con.execute(_ACCOUNT_SQL, {"top": top_account}).fetchall()
        shared = con.sql("SELECT * FROM shared").to_arrow_table()
    finally:
        con.unregister("vweight")
        con.unregister("membership")
    return EvidenceTables(
        {op: json.dumps(ev) for op, ev in ops},
        {a: json.dumps(ev) for a, ev in accs},
        shared,
    )
