"""membership_scores in chunks of groups, and with rejected outsiders left out (pure).

Every statistic of the membership model is per group, so scoring the groups in chunks (bounded
memory at scale 1.0) must give exactly the rows of scoring them at once, and leaving out the
outsiders a group rejects (``keep_from``) must leave every other row as it was.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

import sybilgraph.attribution.membership as membership
from sybilgraph.attribution.grouping import MEMBERSHIP_COMPARISONS, Edges, group_accounts
from sybilgraph.attribution.membership import MembershipScores, membership_scores
from sybilgraph.attribution.pairs import PairTables, build_pair_tables
from sybilgraph.attribution.params import AttributionParams
from sybilgraph.attribution.profiles import Profiles, build_profiles
from tests.attribution.test_group_evidence import _crowd, _teams
from tests.attribution.world import World, careful_operator


def _world() -> tuple[PairTables, Profiles, dict[str, int]]:
    """A crowd with its teams, a careful operator, strangers wrongly grouped with it (rejected
    members), and a group on ten VPN exits that 280 strangers use too (tied outsiders)."""
    w = World()
    _crowd(w, n=600)
    careful_operator(w, popular=3)
    for k in range(10):  # below the hub cut (5% of the accounts) each
        for a in [f"p{20 + k:03d}", f"p{30 + k:03d}"] + [f"p{200 + 28 * k + j:03d}" for j in range(28)]:
            w.use(a, "ip", f"vpn-exit-{k}")
    t = build_pair_tables(w.links(), w.account_table())
    index = {str(a): i for i, a in enumerate(t.account_ids)}
    return t, build_profiles(w.account_table(), t.account_ids), index


def _groups(index: dict[str, int]) -> tuple[pa.Table, pa.Table]:
    community_of: dict[str, int] = {}
    _teams(community_of)
    community_of.update({f"c{i:02d}": 7 for i in range(30)})
    community_of.update({f"p{i:03d}": 7 for i in range(4)})  # strangers grouped with the careful operator
    community_of.update({f"p{i:03d}": 8 for i in range(20, 40)})  # VPN users
    rows = sorted((index[a], g) for a, g in community_of.items() if a in index)  # flatmates of a larger crowd: absent
    groups = pa.table({"aid": pa.array([a for a, _ in rows], pa.int32()), "gid": pa.array([g for _, g in rows], pa.int64())})
    cand = [(index[f"p{i:03d}"], g) for i, g in ((10, 7), (11, 7), (12, 100), (13, 105))]
    candidates = pa.table({"aid": pa.array([a for a, _ in cand], pa.int32()), "gid": pa.array([g for _, g in cand], pa.int64())})
    return groups, candidates


def _assert_same(got: MembershipScores, want: MembershipScores) -> None:
    assert got.table.column_names == want.table.column_names
    for name in got.table.column_names:
        assert np.array_equal(got.table.column(name).to_numpy(zero_copy_only=False), want.table.column(name).to_numpy(zero_copy_only=False)), name
    assert got.comparisons == want.comparisons
    assert np.array_equal(got.weights, want.weights)
    assert np.array_equal(got.levels, want.levels)
    assert np.array_equal(got.dependence, want.dependence)


@pytest.mark.parametrize("chunk_rows", [1, 400, 5_000])
def test_scores_in_chunks_of_groups_equal_scores_in_one_chunk(monkeypatch: pytest.MonkeyPatch, chunk_rows: int) -> None:
    t, profiles, index = _world()
    groups, candidates = _groups(index)
    whole = membership_scores(t.con, t.n_accounts, groups, candidates, MEMBERSHIP_COMPARISONS, profiles)
    monkeypatch.setattr(membership, "CHUNK_ROWS", chunk_rows)
    assert len(membership._chunk_ranges(t.con, chunk_rows)) > 1  # the tables of the last call
    chunked = membership_scores(t.con, t.n_accounts, groups, candidates, MEMBERSHIP_COMPARISONS, profiles)
    _assert_same(chunked, whole)
    outsiders = ~np.asarray(whole.table.column("member").to_numpy(zero_copy_only=False), dtype=bool)
    assert outsiders.sum() > 250  # tied outsiders of the VPN group


def test_value_group_judgement_in_chunks_equals_one_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Exclusions and leave-community-out counts (value groups) are per group as well."""
    t, _, index = _world()
    groups, _ = _groups(index)
    community = np.full(t.n_accounts, -1, dtype=np.int64)
    community[groups.column("aid").to_numpy()] = groups.column("gid").to_numpy() % 3  # communities across groups
    exclude = pa.table({"gid": pa.array([7, 100], pa.int64()), "comparison": pa.array(["tls", "templates"])})
    whole = membership_scores(t.con, t.n_accounts, groups, None, MEMBERSHIP_COMPARISONS, None, exclude=exclude, communities=community)
    monkeypatch.setattr(membership, "CHUNK_ROWS", 1)
    chunked = membership_scores(t.con, t.n_accounts, groups, None, MEMBERSHIP_COMPARISONS, None, exclude=exclude, communities=community)
    _assert_same(chunked, whole)


def test_keep_from_leaves_out_only_rejected_outsiders_and_changes_no_other_row() -> None:
    t, profiles, index = _world()
    groups, candidates = _groups(index)
    whole = membership_scores(t.con, t.n_accounts, groups, candidates, MEMBERSHIP_COMPARISONS, profiles)
    kept = membership_scores(t.con, t.n_accounts, groups, candidates, MEMBERSHIP_COMPARISONS, profiles, keep_from=0.5)
    member = np.asarray(whole.table.column("member").to_numpy(zero_copy_only=False), dtype=bool)
    posterior = whole.table.column("posterior").to_numpy()
    rows = member | (posterior >= 0.5)
    assert 0 < rows.sum() < len(rows)
    assert (~member & (posterior < 0.5)).any() and (member & (posterior < 0.5)).any()  # rejected outsiders and members
    expected = MembershipScores(
        table=whole.table.filter(pa.array(rows)), comparisons=whole.comparisons, weights=whole.weights[rows],
        levels=whole.levels[rows], dependence=whole.dependence[rows],
    )
    _assert_same(kept, expected)


def test_grouping_in_chunks_places_every_account_as_in_one_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    t, profiles, index = _world()
    groups, _ = _groups(index)
    community = np.full(t.n_accounts, -1, dtype=np.int64)
    community[groups.column("aid").to_numpy()] = groups.column("gid").to_numpy()
    pairs = [(i, j) for c in np.unique(community[community >= 0]) for i in np.flatnonzero(community == c) for j in np.flatnonzero(community == c) if i < j]
    edges = Edges(np.array([p[0] for p in pairs], dtype=np.int64), np.array([p[1] for p in pairs], dtype=np.int64), np.full(len(pairs), 10.0))
    whole = group_accounts(t, edges, community, AttributionParams(), profiles)
    monkeypatch.setattr(membership, "CHUNK_ROWS", 1)
    chunked = group_accounts(t, edges, community, AttributionParams(), profiles)
    for name in ("aid", "gid", "posterior", "log_odds"):
        assert np.array_equal(getattr(chunked, name), getattr(whole, name)), name
    assert len(whole.aid) > 30
    _assert_same(chunked.membership, whole.membership)


def test_tied_outsiders_expanded_in_numpy_are_the_users_of_each_groups_characteristic_values() -> None:
    """``_TiedUsers`` against its definition in SQL: every (account, group, comparison) using a
    value characteristic of the group, at level 2 when the group owns one such value, else 1."""
    t, _, index = _world()
    groups, candidates = _groups(index)
    membership_scores(t.con, t.n_accounts, groups, candidates, MEMBERSHIP_COMPARISONS)  # leaves its tables
    want = t.con.execute(
        """
        SELECT l.aid, c.gid, c.cid, max(CASE WHEN 2 * c.n_in >= c.n THEN 2 ELSE 1 END) AS level
        FROM _char c JOIN mlk l ON l.vid = c.vid
        GROUP BY l.aid, c.gid, c.cid ORDER BY c.gid, l.aid, c.cid
        """
    ).fetchall()
    tied = membership._TiedUsers.of(t.con)
    lo, hi = int(tied.gid.min()), int(tied.gid.max())
    aid, gid, cid, level = tied.in_groups(lo, hi)
    best: dict[tuple[int, int, int], int] = {}
    for a, g, c, lv in zip(aid.tolist(), gid.tolist(), cid.tolist(), level.tolist()):
        best[(a, g, c)] = max(best.get((a, g, c), 0), lv)
    got = sorted((a, g, c, lv) for (a, g, c), lv in best.items())
    assert got == sorted(want) and len(got) > 250
    # A range of groups gives exactly their rows.
    mid = int(np.median(tied.gid))
    part = tied.in_groups(lo, mid)
    assert set(part[1].tolist()) == {g for g in gid.tolist() if g <= mid}
    assert len(part[0]) == int((gid <= mid).sum())
