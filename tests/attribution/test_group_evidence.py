"""Group-level evidence (pure): pieces that one shared value joins, and groups a value defines.

The worlds are built by hand (``world.World``); Leiden's communities are given, as the test
states what pair evidence found, so each test isolates the group-level step.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from sybilgraph.attribution.grouping import (
    Edges,
    _absorb_covered_communities,
    _unexplained,
    binomial_upper_tail,
    group_accounts,
    merge_by_value_usage,
)
from sybilgraph.attribution.pairs import build_pair_tables
from sybilgraph.attribution.params import AttributionParams
from sybilgraph.attribution.profiles import build_profiles
from tests.attribution.world import World, careful_operator
from tests.partitions import same_partition


def _crowd(w: World, n: int = 1500, seed: int = 5) -> None:
    """Strangers: own lines (two flatmates each), webmail, popular templates, and small teams that
    each own a prompt set of their own (so the data show how a group holds its own values)."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        a = f"p{i:03d}"
        w.account(a, created_day=float(rng.integers(-900, 0)), hours="day")
        w.use(a, "email_domain", f"mail{i % 4}.test")
        w.use(a, "ip", f"isp-{i // 2}")
        for t in rng.choice(60, 5, replace=False):
            w.use(a, "template", f"pop{t}", 3)
    for team in range(12):
        for k in range(6):
            a = f"team{team}-{k}"
            w.account(a, created_day=-400 - team, hours="day", cats={"coding": 100})
            w.use(a, "card", f"team-card-{team}")
            w.use(a, "tls", f"team-sdk-{team}")
            for t in rng.choice(8, 4, replace=False):
                w.use(a, "template", f"team{team}-tool{t}", 10)


def _run(w: World, community_of: dict[str, int]) -> tuple[dict[str, int], np.ndarray]:
    """Group accounts given the communities pair evidence found (accounts not named: none);
    edges: every pair inside a community."""
    t = build_pair_tables(w.links(), w.account_table())
    ids = [str(a) for a in t.account_ids]
    index = {a: i for i, a in enumerate(ids)}
    community = np.full(len(ids), -1, dtype=np.int64)
    for a, c in community_of.items():
        community[index[a]] = c
    pairs = [(i, j) for c in set(community_of.values()) for i in np.flatnonzero(community == c) for j in np.flatnonzero(community == c) if i < j]
    edges = Edges(np.array([p[0] for p in pairs], dtype=np.int64), np.array([p[1] for p in pairs], dtype=np.int64), np.full(len(pairs), 10.0))
    grouping = group_accounts(t, edges, community, AttributionParams(), build_profiles(w.account_table(), t.account_ids))
    return {ids[a]: int(g) for a, g in zip(grouping.aid.tolist(), grouping.gid.tolist())}, community


def _teams(community_of: dict[str, int]) -> None:
    """The communities pair evidence finds in the crowd: each team, and each pair of flatmates."""
    for team in range(12):
        for k in range(6):
            community_of[f"team{team}-{k}"] = 100 + team
    for i in range(0, 1500, 2):
        community_of[f"p{i:03d}"] = community_of[f"p{i + 1:03d}"] = 1000 + i


def test_crews_on_their_own_infrastructure_sharing_only_a_private_pool_are_one_operator() -> None:
    """Three crews (VMs, a card ring, proxy exits), nothing in common but the prompt pool each
    account draws 12 of 30 from: pair evidence finds each crew, the pool joins them."""
    w = World()
    _crowd(w)
    rng = np.random.default_rng(11)
    crews: list[list[str]] = []
    for c, size in enumerate((14, 11, 9)):
        crew = [f"crew{c}-{i:02d}" for i in range(size)]
        crews.append(crew)
        for i, a in enumerate(crew):
            w.account(a, created_day=50 + 20 * c + 0.1 * i, hours="flat", api=1.0, cats={"reasoning": 100})
            if c == 0:
                w.use(a, "device", "vm-image-0")
                w.use(a, "ip", f"dc-{i % 3}")
            elif c == 1:
                w.use(a, "card", f"prepaid-{i // 6}")
            else:
                w.use(a, "ip", f"exit-{i // 2}")
            for t in rng.choice(30, 12, replace=False):
                w.use(a, "template", f"harvest{t}", 25)
    community_of = {a: c for c, crew in enumerate(crews) for a in crew}
    _teams(community_of)
    groups, _ = _run(w, community_of)
    operator = [a for crew in crews for a in crew]
    assert {groups.get(a) for a in operator} == {groups[operator[0]]}
    assert not any(groups.get(a) == groups[operator[0]] for a in groups if not a.startswith("crew"))


def test_groups_on_a_niche_value_many_others_touch_are_not_merged() -> None:
    """Two groups that each use a niche prompt set that many unaffiliated accounts also use stay
    two groups: the value is nobody's own."""
    w = World()
    _crowd(w)
    rng = np.random.default_rng(12)
    groups_ = []
    for g in range(2):
        members = [f"g{g}-{i:02d}" for i in range(15)]
        groups_.append(members)
        for i, a in enumerate(members):
            w.account(a, created_day=-100 * g, hours="day")
            w.use(a, "card", f"g{g}-card")
            for t in rng.choice(10, 4, replace=False):
                w.use(a, "template", f"niche{t}", 5)
    for i in range(60):  # the unaffiliated users of the niche set
        for t in rng.choice(10, 4, replace=False):
            w.use(f"p{i:03d}", "template", f"niche{t}", 5)
    community_of = {a: g for g, members in enumerate(groups_) for a in members}
    _teams(community_of)
    groups, _ = _run(w, community_of)
    assert groups[groups_[0][0]] != groups[groups_[1][0]]


def test_a_careful_operator_that_pair_evidence_found_in_part_is_completed_by_its_client() -> None:
    """A careful operator: its own client and prompt pool, nothing else shared; pair evidence
    found 20 of its 30 accounts. The client it owns brings in the rest; strangers who sent one
    of its prompts stay out."""
    w = World()
    _crowd(w)
    careful = careful_operator(w)
    for i in range(100, 110):  # strangers who once sent one of its prompts (a leaked template)
        w.use(f"p{i:03d}", "template", f"private{i % 60}", 1)
    community_of = {a: 0 for a in careful[:20]}
    _teams(community_of)
    groups, _ = _run(w, community_of)
    assert {groups.get(a) for a in careful} == {groups[careful[0]]}
    assert all(groups.get(f"p{i:03d}") != groups[careful[0]] for i in range(100, 110))


def test_merging_on_a_value_needs_both_sides_and_joint_ownership() -> None:
    # communities 0..2 each use value 9 fully; community 3 touches it once of 50;
    # communities 10.. own a value each with a small leak (the data's leak rate).
    community = np.concatenate([np.repeat([0, 1, 2, 3], [20, 15, 10, 50]), np.repeat(np.arange(10, 30), 8), np.full(200, -1)])
    rows = [(i, 9) for i in range(45)] + [(45, 9)]
    start = 95
    for k in range(20):
        rows += [(start + 8 * k + j, 100 + k) for j in range(8)]
        rows.append((255 + k, 100 + k))  # one stranger per value
    aid = np.array([r[0] for r in rows], dtype=np.int64)
    vid = np.array([r[1] for r in rows], dtype=np.int64)
    users = np.array([int((vid == v).sum()) for v in vid], dtype=np.int64)
    merged, merges = merge_by_value_usage(community, aid, vid, users, len(community))
    assert merges == 2
    assert len(set(merged[:45].tolist())) == 1
    assert merged[45] != merged[0]  # one of fifty does not make a group "more of" the crews
    assert same_partition(merged[95:255].tolist(), community[95:255].tolist())


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000))
def test_merging_on_values_only_coarsens_and_ignores_label_values(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 120
    community = rng.integers(-1, 8, n)
    aid = rng.integers(0, n, 300)
    vid = rng.integers(0, 12, 300)
    pairs = np.unique(aid * 100 + vid)
    aid, vid = pairs // 100, pairs % 100
    users = np.array([int((vid == v).sum()) for v in vid], dtype=np.int64)
    merged, _ = merge_by_value_usage(community, aid, vid, users, n)
    for c in np.unique(community[community >= 0]):
        assert len(np.unique(merged[community == c])) == 1
    assert (merged[community < 0] == -1).all()
    relabel = np.where(community >= 0, (community * 7 + 3) % 11, -1)
    again, _ = merge_by_value_usage(relabel, aid, vid, users, n)
    assert same_partition(merged.tolist(), again.tolist())


def test_a_value_is_unexplained_when_more_of_it_lies_outside_its_community_than_leaks() -> None:
    # tls values held by their community with one stray user each, and value 99 held by a
    # community of 20 but used by 15 accounts outside it (a careful operator found in part).
    cover = {
        "vid": np.array([*range(10), 99, 98]),
        "kind": np.array(["tls"] * 12),
        "n": np.array([11] * 10 + [35, 10]),
        "top": np.array([10] * 10 + [20, 3]),
    }
    assert sorted(_unexplained(cover).tolist()) == [98, 99]


def test_a_group_a_larger_group_mostly_holds_becomes_that_group() -> None:
    communities = pa.table({"aid": pa.array([0, 1, 2, 3, 4, 5], pa.int32()), "gid": pa.array([7, 7, 7, 8, 8, 8], pa.int64())})
    value_groups = pa.table({"aid": pa.array([1, 2, 9, 10, 5, 9, 10], pa.int32()), "gid": pa.array([50, 50, 50, 50, 50, 60, 60], pa.int64())})
    out = _absorb_covered_communities(communities, value_groups).to_pydict()
    got = sorted(zip(out["aid"], out["gid"]))
    # 7 (two of three in 50) and 60 (both in 50) become 50; 8 (one of three) stays.
    assert got == [(0, 50), (1, 50), (2, 50), (3, 8), (4, 8), (5, 8), (5, 50), (9, 50), (10, 50)]


def test_binomial_upper_tail_matches_a_direct_sum() -> None:
    from math import comb

    for n, p in ((10, 0.1), (40, 0.02), (7, 0.5)):
        for k in range(n + 1):
            direct = sum(comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))
            assert abs(binomial_upper_tail(k, n, p) - direct) < 1e-9


def test_judging_only_the_groups_that_moved_gives_the_scores_of_judging_all() -> None:
    """Each membership round judges again only the groups whose members moved: the same scores,
    row for row, as judging every group against the same assignment."""
    import sybilgraph.attribution.grouping as grouping
    from sybilgraph.attribution.membership import membership_scores

    w = World()
    _crowd(w, n=300)
    rng = np.random.default_rng(4)
    for g in range(3):
        for i in range(12):
            a = f"op{g}-{i:02d}"
            w.account(a, created_day=10 * g, hours="flat", api=1.0, cats={"reasoning": 100})
            w.use(a, "card", f"op{g}-card-{i // 4}")
            for t in rng.choice(20, 6, replace=False):
                w.use(a, "template", f"op{g}-t{t}", 20)
    t = build_pair_tables(w.links(), w.account_table())
    ids = [str(a) for a in t.account_ids]
    profiles = build_profiles(w.account_table(), t.account_ids)
    members = [(ids.index(f"op{g}-{i:02d}"), g) for g in range(3) for i in range(12)]
    members += [(ids.index(f"p{i:03d}"), 0) for i in range(3)]  # strangers wrongly grouped at first
    groups = pa.table({"aid": pa.array([m[0] for m in members], pa.int32()), "gid": pa.array([m[1] for m in members], pa.int64())})
    none = pa.table({"aid": pa.array([], pa.int32()), "gid": pa.array([], pa.int64())})
    first = membership_scores(t.con, t.n_accounts, groups, none, grouping.MEMBERSHIP_COMPARISONS, profiles)
    # The next round's assignment: group 0 loses its strangers and two of its own, group 1 gains one.
    dropped = {ids.index(f"p{i:03d}") for i in range(3)} | {ids.index("op0-10"), ids.index("op0-11")}
    rows = [m for m in members if m[0] not in dropped] + [(ids.index("op2-00"), 1)]
    assigned = pa.table({"aid": pa.array([m[0] for m in rows], pa.int32()), "gid": pa.array([m[1] for m in rows], pa.int64())})
    moved = grouping._moved_groups(assigned, groups)
    assert moved.tolist() == [0, 1]
    partial = grouping._replace_groups(
        first, membership_scores(t.con, t.n_accounts, grouping._rows_of(assigned, moved), none, grouping.MEMBERSHIP_COMPARISONS, profiles), moved
    )
    full = membership_scores(t.con, t.n_accounts, assigned, none, grouping.MEMBERSHIP_COMPARISONS, profiles)
    assert partial.table.column("aid").to_pylist() == full.table.column("aid").to_pylist()
    assert partial.table.column("gid").to_pylist() == full.table.column("gid").to_pylist()
    assert np.allclose(partial.table.column("log_odds").to_numpy(), full.table.column("log_odds").to_numpy())
    assert np.allclose(partial.weights, full.weights) and np.array_equal(partial.levels, full.levels)
