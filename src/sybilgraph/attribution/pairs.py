"""Pairs of accounts and their comparison levels: blocking, comparison vectors, u (DuckDB + numpy).

One builder serves the full run and incremental placement (``focus``: only pairs with at least
one of these accounts). Joins run in DuckDB on integer ids; per-pair levels are assembled in
numpy; strings only cross at the edges.

*Blocking* (which pairs are compared at all; splink's blocking rules): two accounts are a
candidate pair when they share an identifier or a template pool. A value of at most
``exact_max`` accounts gives every pair of its users; a larger one gives *sorted-neighbourhood*
pairs (Hernandez & Stolfo, 1995): its users in a pseudo-random order, each paired with the next
``window``, in ``passes`` independent orders. Blocking bounds the work; it decides nothing.

*Levels.* Every shared value of every pair is joined exactly: an account holds a handful of
identifiers, and its templates enter as the few *template pools* it uses (``pools.py``), not as
the dozens of templates themselves.

*u* is measured on random pairs of accounts (splink's ``estimate_u_using_random_sampling``),
drawn with a seeded generator, with the same joins: it captures every correlation among
unrelated accounts (an IP and its subnet, a campus's NAT and its mail domain) without modelling
them. Hub values (more than the [attribution] hub cut-off of accounts) are never blocked on nor
compared (ingest keeps no per-account link for them either).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

from sybilgraph.attribution.arrays import unique_sorted
from sybilgraph.attribution.comparisons import (
    COMPARISONS,
    IDENTIFIER_COMPARISONS,
    Comparison,
    bucket_level,
    place_levels,
)
from sybilgraph.attribution.pools import LOOSE_POOL_KIND, POOL_KIND, template_pool_links

__all__ = [
    "BlockingParams",
    "MAX_OBSERVED_SHARE",
    "PairLevels",
    "PairTables",
    "build_pair_tables",
    "candidate_pairs",
    "pair_levels",
    "pool_templates",
    "random_pair_levels",
    "random_pairs",
]

# Values used by more than this share of accounts (a browser's TLS stack, a big webmail domain,
# a carrier's NAT exit) are neither blocked on nor compared; ingest stores no per-account link for
# them (``link_max_share``). Never observed for candidates or random pairs alike: consistent.
MAX_OBSERVED_SHARE = 0.05
DAY_MS = 86_400_000
_CREATED_EDGES_MS = (30 * DAY_MS, 7 * DAY_MS, DAY_MS, 2 * 3_600_000, 600_000)  # levels 1..5


@dataclass(frozen=True)
class BlockingParams:
    exact_max: int = 64
    window: int = 10
    passes: int = 3
    order_salt: str = ""


@dataclass
class PairTables:
    """Integer-id tables in ``con``: ``accts``, ``lk`` (links with levels), per-account arrays."""

    con: duckdb.DuckDBPyConnection
    n_accounts: int
    comparisons: tuple[Comparison, ...]
    account_ids: np.ndarray  # account id per integer id
    created: np.ndarray  # epoch ms per integer id (NaN when unknown)


@dataclass
class PairLevels:
    a: np.ndarray  # int32, a < b
    b: np.ndarray
    levels: np.ndarray  # int8 (pairs, comparisons)

    def __len__(self) -> int:
        return len(self.a)


def _level_case(c: Comparison) -> str:
    """SQL CASE giving a link's level for identifier comparison ``c`` (network part for place)."""
    parts = []
    for kind in c.kinds:
        edges = c.primary_edges if kind in c.primary else c.secondary_edges
        sub = [f"WHEN share <= {e!r} THEN {bucket_level(c, kind, i)}" for i, e in enumerate(edges)]
        sub.append(f"ELSE {bucket_level(c, kind, len(edges))}")
        parts.append(f"WHEN kind = '{kind}' THEN CASE {' '.join(sub)} END")
    return "CASE " + " ".join(parts) + " END"


def _links_sql(comparisons: Sequence[Comparison]) -> str:
    index = {c.name: i for i, c in enumerate(comparisons)}
    cid_cases, level_cases = [], []
    for c in comparisons:
        if c.is_identifier:
            kinds = ", ".join(f"'{k}'" for k in c.kinds)
            cid_cases.append(f"WHEN kind IN ({kinds}) THEN {index[c.name]}")
            level_cases.append(f"WHEN kind IN ({kinds}) THEN {_level_case(c)}")
    cid_cases.append(f"WHEN kind = 'email_domain' THEN {index['place']}")
    # Pools normally come from templates (pools.py); given as links they are taken as they are
    # (an explanation of one pair rebuilds them from the run's pools).
    kinds = sorted({k for c in comparisons for k in c.kinds} | {"email_domain", "template"})
    return f"""
    CREATE OR REPLACE TEMP TABLE _w AS
    SELECT a.aid, l.kind, l.value, l.n_accounts::INTEGER AS n, l.n_accounts / $n_total AS share,
           coalesce(l.count, 1)::BIGINT AS uses
    FROM links l JOIN accts a USING (account_id)
    WHERE l.n_accounts >= 2 AND l.n_accounts <= $hub_cut
      AND l.kind IN ({", ".join(f"'{k}'" for k in kinds)});
    CREATE OR REPLACE TEMP TABLE vals AS
    SELECT kind, value, (row_number() OVER (ORDER BY kind, value) - 1)::INTEGER AS vid
    FROM (SELECT DISTINCT kind, value FROM _w);
    CREATE OR REPLACE TEMP TABLE tpl AS
    SELECT w.aid, v.vid, w.uses FROM _w w JOIN vals v USING (kind, value) WHERE w.kind = 'template';
    CREATE OR REPLACE TEMP TABLE lk AS
    SELECT w.aid, v.vid, w.n, w.kind,
           (CASE {" ".join(cid_cases)} END)::TINYINT AS cid,
           (CASE {" ".join(level_cases)} ELSE 0 END)::TINYINT AS level,
           (CASE WHEN w.kind = 'email_domain' THEN w.share ELSE NULL END)::DOUBLE AS email_share
    FROM _w w JOIN vals v USING (kind, value)
    WHERE w.kind <> 'template'
    """


def _add_pool_links(
    con: duckdb.DuckDBPyConnection, comparisons: Sequence[Comparison], n_total: int, pool_templates: pa.Table | None,
    hub_cut: float,
) -> None:
    """Template pools become identifiers of kind ``template_pool`` in ``lk``: detected on this data
    (pools.py), or, given ``pool_templates`` (template, pool) of an earlier run, mapped from it
    so that incremental placement uses the run's own pools."""
    if pool_templates is None:
        aid, pool, _k = template_pool_links(con, "tpl")
        if len(aid) == 0:
            return
        con.register("_pl0", pa.table({"aid": pa.array(aid, pa.int32()), "pool": pa.array(pool, pa.int64())}))
        con.execute("CREATE OR REPLACE TEMP TABLE _pl AS SELECT * FROM _pl0")
        con.unregister("_pl0")
        # A pool is named after its first template (the templates' vids follow their text order).
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _pool_names AS
            SELECT DISTINCT p.pool, 'pool-' || v.value AS value,
                   CASE WHEN f.tight THEN '{POOL_KIND}' ELSE '{LOOSE_POOL_KIND}' END AS kind
            FROM _pl p JOIN vals v ON v.vid = p.pool JOIN _pool_lift f ON f.pool = p.pool
            """
        )
    else:
        con.register("_pt", pool_templates)
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE _pool_names AS
            SELECT dense_rank() OVER (ORDER BY pool)::BIGINT AS pool, pool AS value, kind
            FROM (SELECT DISTINCT pool, kind FROM _pt)
            """
        )
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE _pool_of AS
            SELECT v.vid, n.pool FROM _pt t JOIN vals v ON v.kind = 'template' AND v.value = t.template
            JOIN _pool_names n ON n.value = t.pool
            """
        )
        con.unregister("_pt")
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _pl AS SELECT DISTINCT t.aid, p.pool FROM tpl t JOIN _pool_of p USING (vid)"
        )
    c = next(x for x in comparisons if x.name == "template_pool")
    cid = next(i for i, x in enumerate(comparisons) if x.name == "template_pool")
    base = int(con.execute("SELECT coalesce(max(vid), -1) + 1 FROM vals").fetchall()[0][0])  # type: ignore[index]
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _pools AS
        SELECT p.pool, ($base + dense_rank() OVER (ORDER BY p.pool) - 1)::INTEGER AS vid, n.value, n.kind, p.n
        FROM (SELECT pool, count(DISTINCT aid) AS n FROM _pl GROUP BY pool) p JOIN _pool_names n USING (pool)
        """,
        {"base": base},
    )
    con.execute("INSERT INTO vals SELECT kind, value, vid FROM _pools")
    con.execute(
        f"""
        INSERT INTO lk (aid, vid, n, kind, cid, level, email_share)
        WITH q AS (
            SELECT DISTINCT l.aid, p.vid, p.n, p.kind, p.n / $n_total AS share
            FROM _pl l JOIN _pools p USING (pool)
        )
        SELECT aid, vid, n::INTEGER, kind, $cid, ({_level_case(c)})::TINYINT, NULL
        FROM q
        WHERE n >= 2 AND n <= $hub_cut
        """,
        {"n_total": float(max(n_total, 2)), "cid": cid, "hub_cut": hub_cut},
    )


def build_pair_tables(
    links: pa.Table,
    accounts: pa.Table,
    comparisons: Sequence[Comparison] = COMPARISONS,
    memory_limit: str = "4GB",
    spill_dir: str | None = None,
    threads: int = 2,
    pool_templates: pa.Table | None = None,
    hub_fraction: float = MAX_OBSERVED_SHARE,
    hub_min_accounts: int = 2,
) -> PairTables:
    """Load links (account_id, kind, value, n_accounts, count) and accounts (account_id,
    created_at); template pools detected, or mapped from ``pool_templates`` (template, pool).

    Values used by more than max(``hub_min_accounts``, ``hub_fraction`` x accounts) accounts are
    hubs (the [attribution] settings): never blocked on nor compared."""
    con = duckdb.connect()
    con.execute(f"SET threads = {int(threads)}")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")
    con.execute("SET memory_limit = ?", [memory_limit])
    if spill_dir:
        con.execute("SET temp_directory = ?", [spill_dir])
    con.register("links", links)
    con.register("accounts", accounts)
    con.execute(
        "CREATE TEMP TABLE accts AS SELECT account_id, (row_number() OVER (ORDER BY account_id) - 1)::INTEGER AS aid, "
        "created_at FROM (SELECT account_id, any_value(created_at) AS created_at FROM accounts GROUP BY account_id)"
    )
    n_total = int(con.execute("SELECT count(*) FROM accts").fetchall()[0][0])  # type: ignore[index]
    hub_cut = float(max(hub_min_accounts, hub_fraction * n_total))
    for statement in _links_sql(comparisons).split(";"):
        if statement.strip():
            values = {"n_total": float(max(n_total, 2)), "hub_cut": hub_cut}
            used = {k: v for k, v in values.items() if f"${k}" in statement}
            con.execute(statement, used or None)
    con.unregister("links")
    _add_pool_links(con, comparisons, n_total, pool_templates, hub_cut)
    acc = con.execute("SELECT account_id, created_at::DOUBLE AS created FROM accts ORDER BY aid").fetchnumpy()
    created = _dense(acc["created"])
    return PairTables(
        con=con,
        n_accounts=n_total,
        comparisons=tuple(comparisons),
        account_ids=np.asarray(acc["account_id"], dtype=object),
        created=created,
    )


def _dense(values: np.ndarray) -> np.ndarray:
    """A float array with NaN for NULL (DuckDB returns NULLs as masked entries)."""
    if isinstance(values, np.ma.MaskedArray):
        return values.astype(float).filled(np.nan)
    return np.array(values, dtype=float)


def candidate_pairs(t: PairTables, params: BlockingParams, focus: np.ndarray | None = None) -> None:
    """Create ``cand`` (a < b, distinct): the candidate pairs.

    With ``focus``, only pairs touching those account ids; large values are still ranked over all
    their users, so the neighbourhoods are the full run's."""
    con = t.con
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE ranked AS
        WITH o AS (
            SELECT aid, pass::TINYINT AS pass, md5($salt || pass::VARCHAR || ':' || account_id) AS okey
            FROM accts CROSS JOIN range($passes) AS passes(pass)
        )
        SELECT l.aid, l.vid, o.pass,
               (row_number() OVER (PARTITION BY o.pass, l.vid ORDER BY o.okey, l.aid))::INTEGER AS rn
        FROM lk l JOIN o USING (aid)
        WHERE l.n > $exact_max
        """,
        {"salt": params.order_salt, "passes": int(params.passes), "exact_max": params.exact_max},
    )
    exact = con.execute(
        "SELECT x.aid AS a, y.aid AS b FROM lk x JOIN lk y ON x.vid = y.vid AND x.aid < y.aid WHERE x.n <= $exact_max",
        {"exact_max": params.exact_max},
    ).fetchnumpy()
    ranked = con.execute("SELECT pass, vid, aid FROM ranked ORDER BY pass, vid, rn").fetchnumpy()
    a, b = _neighbourhood_pairs(ranked["pass"], ranked["vid"], ranked["aid"], params.window)
    # Distinct pairs by sorting one integer key each (a DISTINCT over ~19M pairs in DuckDB took
    # most of the ~9 s of blocking at scale 1.0).
    n = np.int64(max(t.n_accounts, 1))
    key = unique_sorted(np.concatenate([np.asarray(exact["a"], dtype=np.int64) * n + exact["b"], a * n + b]))
    a, b = key // n, key % n
    if focus is not None:
        touched = np.zeros(t.n_accounts, dtype=bool)
        touched[np.asarray(focus, dtype=np.int64)] = True
        keep = touched[a] | touched[b]
        a, b = a[keep], b[keep]
    con.register("_cand_pairs", pa.table({"a": pa.array(a, pa.int32()), "b": pa.array(b, pa.int32())}))
    con.execute("CREATE OR REPLACE TEMP TABLE cand AS SELECT a, b FROM _cand_pairs")
    con.unregister("_cand_pairs")


def _neighbourhood_pairs(passes: np.ndarray, vids: np.ndarray, aids: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted-neighbourhood pairs (a < b): each user of a large value with the next ``window``
    users in each pass's order. The users arrive sorted by (pass, value, rank), so a user's k-th
    neighbour is k rows on, when still of the same pass and value."""
    group = np.asarray(passes, dtype=np.int64) * (int(np.max(vids, initial=0)) + 1) + np.asarray(vids, dtype=np.int64)
    aids = np.asarray(aids, dtype=np.int64)
    a, b = [], []
    for k in range(1, min(window, len(aids) - 1) + 1):
        same = group[k:] == group[:-k]
        x, y = aids[:-k][same], aids[k:][same]
        a.append(np.minimum(x, y))
        b.append(np.maximum(x, y))
    if not a:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(a), np.concatenate(b)


def random_pairs(n_accounts: int, n_pairs: int, seed: int) -> pa.Table:
    """Uniform random pairs of distinct accounts (a < b, distinct), deterministic for a seed."""
    rng = np.random.default_rng([seed, 7])
    total = n_accounts * (n_accounts - 1) // 2
    if total <= n_pairs:
        a, b = np.triu_indices(n_accounts, k=1)
    else:
        a = rng.integers(0, n_accounts, n_pairs)
        b = rng.integers(0, n_accounts - 1, n_pairs)
        b = np.where(b >= a, b + 1, b)
        a, b = np.minimum(a, b), np.maximum(a, b)
        key = unique_sorted(a.astype(np.int64) * n_accounts + b)
        a, b = key // n_accounts, key % n_accounts
    return pa.table({"a": pa.array(a, pa.int32()), "b": pa.array(b, pa.int32())})


def pair_levels(t: PairTables, pairs_table: str = "cand") -> PairLevels:
    """Comparison levels of every pair of ``pairs_table`` (a < b)."""
    con = t.con
    pairs = con.execute(f"SELECT a, b FROM {pairs_table} ORDER BY a, b").fetchnumpy()
    a = pairs["a"].astype(np.int32)
    b = pairs["b"].astype(np.int32)
    levels = np.zeros((len(a), len(t.comparisons)), dtype=np.int8)
    if len(a) == 0:
        return PairLevels(a, b, levels)
    # Each pair's row number travels through the join below, so its shared values land on their
    # row directly (looking tens of millions of pairs up in the sorted keys took 50 s at scale 1.0).
    # Shared identifiers, exactly: probe the account with fewer links (chosen here, not by two
    # joins of the pairs to the links' degrees in DuckDB).
    deg = np.bincount(con.execute("SELECT aid FROM lk").fetchnumpy()["aid"].astype(np.int64), minlength=t.n_accounts)
    swap = deg[a] > deg[b]
    con.register("_pid", pa.table({
        "pid": pa.array(np.arange(len(a), dtype=np.int32)),
        "x": pa.array(np.where(swap, b, a), pa.int32()),
        "y": pa.array(np.where(swap, a, b), pa.int32()),
    }))
    del deg, swap
    index = {c.name: i for i, c in enumerate(t.comparisons)}
    try:
        shared = con.execute(
            """
            WITH ox AS (
                SELECT o.pid, o.y, lx.vid, lx.cid, lx.level, lx.email_share
                FROM _pid o JOIN lk lx ON lx.aid = o.x
            ),
            -- (account, value) as one BIGINT: one hash key instead of two columns.
            s AS (
                SELECT ox.* FROM ox
                SEMI JOIN (SELECT (aid::BIGINT << 32) | vid::BIGINT AS k FROM lk) ly
                  ON ly.k = (ox.y::BIGINT << 32) | ox.vid::BIGINT
            )
            SELECT pid, cid, level, coalesce(email_share, -1.0) AS email_share FROM s
            """
        ).fetchnumpy()
    finally:
        con.unregister("_pid")
    # A pair's level of a comparison is the highest of its shared values' levels (all >= 1); the
    # place comparison combines the highest network level with the rarest shared e-mail domain.
    # Reduced here (ufunc.at), not by a GROUP BY over tens of millions of rows in DuckDB.
    # The narrow types DuckDB returns (int32 rows, int8 comparisons and levels) are kept: ufunc.at
    # takes its fast path when the values match the target's type (int8 maxima: ~20x faster).
    rows = shared["pid"]
    cid = shared["cid"]
    lvl = shared["level"]
    email = np.asarray(shared["email_share"], dtype=float)
    place = index["place"]
    by_max = np.zeros(levels.shape[1], dtype=bool)
    by_max[[index[c.name] for c in IDENTIFIER_COMPARISONS if c.name != "place"]] = True
    identifier = by_max[cid]
    np.maximum.at(levels.reshape(-1), rows[identifier].astype(np.int64) * levels.shape[1] + cid[identifier], lvl[identifier])
    sel = cid == place
    p_rows, p_lvl, p_email = rows[sel], lvl[sel], email[sel]
    network = np.zeros(len(a), dtype=np.int8)
    np.maximum.at(network, p_rows, p_lvl)
    rarest = np.full(len(a), np.inf)
    mail = p_email >= 0
    np.minimum.at(rarest, p_rows[mail], p_email[mail])
    has_place = np.zeros(len(a), dtype=bool)
    has_place[p_rows] = True
    levels[has_place, place] = place_levels(network[has_place], np.where(np.isinf(rarest), -1.0, rarest)[has_place])

    # Creation-time proximity.
    gap = np.abs(t.created[a] - t.created[b])
    created = np.zeros(len(a), dtype=np.int8)
    for lvl_i, edge in enumerate(_CREATED_EDGES_MS, start=1):
        created[gap <= edge] = lvl_i
    created[np.isnan(gap)] = -1
    levels[:, index["created"]] = created
    return PairLevels(a, b, levels)


def random_pair_levels(t: PairTables, n_pairs: int, seed: int) -> PairLevels:
    """Levels of random pairs, compared exactly as candidates are (for u)."""
    t.con.register("_rp", random_pairs(t.n_accounts, n_pairs, seed))
    t.con.execute("CREATE OR REPLACE TEMP TABLE rpairs AS SELECT a, b FROM _rp")
    t.con.unregister("_rp")
    return pair_levels(t, "rpairs")


def pool_templates(t: PairTables) -> pa.Table:
    """(template, pool, kind) of this run's template pools (empty when none)."""
    exists = t.con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = '_pool_of'").fetchall()[0][0]  # type: ignore[index]
    if not exists:
        return pa.table({"template": pa.array([], pa.string()), "pool": pa.array([], pa.string()), "kind": pa.array([], pa.string())})
    return t.con.sql(
        """
        SELECT DISTINCT tv.value AS template, p.value AS pool, p.kind
        FROM _pool_of po JOIN vals tv ON tv.vid = po.vid JOIN _pools p ON p.pool = po.pool
        ORDER BY template
        """
    ).to_arrow_table()
