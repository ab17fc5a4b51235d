"""Account-to-account evidence edges from shared identifiers (DuckDB, no database server).

Input ``links(account_id, kind, value, n_accounts, count)``: one row per account and shared
identifier, as the graph holds them (``count``: how often the account used it). A shared use
weighs by the lighter user's reliance on the identifier, ``1 - exp(-count / scale)``: a prompt
template or an IP used once or twice is mostly coincidence, one used every day is a habit. Output ``edges(src, dst, weight, kinds)``: account pairs whose summed
evidence (``weights.py``) reaches ``min_edge_weight``.

Small identifiers (``n <= exact_max_accounts``) give every pair of their accounts. Larger ones
would give quadratic many pairs (a proxy pool or a template pool of thousands of accounts), so
they use the multi-pass sorted-neighbourhood method (Hernandez & Stolfo, 1995): accounts are
put in a global pseudo-random order and each is paired with its next ``window`` users of the
identifier, in ``passes`` independent orders (one order alone gives a group a chain-like band
of edges, which community detection would cut into segments; a few orders give it an expander).
When many identifiers share the same users (an operator's template pool, TLS client and proxy
subnets) the same neighbouring pairs recur and their weight adds up; an identifier shared by
strangers pairs different neighbours each time and no pair accumulates.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from sybilgraph.attribution.params import KIND_FAMILIES, PERSONAL_KINDS, AttributionParams
from sybilgraph.attribution.weights import hub_cutoff

__all__ = ["weighted_links", "candidate_edges", "EDGE_SCHEMA"]

EDGE_SCHEMA = pa.schema(
    [("src", pa.string()), ("dst", pa.string()), ("weight", pa.float64()), ("kinds", pa.list_(pa.string()))]
)

_WEIGHTED_LINKS_SQL = """
SELECT l.account_id, l.kind, l.value, l.n_accounts,
       kw.weight * ln($n_total / l.n_accounts) AS w,
       -- how much this account relies on the identifier: a template or IP used once is noise
       CASE WHEN kw.intensity_scale > 0
            THEN 1 - exp(-coalesce(l.count, 1) / kw.intensity_scale) ELSE 1.0 END AS use,
       kw.family,
       (kw.personal OR (kw.family = 'network' AND l.kind = 'ip' AND l.n_accounts <= $small_network))
           AS standalone,
       l.account_id AS order_seed
FROM links l JOIN kind_weights kw ON kw.kind = l.kind
WHERE l.n_accounts >= 2 AND l.n_accounts < $n_max AND kw.weight > 0
"""

_EDGES_SQL = """
WITH exact AS (
    SELECT a.account_id AS src, b.account_id AS dst, a.kind, a.value, a.family, a.standalone,
           a.w * least(a.use, b.use) AS w
    FROM wl a JOIN wl b
      ON a.kind = b.kind AND a.value = b.value AND a.account_id < b.account_id
    WHERE a.n_accounts <= $exact_max
),
ranked AS (
    SELECT account_id, kind, value, w, use, family, standalone, pass,
           row_number() OVER (PARTITION BY pass, kind, value
                              ORDER BY md5(pass::VARCHAR || ':' || order_seed), account_id) AS rn
    FROM wl CROSS JOIN range($passes) AS passes(pass)
    WHERE n_accounts > $exact_max
),
neighbourhood AS (
    -- A pair met in several passes shares the identifier once: DISTINCT per identifier.
    SELECT DISTINCT least(a.account_id, b.account_id) AS src, greatest(a.account_id, b.account_id) AS dst,
           a.kind, a.value, a.family, a.standalone, a.w * least(a.use, b.use) AS w
    FROM ranked a JOIN ranked b
      ON a.pass = b.pass AND a.kind = b.kind AND a.value = b.value
     AND b.rn > a.rn AND b.rn <= a.rn + $window
),
contributions AS (
    SELECT * FROM exact UNION ALL SELECT * FROM neighbourhood
),
mass AS (
    SELECT account_id, family, sum(w * use) AS mass FROM wl GROUP BY account_id, family
),
shared AS (
    SELECT src, dst, family, sum(w) AS fw, bool_or(standalone) AS standalone, list(kind) AS kinds
    FROM contributions GROUP BY src, dst, family
),
per_family AS (
    -- Content counts only when it is a large part of both accounts content: heavy users of
    -- common tools share many templates, but a small share of what they use.
    SELECT s.src, s.dst, s.family, s.standalone, s.kinds,
           CASE WHEN s.family = 'content'
                 AND s.fw < $content_min_overlap * greatest(ms.mass, md.mass) THEN 0.0
                ELSE s.fw END AS fw
    FROM shared s
    JOIN mass ms ON ms.account_id = s.src AND ms.family = s.family
    JOIN mass md ON md.account_id = s.dst AND md.family = s.family
)
SELECT src, dst, sum(fw) AS weight, list_sort(list_distinct(flatten(list(kinds)))) AS kinds
FROM per_family
GROUP BY src, dst
HAVING sum(fw) >= $min_weight
   AND (bool_or(standalone)
        OR count(*) FILTER (WHERE fw >= $family_min) >= 2
        OR max(fw) FILTER (WHERE family IN ('content', 'device', 'payment', 'client')) >= $single_family_min)
ORDER BY src, dst
"""


def _kind_weights_table(params: AttributionParams) -> pa.Table:
    kinds = sorted(params.kind_weights)
    return pa.table(
        {
            "kind": kinds,
            "weight": [float(params.kind_weights[k]) for k in kinds],
            "family": [KIND_FAMILIES.get(k, k) for k in kinds],
            "personal": [k in PERSONAL_KINDS for k in kinds],
            "intensity_scale": [float(params.intensity_scale.get(k, 0.0)) for k in kinds],
        }
    )


def weighted_links(con: duckdb.DuckDBPyConnection, links: pa.Table, n_total: int, params: AttributionParams) -> pa.Table:
    """``links`` with the evidence weight of each identifier; hubs and lone identifiers dropped."""
    con.register("links", links)
    con.register("kind_weights", _kind_weights_table(params))
    return con.sql(
        _WEIGHTED_LINKS_SQL,
        params={"n_max": hub_cutoff(n_total, params), "n_total": float(max(n_total, 2)),
                "small_network": params.small_network_max},
    ).to_arrow_table()


def candidate_edges(
    links: pa.Table, n_total: int, params: AttributionParams, memory_limit: str = "4GB", spill_dir: str | None = None
) -> pa.Table:
    """Weighted account pairs; ``n_total`` is the number of accounts in the population."""
    con = duckdb.connect()
    try:
        con.execute("SET threads = 2")
        con.execute("SET preserve_insertion_order = false")
        con.execute("SET memory_limit = ?", [memory_limit])
        if spill_dir:
            con.execute("SET temp_directory = ?", [spill_dir])
        wl = weighted_links(con, links, n_total, params)
        con.register("wl", wl)
        edges = con.sql(
            _EDGES_SQL,
            params={
                "exact_max": params.exact_max_accounts,
                "window": params.window,
                "passes": params.passes,
                "min_weight": params.min_edge_weight,
                "family_min": params.family_min_weight,
                "single_family_min": params.single_family_min_weight,
                "content_min_overlap": params.content_min_overlap,
            },
        ).to_arrow_table()
        return edges.cast(EDGE_SCHEMA)
    finally:
        con.close()
