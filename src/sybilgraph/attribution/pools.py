"""Template pools: group-level evidence from how prompt templates are used together (DuckDB + numpy).

An operator that harvests answers writes a pool of prompt templates and has each account send a
subset of it; two of its accounts may share only one or two templates, or none, yet the pool as
a whole is used by its accounts and by nobody else. Popular tools' templates are used together
by strangers no more often than chance predicts. So templates are co-clustered (a bipartite
co-clustering, as in Dhillon 2001, done here by a projection):

1. the template-template co-usage graph: two templates are tied by the accounts that use both;
2. each tie is weighed against chance, the configuration-model expectation
   ``E = n1 n2 sum_a k_a (k_a - 1) / K^2`` (``n`` templates' users, ``k_a`` templates per
   account, ``K`` their sum), by the Poisson log-likelihood ratio
   ``G = c ln(c / E) - (c - E)`` of the observed count ``c``; a tie counts when it is
   significant (``2G`` above the chi-square 5% point, 3.84: co-usage that chance explains ties
   nothing, however many such ties a popular template has);
3. templates are grouped by weighted label propagation (Raghavan, Albert & Kumara 2007) on
   those ties, deterministic (ties broken by the smaller label);
4. a loose group (its templates used together less than ``TIGHT_LIFT`` times as often as
   chance) that holds a *private core* gives it up (``split_private_cores``): label
   propagation fuses an operator's pool with the popular templates its accounts also use. A
   two-lift test says the group is not one pool; which templates are private is then decided
   on who uses them, by alternating between templates and their users until a fixed point (as
   the iterative signature algorithm of Bergmann, Ihmels & Barkai 2003 alternates between
   genes and conditions): a template is private to the accounts of a core when far more of its
   users use another template of the core than the configuration model, fitted on the group's
   other templates, predicts (a binomial tail, Chernoff's bound, 5% Bonferroni). An operator's
   pool stands out so whatever the operator's size; a lift does not (a large operator's pool is
   used together only a few times as often as chance, because the operator is a large share of
   the template users);
5. a template stays in its group only when most of its users (at least half) use another
   template of the group too: a popular template that chance tied to a pool is used mostly by
   accounts outside it;
6. a group is a pool only when, as a whole, its templates are used together significantly more
   than chance predicts: the co-usage summed over its template pairs against the summed
   expectation, by the same likelihood ratio, at 5% with a Bonferroni correction over the
   groups tested. A handful of popular templates that single ties glued together fails this;
   an operator's pool, however thinly each account samples it, passes by orders of magnitude.

Each group of at least two templates is a *pool*, and an account that uses its templates holds
the pool as a derived identifier (kind ``template_pool`` for a tight pool: used together at
least ``TIGHT_LIFT`` times as often as chance, or a private core whatever its lift; else
``loose_pool``; its count the number of the pool's templates it uses), compared between
accounts like any identifier: a pool used by 80 accounts
and nobody else is rare, a pool of popular tools' tail templates that chance glued together is
used by thousands and weighs nothing (its ``u`` says so).

Per account at most ``max_per_account`` templates (its most used) enter the projection: the
projection is quadratic in them, and a pool shows in any sizeable subset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import duckdb
import numpy as np
import pyarrow as pa

__all__ = ["LOOSE_POOL_KIND", "POOL_KIND", "TIGHT_LIFT", "CoUsage", "label_propagation", "split_private_cores", "template_pool_links"]

POOL_KIND = "template_pool"
# Pools whose templates are used together at least this many times as often as chance predicts
# are tight (an operator's harvesting prompts, an organisation's internal tools); the others are
# loose (popular tools' templates that heavy users combine a little more than chance), unless
# they are a private core (``split_private_cores``: tight whatever the lift, which falls with the
# operator's share of the template users). The two are separate levels of the ``template_pool``
# comparison, each weighed on the data. Loose groups are the ones searched for a private core.
TIGHT_LIFT = 10.0
LOOSE_POOL_KIND = "loose_pool"
MAX_PER_ACCOUNT = 16
LPA_ITERATIONS = 20
CHI2_95 = 3.841  # chi-square, one degree of freedom, 5%
MIN_EXPECTED = 5.0  # expected count below which a chi-square approximation is not used


def template_pool_links(
    con: duckdb.DuckDBPyConnection, templates_table: str = "tpl", max_per_account: int = MAX_PER_ACCOUNT
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(account ids, pool ids, templates of the pool used) from ``templates_table``
    (aid, vid, uses): the rare templates each account uses and how often."""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _ts AS
        SELECT aid, vid FROM (
            SELECT aid, vid, row_number() OVER (PARTITION BY aid ORDER BY uses DESC, vid) AS r
            FROM {templates_table}
        ) WHERE r <= $cap
        """,
        {"cap": int(max_per_account)},
    )
    stats = con.execute(
        """
        SELECT sum(k)::DOUBLE AS total, sum(k * (k - 1))::DOUBLE AS pairs
        FROM (SELECT count(*) AS k FROM _ts GROUP BY aid)
        """
    ).fetchall()[0]
    total, pairs = (float(stats[0] or 0.0), float(stats[1] or 0.0)) if stats else (0.0, 0.0)
    if total <= 0 or pairs <= 0:
        return _empty()
    ties = con.execute(
        """
        WITH deg AS (SELECT vid, count(*)::DOUBLE AS n FROM _ts GROUP BY vid),
        co AS (
            SELECT x.vid AS t1, y.vid AS t2, count(*)::DOUBLE AS c,
                   count(*) FILTER (WHERE x.aid % 2 = 0)::DOUBLE AS c_even
            FROM _ts x JOIN _ts y ON x.aid = y.aid AND x.vid < y.vid
            GROUP BY x.vid, y.vid
        )
        SELECT co.t1, co.t2, co.c, co.c_even, d1.n * d2.n * $pairs / ($total * $total) AS e
        FROM co JOIN deg d1 ON d1.vid = co.t1 JOIN deg d2 ON d2.vid = co.t2
        """,
        {"pairs": pairs, "total": total},
    ).fetchnumpy()
    c = np.asarray(ties["c"], dtype=float)
    e = np.maximum(np.asarray(ties["e"], dtype=float), 1e-12)
    llr = c * np.log(c / e) - (c - e)
    above = (c > e) & (2 * llr > CHI2_95)
    all_t1 = np.asarray(ties["t1"], dtype=np.int64)
    all_t2 = np.asarray(ties["t2"], dtype=np.int64)
    t1, t2, w = all_t1[above], all_t2[above], llr[above]
    if len(w) == 0:
        return _empty()
    nodes = np.unique(np.concatenate([t1, t2]))
    i1, i2 = np.searchsorted(nodes, t1), np.searchsorted(nodes, t2)
    labels = label_propagation(len(nodes), i1, i2, w)
    inside = np.isin(all_t1, nodes) & np.isin(all_t2, nodes)
    c_even = np.asarray(ties["c_even"], dtype=float)[inside]
    halves = [
        CoUsage(c_even, *_users_and_scale(con, nodes, 0)),
        CoUsage(c[inside] - c_even, *_users_and_scale(con, nodes, 1)),
    ]
    labels, private = split_private_cores(
        labels, np.searchsorted(nodes, all_t1[inside]), np.searchsorted(nodes, all_t2[inside]), *halves, _usage_of(con, nodes)
    )
    sizes = np.bincount(labels, minlength=len(nodes))
    keep = sizes[labels] >= 2
    if not keep.any():
        return _empty()
    con.register("_po", pa.table({"vid": pa.array(nodes[keep], pa.int32()), "pool": pa.array(nodes[labels[keep]], pa.int64())}))
    # Keep a template in its pool only when at least half its users use another template of it.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _pool_of AS
        WITH u AS (
            SELECT t.aid, t.vid, p.pool, count(*) OVER (PARTITION BY t.aid, p.pool) AS k
            FROM {templates_table} t JOIN _po p USING (vid)
        ),
        share AS (SELECT vid, pool, avg((k >= 2)::INTEGER) AS s FROM u GROUP BY vid, pool)
        SELECT vid, pool FROM share WHERE s >= 0.5
        """
    )
    con.unregister("_po")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _pool_of AS SELECT * FROM _pool_of "
        "WHERE pool IN (SELECT pool FROM _pool_of GROUP BY pool HAVING count(*) >= 2)"
    )
    _keep_significant_pools(con, total, pairs, nodes[np.unique(labels[private])])
    out = con.execute(
        f"""
        SELECT t.aid, p.pool, count(*) AS k
        FROM {templates_table} t JOIN _pool_of p USING (vid)
        GROUP BY t.aid, p.pool
        ORDER BY t.aid, p.pool
        """
    ).fetchnumpy()
    return (
        np.asarray(out["aid"], dtype=np.int64),
        np.asarray(out["pool"], dtype=np.int64),
        np.asarray(out["k"], dtype=np.int64),
    )


def _keep_significant_pools(con: duckdb.DuckDBPyConnection, total: float, pairs: float, private: np.ndarray) -> None:
    """Drop groups whose templates are not used together significantly more than chance; the
    others go into ``_pool_lift`` (pool, lift, tight): tight when used together at least
    ``TIGHT_LIFT`` times as often as chance, or when the pool is a private core (``private``:
    pool ids; see ``split_private_cores``) whatever its lift."""
    rows = con.execute(
        """
        WITH deg AS (SELECT vid, count(*)::DOUBLE AS n FROM _ts GROUP BY vid),
        expect AS (
            SELECT p.pool, (sum(d.n) * sum(d.n) - sum(d.n * d.n)) / 2 * $pairs / ($total * $total) AS e
            FROM _pool_of p JOIN deg d USING (vid) GROUP BY p.pool
        ),
        observed AS (
            SELECT pool, sum(k * (k - 1) / 2)::DOUBLE AS c
            FROM (SELECT s.aid, p.pool, count(*) AS k FROM _ts s JOIN _pool_of p USING (vid) GROUP BY s.aid, p.pool)
            GROUP BY pool
        )
        SELECT e.pool, coalesce(o.c, 0) AS c, e.e FROM expect e LEFT JOIN observed o USING (pool)
        """,
        {"pairs": pairs, "total": total},
    ).fetchall()
    if not rows:
        return
    z = NormalDist().inv_cdf(1 - 0.05 / (2 * len(rows)))
    keep = [(int(pool), c / max(e, 1e-12)) for pool, c, e in rows if c > e and 2 * (c * math.log(c / max(e, 1e-12)) - (c - e)) > z * z]
    private_ids = set(np.asarray(private, dtype=np.int64).tolist())
    con.register("_sig", pa.table({
        "pool": pa.array([k for k, _ in keep], pa.int64()),
        "lift": pa.array([x for _, x in keep], pa.float64()),
        "tight": pa.array([x >= TIGHT_LIFT or k in private_ids for k, x in keep], pa.bool_()),
    }))
    con.execute("CREATE OR REPLACE TEMP TABLE _pool_lift AS SELECT * FROM _sig")
    con.execute("CREATE OR REPLACE TEMP TABLE _pool_of AS SELECT * FROM _pool_of WHERE pool IN (SELECT pool FROM _sig)")
    con.unregister("_sig")


@dataclass(frozen=True)
class Usage:
    """Who uses which template: one row per (account, template) with ``node`` the template's node
    index and ``degree`` the account's number of templates in all (the configuration model's
    degree); ``account`` is any integer id of the account."""

    account: np.ndarray
    node: np.ndarray
    degree: np.ndarray


def _usage_of(con: duckdb.DuckDBPyConnection, nodes: np.ndarray) -> Usage:
    """The rows of ``_ts`` whose template is one of ``nodes``, with each account's degree."""
    rows = con.execute(
        "SELECT aid, vid, count(*) OVER (PARTITION BY aid) AS k FROM _ts ORDER BY aid, vid"
    ).fetchnumpy()
    vid = np.asarray(rows["vid"], dtype=np.int64)
    known = np.isin(vid, nodes)
    return Usage(
        account=np.asarray(rows["aid"], dtype=np.int64)[known],
        node=np.searchsorted(nodes, vid[known]),
        degree=np.asarray(rows["k"], dtype=np.int64)[known],
    )


@dataclass(frozen=True)
class CoUsage:
    """Co-usage counts of template pairs, each template's users, and ``scale``: the expected
    count of a pair is ``n_a n_b scale`` (configuration model)."""

    c: np.ndarray
    users: np.ndarray
    scale: float


def _users_and_scale(con: duckdb.DuckDBPyConnection, nodes: np.ndarray, parity: int) -> tuple[np.ndarray, float]:
    """Users of each of ``nodes`` (template ids) and the pair scale, among the accounts of one parity."""
    deg = con.execute("SELECT vid, count(*)::DOUBLE AS n FROM _ts WHERE aid % 2 = $p GROUP BY vid", {"p": parity}).fetchnumpy()
    vid = np.asarray(deg["vid"], dtype=np.int64)
    known = np.isin(vid, nodes)
    users = np.zeros(len(nodes))
    users[np.searchsorted(nodes, vid[known])] = np.asarray(deg["n"], dtype=float)[known]
    row = con.execute(
        "SELECT sum(k)::DOUBLE, sum(k * (k - 1))::DOUBLE FROM (SELECT count(*) AS k FROM _ts WHERE aid % 2 = $p GROUP BY aid)",
        {"p": parity},
    ).fetchall()[0]
    total, pairs = float(row[0] or 0.0), float(row[1] or 0.0)
    return users, (pairs / (total * total) if total > 0 else 0.0)


def split_private_cores(
    labels: np.ndarray, a: np.ndarray, b: np.ndarray, order_by: CoUsage, test_on: CoUsage, usage: Usage
) -> tuple[np.ndarray, np.ndarray]:
    """Group labels with each group's private core split off, when the data say it has one.

    Label propagation can fuse an operator's private pool with the tail templates of popular
    tools its accounts also use (its accounts tie the two); the fused group's lift, diluted by
    the popular part, then no longer says the pool is private, and its users are everyone who
    touched one of those tail templates. Within a group, templates are ordered by their own lift
    with the rest of the group, and the prefix ``S`` is split off that best explains the
    co-usage counts by two lifts (inside ``S``, elsewhere in the group) rather than one, when
    ``S`` is denser than the group and the two-lift Poisson model beats the one-lift model by a
    likelihood ratio test (5%, Bonferroni over every prefix of every group tested). The order
    comes from one half of the accounts (``order_by``) and the test from the other
    (``test_on``): ordering by an observed lift and testing on the same counts would find a
    "core" in the noise of any pool. ``a``, ``b``: the template pairs (node indices) counted.

    Two lifts only say the group is not one pool (heavy users combining popular templates a
    little more than chance give two lifts too); which templates are private is then decided on
    who uses them (``usage``, see ``_private_core``), starting from that prefix, and only a
    private core of at least two templates, not the whole group, is split off. Returns the labels
    and, per template, whether it is in a private core.
    """
    out = labels.copy()
    private = np.zeros(len(labels), dtype=bool)
    n_groups = int(labels.max()) + 1 if len(labels) else 0
    same = labels[a] == labels[b]

    def group_sums(u: CoUsage) -> tuple[np.ndarray, np.ndarray]:
        gc = np.bincount(labels[a[same]], weights=u.c[same], minlength=n_groups)
        sn = np.bincount(labels, weights=u.users, minlength=n_groups)
        sn2 = np.bincount(labels, weights=u.users**2, minlength=n_groups)
        return gc, (sn**2 - sn2) / 2 * u.scale

    size = np.bincount(labels, minlength=n_groups)
    all_c, all_e = (x + y for x, y in zip(group_sums(order_by), group_sums(test_on), strict=True))
    loose = np.flatnonzero((size >= 4) & (all_c > 0) & (all_c < TIGHT_LIFT * all_e))
    if len(loose) == 0:
        return out, private
    z = NormalDist().inv_cdf(1 - 0.05 / (2 * float(size[loose].sum())))
    node_c = np.bincount(a[same], weights=order_by.c[same], minlength=len(labels)) + np.bincount(
        b[same], weights=order_by.c[same], minlength=len(labels)
    )
    # Templates and the pairs inside each group, sorted by group once (stable: each group's in
    # their original order), rather than a pass over every template and pair per group.
    by_label = np.argsort(labels, kind="stable")
    node_start = np.searchsorted(labels[by_label], np.arange(n_groups + 1))
    inner = np.flatnonzero(same)
    inner = inner[np.argsort(labels[a[inner]], kind="stable")]
    pair_start = np.searchsorted(labels[a[inner]], np.arange(n_groups + 1))
    rows = np.argsort(labels[usage.node], kind="stable")
    row_start = np.searchsorted(labels[usage.node][rows], np.arange(n_groups + 1))
    for g in loose.tolist():
        members = by_label[node_start[g] : node_start[g + 1]]
        in_g = inner[pair_start[g] : pair_start[g + 1]]
        n = order_by.users[members]
        # Each template's lift with the rest of its group, shrunk towards the group's by one
        # pseudo-count: a template few accounts of this half used is not ranked last on no data.
        expected = n * (n.sum() - n) * order_by.scale
        lam = all_c[g] / max(all_e[g], 1e-300)
        own_lift = (node_c[members] + 1.0) / (expected + 1.0 / max(lam, 1e-300))
        order = members[np.argsort(-own_lift, kind="stable")]
        rank = np.full(len(labels), -1)
        rank[order] = np.arange(len(order))
        llr, cs, es = _prefix_llr(order, rank, a[in_g], b[in_g], test_on.c[in_g], test_on.users, test_on.scale)
        k = np.arange(1, len(order) + 1)
        # The chi-square approximation of the test needs expected counts of at least 5 (the usual
        # rule): a core of three templates that chance used together twice is no evidence.
        lam_b = float(cs[-1] / es[-1]) if es[-1] > 0 else 0.0
        ok = (k >= 2) & (k <= len(order) - 1) & (cs > lam_b * es) & (lam_b * es >= MIN_EXPECTED) & (2 * llr > z * z)
        if not ok.any():
            continue
        # Where to cut: the change point's 95% likelihood interval on all the data (within
        # chi2(1)/2 of the best cut), at its far end: noise that moves the best cut a template
        # early would leave a pool template with the popular ones.
        full, _, _ = _prefix_llr(order, rank, a[in_g], b[in_g], order_by.c[in_g] + test_on.c[in_g],
                                 order_by.users + test_on.users, (order_by.scale + test_on.scale) / 2)
        full_ok = np.where(ok, full, -np.inf)
        best = int(np.flatnonzero(full_ok >= full_ok.max() - CHI2_95 / 2).max())
        r = rows[row_start[g] : row_start[g + 1]]
        local = np.full(len(labels), -1)
        local[members] = np.arange(len(members))
        start = np.zeros(len(members), dtype=bool)
        start[local[order[: best + 1]]] = True
        in_core = _private_core(start, usage.account[r], local[usage.node[r]], usage.degree[r])
        if in_core.sum() < 2 or in_core.all():
            continue
        core, rest = members[in_core], members[~in_core]
        out[core] = core.min()
        out[rest] = rest.min()
        private[core] = True
    return out, private


# The significance level of "a template is private to the core" (Bonferroni over the group's
# templates), the usual 5%.
PRIVATE_LEVEL = 0.05
# Rounds of alternating templates and users at most; it stops earlier at a fixed point (or when
# a core repeats).
PRIVATE_ROUNDS = 20


def _private_core(start: np.ndarray, account: np.ndarray, node: np.ndarray, degree: np.ndarray) -> np.ndarray:
    """Which of a group's templates are private to the accounts of its core, from ``start``.

    A template of an operator's pool is used almost only by the operator's accounts, each of
    which uses other templates of the pool too; a popular template is used by everybody, the
    operator's accounts among them. So, for a candidate core ``S``, each template's users are
    counted that use another template of ``S`` (``x`` of its ``n`` users; its own use left out,
    so that a template of ``S`` and one outside it are counted alike). Under the null (the
    template is used like the group's templates outside ``S``) a user with ``k`` templates
    does so with the chance ``q(k) = 1 - (1 - pi)^(k - 1)`` of the configuration model (heavy
    users touch more of everything), ``pi`` fitted on the rows of the templates outside ``S``
    (``_fit_core_share``); a template is private when ``x`` is far above what its users' ``q``
    predict (``p``, their mean): the binomial tail of its share is below 5%, Bonferroni over
    the group's templates, bounded by Chernoff's ``exp(-n KL(x/n || p))`` (Chernoff 1952), which
    holds for a sum of independent trials of unequal chances with mean ``p`` and needs no
    approximation for small counts. ``S`` becomes the private templates and the count is made
    again, until it no longer changes (a biclustering by alternating the two sides). A private
    pool's templates stand at a share near 1 whatever the operator's size or lift; a popular
    template's share is what the users' activity predicts.

    ``start``: the initial core (bool per template, indices ``0..m-1``); ``account``, ``node``,
    ``degree``: the group's usage rows (node as the local template index). Returns the core.
    """
    m = len(start)
    threshold = math.log(m / PRIVATE_LEVEL)
    _, acc = np.unique(account, return_inverse=True)
    n = np.bincount(node, minlength=m).astype(float)
    core = start.copy()
    seen: set[bytes] = set()
    for _ in range(PRIVATE_ROUNDS):
        in_core = core[node]
        others = np.bincount(acc, weights=in_core)[acc] - in_core
        hit = others >= 1
        rest = ~in_core
        if not rest.any():
            return core
        hits_k = np.bincount(degree[rest], weights=hit[rest], minlength=int(degree.max()) + 1)
        rows_k = np.bincount(degree[rest], minlength=int(degree.max()) + 1).astype(float)
        pi = _fit_core_share(hits_k, rows_k)
        q = 1.0 - (1.0 - pi) ** np.maximum(np.arange(len(rows_k)) - 1, 0)
        p = np.clip(np.bincount(node, weights=q[degree], minlength=m) / np.maximum(n, 1.0), 1e-12, 1 - 1e-12)
        share = np.bincount(node, weights=hit, minlength=m) / np.maximum(n, 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            kl = np.where(share > 0, share * np.log(share / p), 0.0) + np.where(
                share < 1, (1 - share) * np.log((1 - share) / (1 - p)), 0.0
            )
        new = (share > p) & (n * kl > threshold)
        if np.array_equal(new, core) or new.tobytes() in seen:
            return new
        seen.add(core.tobytes())
        core = new
    return core


def _fit_core_share(hits: np.ndarray, rows: np.ndarray) -> float:
    """The maximum-likelihood ``pi`` of the configuration-model null: a user with ``k`` templates
    uses one of the core's among its other ``k - 1`` with the chance ``1 - (1 - pi)^(k - 1)``;
    ``hits[k]`` of ``rows[k]`` usage rows of degree ``k`` did. One parameter, so a group cannot
    explain its own concentration away (a per-degree rate could, where its accounts are the
    only ones of their degree)."""
    k = np.arange(len(rows), dtype=float) - 1.0
    use = (k >= 1) & (rows > 0)
    k, h, r = k[use], hits[use], rows[use]
    if h.sum() <= 0:
        return 0.0
    if h.sum() >= r.sum():
        return 1.0

    def score(pi: float) -> float:  # d/dpi of the log-likelihood, decreasing in pi
        miss = (1.0 - pi) ** k
        return float(np.sum(h * k * miss / (1.0 - pi) / np.maximum(1.0 - miss, 1e-300) - (r - h) * k / (1.0 - pi)))

    lo, hi = 1e-12, 1.0 - 1e-12
    for _ in range(100):  # bisection on the score, in log space
        mid = math.sqrt(lo * hi)
        if score(mid) > 0:
            lo = mid
        else:
            hi = mid
    return math.sqrt(lo * hi)


def _prefix_llr(
    order: np.ndarray, rank: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray, users: np.ndarray, scale: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per prefix of ``order``: the log-likelihood ratio of two lifts (inside the prefix,
    elsewhere in the group) against one, and the prefix's observed and expected co-usage, for
    counts ``c`` of the group's pairs ``a``, ``b``."""
    # A pair is inside prefix k from k = its later member's rank + 1 on.
    cs = np.cumsum(np.bincount(np.maximum(rank[a], rank[b]), weights=c, minlength=len(order)))
    cn = np.cumsum(users[order])
    es = np.maximum((cn**2 - np.cumsum(users[order] ** 2)) / 2 * scale, 1e-300)
    total_c = float(c.sum())
    total_e = max(float((users[order].sum() ** 2 - (users[order] ** 2).sum()) / 2 * scale), 1e-300)
    cr, er = total_c - cs, np.maximum(total_e - es, 1e-300)
    lam = total_c / total_e
    with np.errstate(divide="ignore", invalid="ignore"):
        llr = np.where(cs > 0, cs * np.log(cs / (lam * es)), 0.0) + np.where(cr > 0, cr * np.log(np.maximum(cr, 1e-300) / (lam * er)), 0.0)
    return llr, cs, es


def label_propagation(n: int, a: np.ndarray, b: np.ndarray, w: np.ndarray, iterations: int = LPA_ITERATIONS) -> np.ndarray:
    """Weighted label propagation on an undirected graph; returns the label (a node index) of
    each node. Each round every node takes the label carrying the most weight among its
    neighbours and itself (its own label counts with its strongest tie, so isolated pairs settle);
    ties go to the smaller label. Deterministic."""
    labels = np.arange(n)
    src = np.concatenate([a, b])
    dst = np.concatenate([b, a])
    ww = np.concatenate([w, w])
    self_w = np.zeros(n)
    np.maximum.at(self_w, src, ww)
    for _ in range(iterations):
        nodes = np.concatenate([src, np.arange(n)])
        labs = np.concatenate([labels[dst], labels])
        weights = np.concatenate([ww, self_w])
        key = nodes * np.int64(n) + labs
        order = np.argsort(key, kind="stable")
        k_sorted = key[order]
        starts = np.flatnonzero(np.r_[True, k_sorted[1:] != k_sorted[:-1]])
        sums = np.add.reduceat(weights[order], starts)
        node_of = k_sorted[starts] // n
        lab_of = k_sorted[starts] % n
        # best label per node: max weight, then smallest label
        rank = np.lexsort((lab_of, -sums, node_of))
        first = np.r_[True, node_of[rank][1:] != node_of[rank][:-1]]
        new = labels.copy()
        new[node_of[rank][first]] = lab_of[rank][first]
        if np.array_equal(new, labels):
            break
        labels = new
    # Canonical: each group labelled by its smallest member.
    canon = np.full(n, n, dtype=np.int64)
    np.minimum.at(canon, labels, np.arange(n))
    return canon[labels]


def _empty() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    z = np.zeros(0, dtype=np.int64)
    return z, z.copy(), z.copy()
