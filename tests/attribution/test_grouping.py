"""Grouping (pure): merging pieces of one operator, edges at the Bayes decision."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from sybilgraph.attribution.grouping import Edges, _assign, _without_small_groups, edges_of, is_accepted, merge_pieces
from sybilgraph.attribution.membership import MembershipScores
from sybilgraph.attribution.pairs import PairLevels
from sybilgraph.attribution.params import AttributionParams
from tests.partitions import same_partition


def _edges(pairs: list[tuple[int, int]]) -> Edges:
    a = np.array([min(p) for p in pairs], dtype=np.int64)
    b = np.array([max(p) for p in pairs], dtype=np.int64)
    return Edges(a, b, np.ones(len(pairs)))


def _with_background(community: np.ndarray, pairs: set[tuple[int, int]], n_pairs: int = 500) -> tuple[np.ndarray, set[tuple[int, int]]]:
    """Append the rest of a population: linked pairs of accounts (households, flatmates), each its
    own community, so edges between unrelated communities have their real, tiny density."""
    base, top = len(community), int(community.max()) + 1
    extra = np.repeat(np.arange(top, top + n_pairs), 2)
    return np.concatenate([community, extra]), pairs | {(base + 2 * i, base + 2 * i + 1) for i in range(n_pairs)}


def test_two_pieces_linked_between_as_densely_as_within_are_merged() -> None:
    rng = np.random.default_rng(2)
    community = np.array([0] * 20 + [1] * 20)
    pairs = {(i, j) for i in range(40) for j in range(i + 1, 40) if rng.random() < (0.5 if (i < 20) == (j < 20) else 0.4)}
    community, pairs = _with_background(community, pairs)
    merged, n = merge_pieces(community, _edges(sorted(pairs)))
    assert n == 1 and len(set(merged[:40].tolist())) == 1


def test_a_few_stray_edges_do_not_merge_a_household_into_an_operator() -> None:
    community = np.array([0] * 30 + [1] * 3)
    pairs = [(i, j) for i in range(30) for j in range(i + 1, 30)] + [(30, 31), (30, 32), (31, 32)]
    pairs += [(30, 0), (31, 1), (32, 2)]  # every household member touches the operator
    merged, n = merge_pieces(community, _edges(pairs))
    assert n == 0 and same_partition(merged.tolist(), community.tolist())


def test_a_looser_group_reaching_into_a_clique_does_not_absorb_it() -> None:
    """An open customer's 15 seats share one card (a clique); an operator of 30 accounts on the
    same automation client reaches every seat by an edge or two: the clique does not merge."""
    rng = np.random.default_rng(3)
    community = np.array([0] * 30 + [1] * 15)
    pairs = {(i, j) for i in range(30) for j in range(i + 1, 30) if rng.random() < 0.3}
    pairs |= {(30 + i, 30 + j) for i in range(15) for j in range(i + 1, 15)}
    pairs |= {(int(rng.integers(0, 30)), 30 + s) for s in range(15) for _ in range(4)}
    community, pairs = _with_background(community, pairs)
    merged, n = merge_pieces(community, _edges(sorted(pairs)))
    assert n == 0 and same_partition(merged.tolist(), community.tolist())


def test_pieces_of_a_sparse_operator_merge() -> None:
    """A large operator linked sparsely (sorted-neighbourhood edges), cut in three by modularity:
    between pieces as dense as within, so the pieces merge."""
    rng = np.random.default_rng(4)
    n = 300
    community = np.repeat([0, 1, 2], n // 3)
    pairs = {(i, j) for i in range(n) for j in range(i + 1, n) if rng.random() < 0.03}
    community, pairs = _with_background(community, pairs)
    merged, merges = merge_pieces(community, _edges(sorted(pairs)))
    assert merges == 2 and len(set(merged[:n].tolist())) == 1


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=4, max_size=30), st.lists(st.tuples(st.integers(0, 29), st.integers(0, 29)), max_size=120))
def test_merging_only_coarsens_and_ignores_label_values(labels: list[int], raw: list[tuple[int, int]]) -> None:
    n = len(labels)
    pairs = sorted({(min(a, b), max(a, b)) for a, b in raw if a != b and a < n and b < n})
    community = np.array(labels)
    merged, _ = merge_pieces(community, _edges(pairs))
    for c in np.unique(community):
        assert len(np.unique(merged[community == c])) == 1  # never splits a community
    relabelled = np.array([[7, 3, 11, 0, 5, 9][x] for x in labels])
    again, _ = merge_pieces(relabelled, _edges(pairs))
    assert same_partition(merged.tolist(), again.tolist())


def test_edges_are_the_pairs_at_or_above_even_odds() -> None:
    pl = PairLevels(np.array([0, 1, 2], dtype=np.int32), np.array([1, 2, 3], dtype=np.int32), np.zeros((3, 1), dtype=np.int8))
    e = edges_of(pl, np.array([-0.1, 0.0, 55.0]), AttributionParams())
    assert e.a.tolist() == [1, 2] and e.weight.tolist() == [1.0, AttributionParams().max_edge_bits]


def _scores(rows: list[tuple[int, int, bool, float]]) -> MembershipScores:
    """Membership rows (account, group, member, log-odds in bits), as membership_scores gives them."""
    aid, gid, member, lo = (list(x) for x in zip(*rows, strict=True))
    log_odds = np.asarray(lo, dtype=float)
    table = pa.table({
        "aid": pa.array(aid, pa.int32()), "gid": pa.array(gid, pa.int64()), "member": pa.array(member),
        "log_odds": pa.array(log_odds), "posterior": pa.array(1.0 / (1.0 + np.exp2(-log_odds))),
    })
    n = len(rows)
    return MembershipScores(table=table, comparisons=(), weights=np.zeros((n, 0)), levels=np.zeros((n, 0), np.int8), dependence=np.zeros(n))


def test_an_account_joins_the_group_that_accepts_it_most_strongly_even_when_another_holds_it() -> None:
    # Account 1 is a member of a small overlapping group (12 bits) and a tied outsider of the
    # operator, which accepts it with 29 bits: it goes to the operator. Account 2 stays where it is.
    aid, gid, _, _ = _assign(_scores([(1, 10, True, 12.0), (1, 20, False, 29.0), (2, 20, True, 30.0), (2, 10, False, 3.0)]), 0.5)
    assert dict(zip(aid.tolist(), gid.tolist(), strict=True)) == {1: 20, 2: 20}


def test_no_evidence_places_nobody() -> None:
    # A group of one judges its only member at exactly even odds (no prior, no comparison).
    aid, _, _, _ = _assign(_scores([(1, 10, True, 0.0), (2, 20, True, -0.5), (3, 20, True, 0.5)]), 0.5)
    assert aid.tolist() == [3]
    assert not is_accepted(np.array([0.5]), 0.5).any()


def test_groups_below_the_minimum_size_release_their_accounts_between_rounds() -> None:
    table = _without_small_groups(np.array([1, 2, 3, 4]), np.array([10, 20, 20, 30]), 2)
    assert table.column("aid").to_pylist() == [2, 3]
    assert table.column("gid").to_pylist() == [20, 20]
