"""From scored pairs and communities to operators' members with confidence (pure numpy + DuckDB).

1. *Edges*: candidate pairs whose match probability reaches ``edge_probability`` (the Bayes
   decision), weighted by their match weight in bits (capped).
2. *Communities* come from Leiden on those edges (``communities.py``, GDS).
3. *Merging pieces*: modularity cuts large operators into pieces (its resolution limit,
   Fortunato & Barthelemy 2007). Two communities are one group when each side, by a likelihood
   ratio, finds the edges between them as dense as its own (``merge_pieces``): a few stray
   edges (a household behind one proxy exit) or a looser group reaching into a clique (an open
   customer's seats on one card) do not merge.
4. *Groups a shared value defines* (group-level evidence): the accounts of a TLS client or a
   template pool (software and content, which an operator can keep private; cards
   and devices already tie pairs, and a BIN is shared by strangers) that no community explains
   (no group holds half its users) are a candidate group, judged by the membership model on the evidence *other*
   than that value's family (as EM sessions leave out the comparison they are blocked on), each
   account on what it shares with members outside its own community (several operators, or an
   operator and an open customer, on one software stack do not support each other), and on
   identity and content only (behaviour tells a type of user, developers alike, not an operator). A
   careful operator whose accounts share only a private client and prompts they alone use, each
   pair too little to link, passes; developers who merely share a public library do not.
5. *Membership* (``membership.py``): every member, and every account tied to a group, is judged
   against the group; an account stays in the group of its own that accepts it with the highest
   log-odds (posterior at least ``membership_probability``); an account no group of its own
   accepts joins the group that does, with the highest log-odds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from sybilgraph.attribution.arrays import union_find, unique_sorted
from sybilgraph.attribution.comparisons import IDENTIFIER_COMPARISONS, KIND_TO_COMPARISON
from sybilgraph.attribution.membership import TEMPLATE_COMPARISON, MembershipScores, membership_scores
from sybilgraph.attribution.pairs import PairLevels, PairTables
from sybilgraph.attribution.params import AttributionParams
from sybilgraph.attribution.profiles import Profiles

__all__ = ["Edges", "Grouping", "edges_of", "group_accounts", "merge_pieces"]

MEMBERSHIP_COMPARISONS = tuple(c.name for c in IDENTIFIER_COMPARISONS)
# Kinds of values whose users may form a group of their own (group-level evidence): software and
# content an operator can keep to itself.
VALUE_GROUP_KINDS = ("tls", "template_pool")


@dataclass
class Edges:
    a: np.ndarray  # int64 account ids, a < b
    b: np.ndarray
    weight: np.ndarray  # bits, capped

    def __len__(self) -> int:
        return len(self.a)


@dataclass
class Grouping:
    aid: np.ndarray  # placed accounts
    gid: np.ndarray  # their group
    posterior: np.ndarray  # membership posterior (uncalibrated confidence)
    log_odds: np.ndarray
    membership: MembershipScores  # every evaluated (account, group), for evidence
    merges: int


def edges_of(pairs: PairLevels, match_weight: np.ndarray, params: AttributionParams) -> Edges:
    threshold = float(np.log2(params.edge_probability / (1 - params.edge_probability)))
    keep = match_weight >= threshold
    return Edges(
        a=pairs.a[keep].astype(np.int64),
        b=pairs.b[keep].astype(np.int64),
        weight=np.minimum(match_weight[keep] - threshold + 1.0, params.max_edge_bits),
    )


def merge_pieces(community: np.ndarray, edges: Edges) -> tuple[np.ndarray, int]:
    """Community labels after merging pairs of communities that are pieces of one group, by a
    likelihood ratio on each side; merged groups take the smallest label.

    Community ``c`` sees the ``k`` match edges among the ``n = |c| |d|`` pairs between it and
    ``d``. If ``d`` is more of ``c``, they are linked at ``c``'s own edge density ``p_c``; if not,
    at the background density ``p_0`` of edges between communities. ``c`` accepts ``d`` when
    ``k ln(p_c / p_0) + (n - k) ln((1 - p_c) / (1 - p_0)) > 0``, and a merge needs both sides:
    the pieces of an operator that modularity cut apart (linked as densely as within) merge,
    while a clique (a household, an open customer's seats: every member shares one card)
    that a looser group reaches by some edges does not, because it is far denser within.
    """
    if len(edges) == 0:
        return community.copy(), 0
    n_labels = int(community.max()) + 1 if (community >= 0).any() else 0
    if n_labels == 0:
        return community.copy(), 0
    ca, cb = community[edges.a], community[edges.b]
    valid = (ca >= 0) & (cb >= 0)
    ca, cb = ca[valid], cb[valid]
    size = np.bincount(community[community >= 0], minlength=n_labels).astype(float)
    inside = ca == cb
    e_in = np.bincount(ca[inside], minlength=n_labels).astype(float)
    pairs_in = size * (size - 1) / 2
    density = np.clip((e_in + 0.5) / (pairs_in + 1.0), 1e-12, 1 - 1e-9)
    lo, hi = np.minimum(ca[~inside], cb[~inside]), np.maximum(ca[~inside], cb[~inside])
    if len(lo) == 0:
        return community.copy(), 0
    keys, k = np.unique(lo.astype(np.int64) * n_labels + hi, return_counts=True)
    cross_pairs = (size.sum() ** 2 - (size**2).sum()) / 2
    p0 = float(np.clip(len(lo) / max(cross_pairs, 1.0), 1e-12, 0.5))
    c, d = keys // n_labels, keys % n_labels
    n = size[c] * size[d]
    k = k.astype(float)

    def accepts(pc: np.ndarray) -> np.ndarray:
        llr = k * np.log(pc / p0) + (n - k) * (np.log1p(-pc) - np.log1p(-p0))
        return (llr > 0) & (pc > p0)

    ok = accepts(density[c]) & accepts(density[d]) & (size[c] >= 2) & (size[d] >= 2)
    roots = union_find(n_labels, c[ok], d[ok])
    merges = n_labels - len(unique_sorted(roots))  # each merge joins two groups into one
    return np.where(community >= 0, roots[np.maximum(community, 0)], -1), merges


def group_accounts(
    t: PairTables,
    edges: Edges,
    community: np.ndarray,
    params: AttributionParams,
    profiles: Profiles | None,
) -> Grouping:
    """Members of each group with their membership posterior. ``community``: Leiden's label per
    account id (-1 for accounts without an edge)."""
    merged, merges = merge_pieces(community, edges)
    size = np.bincount(merged[merged >= 0]) if (merged >= 0).any() else np.zeros(0, dtype=np.int64)
    in_group = (merged >= 0) & (size[np.maximum(merged, 0)] >= params.min_operator_size) if len(size) else merged >= 0
    group_of = np.where(in_group, merged, -1)
    value_groups = _value_groups(t, group_of, profiles, params)
    groups = pa.concat_tables([
        pa.table({"aid": pa.array(np.flatnonzero(in_group), pa.int32()), "gid": pa.array(merged[in_group], pa.int64())}),
        value_groups,
    ])
    # Accounts with an edge into a group they are not in are judged against it as well.
    src = np.concatenate([edges.a, edges.b])
    dst = np.concatenate([edges.b, edges.a])
    g_dst = group_of[dst]
    keep = (g_dst >= 0) & (group_of[src] != g_dst)
    candidates = pa.table({"aid": pa.array(src[keep], pa.int32()), "gid": pa.array(g_dst[keep], pa.int64())})
    scores = membership_scores(t.con, t.n_accounts, groups, candidates, MEMBERSHIP_COMPARISONS, profiles)
    aid, gid, posterior, log_odds = _assign(scores, params.membership_probability)
    # Groups that fell below the minimum size after judging keep no members.
    gsize = np.bincount(np.searchsorted(unique_sorted(gid), gid)) if len(gid) else np.zeros(0, dtype=np.int64)
    ok = gsize[np.searchsorted(unique_sorted(gid), gid)] >= params.min_operator_size if len(gid) else np.zeros(0, dtype=bool)
    return Grouping(aid=aid[ok], gid=gid[ok], posterior=posterior[ok], log_odds=log_odds[ok], membership=scores, merges=merges)


def _value_groups(t: PairTables, group_of: np.ndarray, profiles: Profiles | None, params: AttributionParams) -> pa.Table:
    """Accepted members of the groups that unexplained shared values define (see module note)."""
    con = t.con
    con.register("_gof", pa.table({"aid": pa.array(np.arange(len(group_of)), pa.int32()), "gid": pa.array(group_of, pa.int64())}))
    kinds = ", ".join(f"'{k}'" for k in VALUE_GROUP_KINDS)
    rows = con.execute(
        f"""
        WITH users AS (
            SELECT l.vid, l.kind, l.aid, g.gid FROM lk l JOIN _gof g USING (aid)
            WHERE l.kind IN ({kinds}) AND l.n >= $min_size
        ),
        cover AS (
            SELECT vid, sum(k) AS n, coalesce(max(k) FILTER (WHERE gid >= 0), 0) AS top
            FROM (SELECT vid, gid, count(*) AS k FROM users GROUP BY vid, gid)
            GROUP BY vid
        ),
        unexplained AS (SELECT vid FROM cover WHERE 2 * top < n)
        SELECT u.aid, u.vid, any_value(u.kind) OVER (PARTITION BY u.vid) AS kind
        FROM users u SEMI JOIN unexplained x USING (vid)
        """,
        {"min_size": int(max(params.min_operator_size, 3))},
    ).fetchnumpy()
    con.unregister("_gof")
    if len(rows["aid"]) == 0:
        return pa.table({"aid": pa.array([], pa.int32()), "gid": pa.array([], pa.int64())})
    offset = int(max(group_of.max(initial=-1), -1)) + 1
    vids = np.asarray(rows["vid"], dtype=np.int64)
    gid = offset + vids
    groups = pa.table({"aid": pa.array(rows["aid"], pa.int32()), "gid": pa.array(gid, pa.int64())})
    kind_of = dict(zip(vids.tolist(), [str(k) for k in rows["kind"]]))
    exclude_rows = []
    for v, k in kind_of.items():
        for name in _family_of_kind(k):
            exclude_rows.append((offset + v, name))
    exclude = pa.table({"gid": pa.array([g for g, _ in exclude_rows], pa.int64()), "comparison": pa.array([c for _, c in exclude_rows], pa.string())})
    # Each member is judged on what it shares with members outside its own community, and on
    # identity and content only: behaviour says what kind of user an account is (developers on a
    # popular automation stack work alike), which the campaign score weighs, not who runs it.
    scores = membership_scores(con, t.n_accounts, groups, None, MEMBERSHIP_COMPARISONS, None, exclude=exclude, communities=group_of)
    tbl = scores.table
    accepted = np.asarray(tbl.column("member").to_numpy(zero_copy_only=False), dtype=bool) & (tbl.column("posterior").to_numpy() >= params.membership_probability)
    a = tbl.column("aid").to_numpy()[accepted]
    g = tbl.column("gid").to_numpy()[accepted]
    if len(g) == 0:
        return pa.table({"aid": pa.array([], pa.int32()), "gid": pa.array([], pa.int64())})
    uniq, counts = np.unique(g, return_counts=True)
    big = np.isin(g, uniq[counts >= params.min_operator_size])
    return pa.table({"aid": pa.array(a[big], pa.int32()), "gid": pa.array(g[big], pa.int64())})


def _family_of_kind(kind: str) -> tuple[str, ...]:
    """The comparisons a group defined by a value of ``kind`` is not judged on."""
    if kind in ("template_pool", "loose_pool"):
        return ("template_pool", TEMPLATE_COMPARISON)
    return (KIND_TO_COMPARISON[kind],)


def _assign(scores: MembershipScores, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each account stays in the group of its own that accepts it with the highest log-odds; an
    account none of its own groups accepts joins the accepting group with the highest log-odds."""
    t = scores.table
    aid = t.column("aid").to_numpy().astype(np.int64)
    gid = t.column("gid").to_numpy().astype(np.int64)
    member = np.asarray(t.column("member").to_numpy(zero_copy_only=False), dtype=bool)
    post = t.column("posterior").to_numpy()
    lo = t.column("log_odds").to_numpy()
    accepted = post >= threshold
    kept = member & accepted
    kept_accounts = unique_sorted(aid[kept])
    rest = accepted & ~member & ~np.isin(aid, kept_accounts)
    chosen = np.concatenate([_best(aid, gid, lo, np.flatnonzero(kept)), _best(aid, gid, lo, np.flatnonzero(rest))])
    chosen = chosen[np.lexsort((aid[chosen], gid[chosen]))]
    return aid[chosen], gid[chosen], post[chosen], lo[chosen]


def _best(aid: np.ndarray, gid: np.ndarray, lo: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Of rows ``idx``, the one per account with the highest log-odds (then smallest group id)."""
    if len(idx) == 0:
        return idx
    order = idx[np.lexsort((gid[idx], -lo[idx], aid[idx]))]
    first = np.r_[True, aid[order][1:] != aid[order][:-1]]
    return order[first]
