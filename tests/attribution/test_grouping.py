"""Grouping (pure): merging pieces of one operator, edges at the Bayes decision."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sybilgraph.attribution.grouping import Edges, edges_of, merge_mutual_majority
from sybilgraph.attribution.pairs import PairLevels
from sybilgraph.attribution.params import AttributionParams
from tests.partitions import same_partition


def _edges(pairs: list[tuple[int, int]]) -> Edges:
    a = np.array([min(p) for p in pairs], dtype=np.int64)
    b = np.array([max(p) for p in pairs], dtype=np.int64)
    return Edges(a, b, np.ones(len(pairs)))


def test_two_pieces_whose_members_mostly_reach_each_other_are_merged() -> None:
    community = np.array([0] * 10 + [1] * 10)
    pairs = [(i, j) for i in range(10) for j in range(i + 1, 10)] + [(i, 10 + j) for i in range(10) for j in range(10) if (i + j) % 3 == 0]
    pairs += [(10 + i, 10 + j) for i in range(10) for j in range(i + 1, 10)]
    merged, n = merge_mutual_majority(community, _edges(pairs))
    assert n == 1 and same_partition(merged.tolist(), [0] * 20)


def test_a_few_stray_edges_do_not_merge_a_household_into_an_operator() -> None:
    community = np.array([0] * 30 + [1] * 3)
    pairs = [(i, j) for i in range(30) for j in range(i + 1, 30)] + [(30, 31), (30, 32), (31, 32)]
    pairs += [(30, 0), (31, 1), (32, 2)]  # every household member touches the operator
    merged, n = merge_mutual_majority(community, _edges(pairs))
    assert n == 0 and same_partition(merged.tolist(), community.tolist())


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=4, max_size=30), st.lists(st.tuples(st.integers(0, 29), st.integers(0, 29)), max_size=120))
def test_merging_only_coarsens_and_ignores_label_values(labels: list[int], raw: list[tuple[int, int]]) -> None:
    n = len(labels)
    pairs = sorted({(min(a, b), max(a, b)) for a, b in raw if a != b and a < n and b < n})
    community = np.array(labels)
    merged, _ = merge_mutual_majority(community, _edges(pairs))
    for c in np.unique(community):
        assert len(np.unique(merged[community == c])) == 1  # never splits a community
    relabelled = np.array([[7, 3, 11, 0, 5, 9][x] for x in labels])
    again, _ = merge_mutual_majority(relabelled, _edges(pairs))
    assert same_partition(merged.tolist(), again.tolist())


def test_edges_are_the_pairs_at_or_above_even_odds() -> None:
    pl = PairLevels(np.array([0, 1, 2], dtype=np.int32), np.array([1, 2, 3], dtype=np.int32), np.zeros((3, 1), dtype=np.int8))
    e = edges_of(pl, np.array([-0.1, 0.0, 55.0]), AttributionParams())
    assert e.a.tolist() == [1, 2] and e.weight.tolist() == [1.0, AttributionParams().max_edge_bits]
