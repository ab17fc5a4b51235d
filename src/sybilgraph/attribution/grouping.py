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
   against the group; an account joins the group that accepts it (posterior above
   ``membership_probability``) with the highest log-odds, its own or another (``is_accepted``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd
import pyarrow as pa

from sybilgraph.attribution.arrays import union_find, unique_sorted
from sybilgraph.attribution.comparisons import IDENTIFIER_COMPARISONS, KIND_TO_COMPARISON
from sybilgraph.attribution.membership import TEMPLATE_COMPARISON, MembershipScores, membership_scores
from sybilgraph.attribution.pairs import PairLevels, PairTables
from sybilgraph.attribution.pools import LOOSE_POOL_KIND, POOL_KIND
from sybilgraph.attribution.params import AttributionParams
from sybilgraph.attribution.profiles import Profiles

__all__ = ["Edges", "Grouping", "edges_of", "is_accepted", "group_accounts", "leak_rate", "merge_by_value_usage", "merge_on_shared_pools", "merge_pieces"]

MEMBERSHIP_COMPARISONS = tuple(c.name for c in IDENTIFIER_COMPARISONS)
# Kinds of values whose users may form a group of their own (group-level evidence): software and
# content an operator can keep to itself.
VALUE_GROUP_KINDS = ("tls", "template_pool")
# Rounds of membership judging at most (it stops as soon as no account moves).
MEMBERSHIP_ROUNDS = 5


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
    membership: MembershipScores  # every member and every accepted (account, group), for evidence
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


def merge_on_shared_pools(community: np.ndarray, t: PairTables) -> tuple[np.ndarray, int]:
    """Community labels after merging communities that use one template pool as one group does
    (see ``merge_by_value_usage``): the crews of an operator, each on infrastructure of its own,
    send prompts from its one private pool."""
    # Tight and loose pools alike: whether the merged communities own the pool is judged on who
    # uses it, not on its lift (a pool an operator with many accounts owns can be loose by lift
    # where label propagation found it whole, with no popular templates to split it from).
    rows = t.con.execute(f"SELECT aid, vid, n FROM lk WHERE kind IN ('{POOL_KIND}', '{LOOSE_POOL_KIND}')").fetchnumpy()
    return merge_by_value_usage(
        community, np.asarray(rows["aid"], dtype=np.int64), np.asarray(rows["vid"], dtype=np.int64),
        np.asarray(rows["n"], dtype=np.int64), t.n_accounts,
    )


def leak_rate(users: np.ndarray, held: np.ndarray) -> float | None:
    """How much of a value one group owns is used outside it, on this data: over the values a
    community holds at least half of (``held`` of their ``users``), the median share of their
    users outside it, smoothed by half an account each way (a handful of values owned without a
    leak does not make every outside user impossible). None when no community owns a value."""
    owned = (2 * held >= users) & (users > 0)
    if not owned.any():
        return None
    return float(np.median((users[owned] - held[owned] + 0.5) / (users[owned] + 1.0)))


def binomial_upper_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    if k <= 0:
        return 1.0
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    terms = [
        math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * math.log(p) + (n - i) * math.log1p(-p)
        for i in range(k, n + 1)
    ]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(x - top) for x in terms))


def merge_by_value_usage(
    community: np.ndarray, aid: np.ndarray, vid: np.ndarray, users: np.ndarray, n_accounts: int, level: float = 0.05
) -> tuple[np.ndarray, int]:
    """Merge communities ``c`` and ``d`` that share a value as pieces of one group, by a
    likelihood ratio on each side, on how much each uses it (group-level evidence).

    ``aid``, ``vid``: who uses which value; ``users``: each row's value's users in all. Side
    ``d`` uses the value ``x_d`` times among its ``|d|`` members. If ``d`` is more of ``c``, it
    uses it at ``c``'s rate; if not, at the rate of everybody outside the two. ``d`` accepts
    ``c`` when the first explains its count better, significantly over every pair of
    communities tested (binomial likelihood ratio test, Bonferroni); a merge needs both sides;
    and the communities merged on a value must hold it together as one group holds its own
    values on this data (``leak_rate``). A pool that every crew of an operator draws
    from, and nobody else, merges the crews; a pool an operator owns that a few strangers also
    touch, two operators' pools fused by their shared tail templates, or a value many groups
    use, does not.
    """
    n_labels = int(community.max()) + 1 if len(community) and (community >= 0).any() else 0
    if n_labels == 0 or len(aid) == 0:
        return community.copy(), 0
    comm = community[aid]
    inside = comm >= 0
    keys, x = np.unique(vid[inside] * np.int64(n_labels) + comm[inside], return_counts=True)
    v, c, x = keys // n_labels, keys % n_labels, x.astype(float)
    values, first = np.unique(vid, return_index=True)
    n_of = users[first][np.searchsorted(values, v)].astype(float)  # each (value, community)'s value's users
    leak = leak_rate(n_of, x)
    if leak is None:
        return community.copy(), 0
    size = np.bincount(community[community >= 0], minlength=n_labels).astype(float)
    starts = np.flatnonzero(np.r_[True, v[1:] != v[:-1]])  # keys are sorted by value
    ends = np.r_[starts[1:], len(v)]
    per_value = (ends - starts).astype(float)
    # Every pair of communities on a value is a test: a merge needs a likelihood ratio beyond what
    # chance gives over all of them (Bonferroni, 5%). Two flatmates who both use a niche prompt
    # set are weak evidence, and there are many such pairs; three crews all on one pool are not.
    z2 = NormalDist().inv_cdf(1 - level / (2 * max(float((per_value * (per_value - 1) / 2).sum()), 1.0))) ** 2
    join_a: list[int] = []
    join_b: list[int] = []
    for lo, hi in zip(starts.tolist(), ends.tolist()):
        if hi - lo < 2:
            continue
        cs, xs, ss = c[lo:hi], x[lo:hi], size[c[lo:hi]]
        n_v = float(n_of[lo])
        rate = (xs + 0.5) / (ss + 1.0)
        rest = np.maximum(n_v - xs[:, None] - xs[None, :], 0.0)
        background = (rest + 0.5) / (np.maximum(n_accounts - ss[:, None] - ss[None, :], 0.0) + 1.0)
        # llr[i, j]: side j's count under side i's rate against the background.
        llr = xs[None, :] * np.log(rate[:, None] / background) + (ss - xs)[None, :] * (np.log1p(-rate[:, None]) - np.log1p(-background))
        ok = (2 * llr > z2) & (rate[:, None] > background)
        ok = ok & ok.T & (ss[:, None] >= 2) & (ss[None, :] >= 2)
        i, j = np.nonzero(np.triu(ok, 1))
        if len(i) == 0:
            continue
        comp = union_find(hi - lo, i, j)
        for r in np.unique(comp[np.r_[i, j]]).tolist():
            members = np.flatnonzero(comp == r)
            outside = int(round(n_v - xs[members].sum()))
            if binomial_upper_tail(outside, int(n_v), leak) < level:
                continue
            join_a += [int(cs[members[0]])] * (len(members) - 1)
            join_b += cs[members[1:]].tolist()
    if not join_a:
        return community.copy(), 0
    roots = union_find(n_labels, np.asarray(join_a), np.asarray(join_b))
    merges = n_labels - len(unique_sorted(roots))
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
    merged, pool_merges = merge_on_shared_pools(merged, t)
    merges += pool_merges
    size = np.bincount(merged[merged >= 0]) if (merged >= 0).any() else np.zeros(0, dtype=np.int64)
    in_group = (merged >= 0) & (size[np.maximum(merged, 0)] >= params.min_operator_size) if len(size) else merged >= 0
    group_of = np.where(in_group, merged, -1)
    value_groups = _value_groups(t, group_of, profiles, params)
    groups = _absorb_covered_communities(
        pa.table({"aid": pa.array(np.flatnonzero(in_group), pa.int32()), "gid": pa.array(merged[in_group], pa.int64())}),
        value_groups,
    )
    # Accounts with an edge into a group they are not in are judged against it as well.
    src = np.concatenate([edges.a, edges.b])
    dst = np.concatenate([edges.b, edges.a])
    g_dst = group_of[dst]
    keep = (g_dst >= 0) & (group_of[src] != g_dst)
    candidates = pa.table({"aid": pa.array(src[keep], pa.int32()), "gid": pa.array(g_dst[keep], pa.int64())})
    # Membership by hard EM: judge, assign, and judge again against the groups as assigned, until
    # nothing moves. A group's u comes from its tied outsiders; while its own missing members are
    # among them (a careful operator that pair evidence found in part), they make its owned values
    # look common outside it. Accepted, they leave the null and become members.
    # A group's scores depend on its own members only, so each round judges again only the groups
    # whose members moved (the same scores as judging all of them: tested).
    # Only members and accepted rows are kept (``keep_from``): ``_assign`` reads no other row.
    accept = params.membership_probability
    scores = membership_scores(t.con, t.n_accounts, groups, candidates, MEMBERSHIP_COMPARISONS, profiles, keep_from=accept)
    aid, gid, posterior, log_odds = _assign(scores, accept)
    for _ in range(MEMBERSHIP_ROUNDS - 1):
        assigned = _without_small_groups(aid, gid, params.min_operator_size)
        moved = _moved_groups(assigned, groups)
        if len(moved) == 0:
            break
        again = membership_scores(
            t.con, t.n_accounts, _rows_of(assigned, moved), _rows_of(candidates, moved), MEMBERSHIP_COMPARISONS, profiles,
            keep_from=accept,
        )
        scores = _replace_groups(scores, again, moved)
        groups = assigned
        aid, gid, posterior, log_odds = _assign(scores, accept)
    # Groups that fell below the minimum size after judging keep no members.
    ok = _large_enough(gid, params.min_operator_size)
    return Grouping(aid=aid[ok], gid=gid[ok], posterior=posterior[ok], log_odds=log_odds[ok], membership=scores, merges=merges)


def _absorb_covered_communities(communities: pa.Table, value_groups: pa.Table) -> pa.Table:
    """Both tables as one, where a group (community or value group) whose members a larger value
    group mostly holds (at least half) is that value group: pair evidence found part of an
    operator and a shared value the rest (a careful operator whose accounts share a private
    client and, in fragments, a prompt pool), or two values define one operator."""
    both = pa.concat_tables([communities, value_groups])
    if value_groups.num_rows == 0 or both.num_rows == 0:
        return both
    frame = pd.DataFrame({"aid": both.column("aid").to_numpy().astype(np.int64), "gid": both.column("gid").to_numpy().astype(np.int64)}).drop_duplicates()
    size = frame["gid"].value_counts()
    pairs = frame.merge(frame, on="aid", suffixes=("", "_b"))
    pairs = pairs[pairs["gid"] != pairs["gid_b"]]
    overlap = pairs.groupby(["gid", "gid_b"]).size().reset_index(name="k")
    overlap["size"] = size.reindex(overlap["gid"]).to_numpy()
    overlap["size_b"] = size.reindex(overlap["gid_b"]).to_numpy()
    covered = overlap[(2 * overlap["k"] >= overlap["size"]) & ((overlap["size_b"] > overlap["size"]) | ((overlap["size_b"] == overlap["size"]) & (overlap["gid_b"] < overlap["gid"])))]
    # A value group that holds most of two communities would merge them on the strength of one
    # value, which merging pieces judges (merge_pieces, merge_on_shared_pools): such a value
    # group absorbs no community (two open customers on one SDK stay two).
    is_community = covered["gid"].isin(communities.column("gid").to_numpy())
    spans = covered[is_community].groupby("gid_b").size()
    covered = covered[~is_community | ~covered["gid_b"].isin(spans.index[spans > 1])]
    # Only into value groups: a value group inside a community brings the community nobody its own
    # membership judgement would not (a few strangers a value group accepted stay outside it).
    covered = covered[~covered["gid_b"].isin(communities.column("gid").to_numpy())]
    # Each group goes into the one holding most of it (then the larger, then the smaller id).
    covered = covered.sort_values(["gid", "k", "size_b", "gid_b"], ascending=[True, False, False, True]).drop_duplicates("gid")
    target = dict(zip(covered["gid"].tolist(), covered["gid_b"].tolist()))

    def root(g: int) -> int:
        seen = set()
        while g in target and g not in seen:  # targets are strictly larger (or equal, smaller id): no cycles
            seen.add(g)
            g = target[g]
        return g

    frame["gid"] = [root(g) for g in frame["gid"].tolist()]
    frame = frame.drop_duplicates()
    return pa.table({"aid": pa.array(frame["aid"].to_numpy(), pa.int32()), "gid": pa.array(frame["gid"].to_numpy(), pa.int64())})


def _large_enough(gid: np.ndarray, min_size: int) -> np.ndarray:
    """Per row, whether its group has at least ``min_size`` rows."""
    if len(gid) == 0:
        return np.zeros(0, dtype=bool)
    _, inv, counts = np.unique(gid, return_inverse=True, return_counts=True)
    return counts[inv] >= min_size


def _without_small_groups(aid: np.ndarray, gid: np.ndarray, min_size: int) -> pa.Table:
    """The assignment as a table, without groups that kept fewer than ``min_size`` members: such a
    group is never reported, and while it holds an account (it accepts its last member on no
    evidence at all) that account cannot join the group that would accept it."""
    keep = _large_enough(gid, min_size)
    return pa.table({"aid": pa.array(aid[keep], pa.int32()), "gid": pa.array(gid[keep], pa.int64())})


def _moved_groups(x: pa.Table, y: pa.Table) -> np.ndarray:
    """Groups (gid) whose members differ between two (aid, gid) tables."""
    kx = np.unique(x.column("gid").to_numpy().astype(np.int64) << 32 | x.column("aid").to_numpy().astype(np.int64))
    ky = np.unique(y.column("gid").to_numpy().astype(np.int64) << 32 | y.column("aid").to_numpy().astype(np.int64))
    return np.unique(np.setxor1d(kx, ky, assume_unique=True) >> 32)


def _rows_of(table: pa.Table, gids: np.ndarray) -> pa.Table:
    keep = np.isin(table.column("gid").to_numpy().astype(np.int64), gids)
    return table.filter(pa.array(keep))


def _replace_groups(old: MembershipScores, new: MembershipScores, gids: np.ndarray) -> MembershipScores:
    """``old``'s rows with those of groups ``gids`` replaced by ``new``'s, sorted by (gid, aid)."""
    keep = ~np.isin(old.table.column("gid").to_numpy().astype(np.int64), gids)
    table = pa.concat_tables([old.table.filter(pa.array(keep)), new.table])
    order = np.lexsort((table.column("aid").to_numpy(), table.column("gid").to_numpy()))
    return MembershipScores(
        table=table.take(pa.array(order)),
        comparisons=old.comparisons,
        weights=np.concatenate([old.weights[keep], new.weights])[order],
        levels=np.concatenate([old.levels[keep], new.levels])[order],
        dependence=np.concatenate([old.dependence[keep], new.dependence])[order],
    )


def _value_groups(t: PairTables, group_of: np.ndarray, profiles: Profiles | None, params: AttributionParams) -> pa.Table:
    """Accepted members of the groups that unexplained shared values define (see module note)."""
    con = t.con
    con.register("_gof", pa.table({"aid": pa.array(np.arange(len(group_of)), pa.int32()), "gid": pa.array(group_of, pa.int64())}))
    kinds = ", ".join(f"'{k}'" for k in VALUE_GROUP_KINDS)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _vusers AS
        SELECT l.vid, l.kind, l.aid, g.gid FROM lk l JOIN _gof g USING (aid)
        WHERE l.kind IN ({kinds}) AND l.n >= $min_size
        """,
        {"min_size": int(max(params.min_operator_size, 3))},
    )
    cover = con.execute(
        """
        SELECT vid, any_value(kind) AS kind, sum(k)::BIGINT AS n, coalesce(max(k) FILTER (WHERE gid >= 0), 0)::BIGINT AS top
        FROM (SELECT vid, any_value(kind) AS kind, gid, count(*) AS k FROM _vusers GROUP BY vid, gid)
        GROUP BY vid
        """
    ).fetchnumpy()
    con.register("_unexpl", pa.table({"vid": pa.array(_unexplained(cover), pa.int32())}))
    rows = con.execute(
        """
        SELECT u.aid, u.vid, any_value(u.kind) OVER (PARTITION BY u.vid) AS kind
        FROM _vusers u SEMI JOIN _unexpl x USING (vid)
        """
    ).fetchnumpy()
    con.unregister("_unexpl")
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
    scores = membership_scores(
        con, t.n_accounts, groups, None, MEMBERSHIP_COMPARISONS, None, exclude=exclude, communities=group_of,
        keep_from=params.membership_probability,
    )
    tbl = scores.table
    accepted = np.asarray(tbl.column("member").to_numpy(zero_copy_only=False), dtype=bool) & is_accepted(tbl.column("posterior").to_numpy(), params.membership_probability)
    a = tbl.column("aid").to_numpy()[accepted]
    g = tbl.column("gid").to_numpy()[accepted]
    if len(g) == 0:
        return pa.table({"aid": pa.array([], pa.int32()), "gid": pa.array([], pa.int64())})
    uniq, counts = np.unique(g, return_counts=True)
    big = np.isin(g, uniq[counts >= params.min_operator_size])
    return pa.table({"aid": pa.array(a[big], pa.int32()), "gid": pa.array(g[big], pa.int64())})


def _unexplained(cover: dict[str, np.ndarray], level: float = 0.05) -> np.ndarray:
    """Values (vid) no community holds as one group holds its own values on this data: more of
    their users outside their largest community than the kind's leak rate explains (one-sided
    binomial test; the leak rate is the median share outside over the values of that kind a
    community holds at least half of). A careful operator that pair evidence found only in
    part still defines a group by its private client."""
    vid = np.asarray(cover["vid"], dtype=np.int64)
    kind = np.asarray([str(k) for k in cover["kind"]])
    n = np.asarray(cover["n"], dtype=float)
    top = np.asarray(cover["top"], dtype=float)
    owned = 2 * top >= n
    out = []
    for k in np.unique(kind).tolist():
        sel = kind == k
        leak = leak_rate(n[sel], top[sel])
        for v, nv, tv, own in zip(vid[sel].tolist(), n[sel].tolist(), top[sel].tolist(), owned[sel].tolist()):
            if not own:
                out.append(v)
            elif leak is not None and binomial_upper_tail(int(nv - tv), int(nv), leak) < level:
                out.append(v)
    return np.asarray(out, dtype=np.int64)


def _family_of_kind(kind: str) -> tuple[str, ...]:
    """The comparisons a group defined by a value of ``kind`` is not judged on."""
    if kind in ("template_pool", "loose_pool"):
        return ("template_pool", TEMPLATE_COMPARISON)
    return (KIND_TO_COMPARISON[kind],)


def _assign(scores: MembershipScores, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each account joins the group that accepts it with the highest log-odds, its own or not.

    Every row is judged leave-one-out, so a member's log-odds in its group and a newcomer's in
    another answer the same question. Keeping members in their own group first (as before) let
    a small group overlapping an operator (a value group holding a few of its accounts) hold on
    to accounts the operator accepts far more strongly, and two such groups traded their
    accounts back and forth round after round."""
    t = scores.table
    aid = t.column("aid").to_numpy().astype(np.int64)
    gid = t.column("gid").to_numpy().astype(np.int64)
    post = t.column("posterior").to_numpy()
    lo = t.column("log_odds").to_numpy()
    chosen = _best(aid, gid, lo, np.flatnonzero(is_accepted(post, threshold)))
    chosen = chosen[np.lexsort((aid[chosen], gid[chosen]))]
    return aid[chosen], gid[chosen], post[chosen], lo[chosen]


def is_accepted(posterior: np.ndarray, threshold: float) -> np.ndarray:
    """Whether a group accepts an account: posterior strictly above the threshold. A posterior of
    exactly 0.5 is no evidence either way (a group of one judges its only member so, with no prior
    and no comparison), and no evidence places nobody. The full run and incremental placement
    accept by this one rule."""
    return np.asarray(posterior) > threshold


def _best(aid: np.ndarray, gid: np.ndarray, lo: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Of rows ``idx``, the one per account with the highest log-odds (then smallest group id)."""
    if len(idx) == 0:
        return idx
    order = idx[np.lexsort((gid[idx], -lo[idx], aid[idx]))]
    first = np.r_[True, aid[order][1:] != aid[order][:-1]]
    return order[first]
