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

__all__ = ["weighted_links", "candidate_edges", "edges_and_weighted_links", "EDGE_SCHEMA"]

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
           AS standalone
FROM links l JOIN kind_weights kw ON kw.kind = l.kind
WHERE l.n_accounts >= 2 AND l.n_accounts < $n_max AND kw.weight > 0
"""

# Everything below works on integer ids (accounts, identifiers, kinds, families): at campaign
# scale there are tens of millions of candidate contributions, and strings would not fit.
_COMPACT_SQL = """
CREATE TEMP TABLE accts AS
    SELECT account_id, (row_number() OVER (ORDER BY account_id) - 1)::INTEGER AS aid
    FROM (SELECT DISTINCT account_id FROM wl);
CREATE TEMP TABLE idents AS
    SELECT kind, value, (row_number() OVER (ORDER BY kind, value) - 1)::INTEGER AS vid
    FROM (SELECT DISTINCT kind, value FROM wl);
CREATE TEMP TABLE cl AS
    SELECT a.aid, i.vid, kw.kid, kw.fid, kw.single_ok, wl.standalone,
           wl.n_accounts::INTEGER AS n, wl.w::FLOAT AS w, wl.use::FLOAT AS use
    FROM wl JOIN accts a USING (account_id) JOIN idents i USING (kind, value)
    JOIN kind_weights kw ON kw.kind = wl.kind;
"""

# The sorted-neighbourhood orders: a keyed hash of the account id per pass, so the same data
# always gives the same pairs; ``order_salt`` changes the orders (robustness checks).
_ORDERS_SQL = """
CREATE TEMP TABLE orders AS
    SELECT aid, pass::TINYINT AS pass, md5($salt || pass::VARCHAR || ':' || account_id) AS okey
    FROM accts CROSS JOIN range($passes) AS passes(pass)
"""

_EDGES_SQL = """
WITH exact AS (
    SELECT a.aid AS src, b.aid AS dst, a.vid, a.fid, a.single_ok, a.standalone, a.kid,
           a.w * least(a.use, b.use) AS w
    FROM cl a JOIN cl b ON a.vid = b.vid AND a.aid < b.aid
    WHERE a.n <= $exact_max
),
ranked AS (
    SELECT c.aid, c.vid, c.fid, c.single_ok, c.standalone, c.kid, c.w, c.use, o.pass,
           row_number() OVER (PARTITION BY o.pass, c.vid ORDER BY o.okey, c.aid) AS rn
    FROM cl c JOIN orders o USING (aid)
    WHERE c.n > $exact_max
),
neighbourhood AS (
    -- A pair met in several passes shares the identifier once: DISTINCT per identifier.
    SELECT DISTINCT least(a.aid, b.aid) AS src, greatest(a.aid, b.aid) AS dst,
           a.vid, a.fid, a.single_ok, a.standalone, a.kid, a.w * least(a.use, b.use) AS w
    FROM ranked a JOIN ranked b
      ON a.pass = b.pass AND a.vid = b.vid AND b.rn > a.rn AND b.rn <= a.rn + $window
),
contributions AS (
    SELECT * FROM exact UNION ALL SELECT * FROM neighbourhood
),
mass AS (
    SELECT aid, fid, sum(w * use) AS mass FROM cl GROUP BY aid, fid
),
shared AS (
    SELECT src, dst, fid, any_value(single_ok) AS single_ok, sum(w) AS fw,
           bool_or(standalone) AS standalone, bit_or(1::BIGINT << kid) AS kinds
    FROM contributions GROUP BY src, dst, fid
),
per_family AS (
    -- Content counts only when it is a large part of both accounts' content: heavy users of
    -- common tools share many templates, but a small share of what they use.
    -- Alone, content links only when the shared templates are most of what both accounts
    -- use: heavy users of popular templates overlap by a third by chance, a private pool far more.
    SELECT s.src, s.dst, s.fid, s.standalone, s.kinds,
           CASE WHEN s.fid = $content_fid
                 AND s.fw < $content_min_overlap * greatest(ms.mass, md.mass) THEN 0.0
                ELSE s.fw END AS fw,
           s.single_ok AND (s.fid <> $content_fid
                            OR s.fw >= $content_solo_min_overlap * greatest(ms.mass, md.mass)) AS single_ok
    FROM shared s
    JOIN mass ms ON ms.aid = s.src AND ms.fid = s.fid
    JOIN mass md ON md.aid = s.dst AND md.fid = s.fid
),
linked AS (
    SELECT src, dst, sum(fw) AS weight, bit_or(kinds) AS kinds
    FROM per_family
    GROUP BY src, dst
    HAVING sum(fw) >= $min_weight
       AND (bool_or(standalone)
            OR count(*) FILTER (WHERE fw >= $family_min) >= 2
            OR max(fw) FILTER (WHERE single_ok) >= $single_family_min)
)
SELECT s.account_id AS src, d.account_id AS dst, l.weight::DOUBLE AS weight, l.kinds
FROM linked l JOIN accts s ON s.aid = l.src JOIN accts d ON d.aid = l.dst
ORDER BY src, dst
"""


# Families that may link on their own when strong enough (never network evidence).
SINGLE_FAMILY_OK = frozenset({"content", "device", "payment", "client"})


def _families(params: AttributionParams) -> list[str]:
    return sorted({KIND_FAMILIES.get(k, k) for k in params.kind_weights})


def _kind_weights_table(params: AttributionParams) -> pa.Table:
    kinds = sorted(params.kind_weights)
    families = _families(params)
    family_of = [KIND_FAMILIES.get(k, k) for k in kinds]
    return pa.table(
        {
            "kind": kinds,
            "kid": pa.array(range(len(kinds)), pa.int8()),
            "weight": [float(params.kind_weights[k]) for k in kinds],
            "family": family_of,
            "fid": pa.array([families.index(f) for f in family_of], pa.int8()),
            "single_ok": [f in SINGLE_FAMILY_OK for f in family_of],
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
    return edges_and_weighted_links(links, n_total, params, memory_limit, spill_dir)[0]


def edges_and_weighted_links(
    links: pa.Table, n_total: int, params: AttributionParams, memory_limit: str = "4GB", spill_dir: str | None = None
) -> tuple[pa.Table, pa.Table]:
    """The candidate edges and the weighted links they were built from (evidence reuses them)."""
    con = duckdb.connect()
    try:
        con.execute("SET threads = 2")
        con.execute("SET preserve_insertion_order = false")
        con.execute("SET memory_limit = ?", [memory_limit])
        if spill_dir:
            con.execute("SET temp_directory = ?", [spill_dir])
        wl = weighted_links(con, links, n_total, params)
        con.register("wl", wl)
        con.execute(_COMPACT_SQL)
        con.execute(_ORDERS_SQL, {"salt": params.order_salt, "passes": int(params.passes)})
        families = _families(params)
        edges = con.sql(
            _EDGES_SQL,
            params={
                "exact_max": params.exact_max_accounts,
                "window": params.window,
                "min_weight": params.min_edge_weight,
                "family_min": params.family_min_weight,
                "single_family_min": params.single_family_min_weight,
                "content_min_overlap": params.content_min_overlap,
                "content_solo_min_overlap": params.content_solo_min_overlap,
                "content_fid": families.index("content") if "content" in families else -1,
            },
        ).to_arrow_table()
        return _decode_kinds(edges, sorted(params.kind_weights)), wl
    finally:
        con.close()


def _decode_kinds(edges: pa.Table, kinds: list[str]) -> pa.Table:
    masks = edges.column("kinds").to_pylist()
    names = [[k for i, k in enumerate(kinds) if m >> i & 1] for m in masks]
    return pa.table(
        {"src": edges.column("src"), "dst": edges.column("dst"), "weight": edges.column("weight"),
         "kinds": pa.array(names, pa.list_(pa.string()))},
        schema=EDGE_SCHEMA,
    )
