"""Merging pieces of one operator: compared as partitions, against networkx-built graphs."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sybilgraph.attribution.merging import MergeRule, merge_split_communities

RULE = MergeRule(min_size=20, min_density_ratio=0.01, min_cross_edges_per_member=0.5)


def _arrays(g: nx.Graph) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    edges = np.array([(u, v, d.get("weight", 1.0)) for u, v, d in g.edges(data=True)], dtype=np.float64)
    return edges[:, 0].astype(np.int64), edges[:, 1].astype(np.int64), edges[:, 2]


def _partition(labels: np.ndarray) -> set[frozenset[int]]:
    groups: dict[int, set[int]] = {}
    for node, label in enumerate(labels.tolist()):
        groups.setdefault(label, set()).add(node)
    return {frozenset(g) for g in groups.values()}


def _random_block(g: nx.Graph, nodes: range, p: float, seed: int) -> None:
    block = nx.gnp_random_graph(len(nodes), p, seed=seed)
    g.add_edges_from((nodes[u], nodes[v], {"weight": 5.0}) for u, v in block.edges())


def test_two_pieces_of_one_random_block_are_merged() -> None:
    g = nx.Graph()
    g.add_nodes_from(range(200))
    _random_block(g, range(200), 0.2, seed=1)
    community = np.array([0] * 100 + [1] * 100)
    merged = merge_split_communities(community, *_arrays(g), RULE)
    assert _partition(merged) == {frozenset(range(200))}


def test_distinct_groups_touching_by_a_few_edges_stay_apart() -> None:
    g = nx.Graph()
    g.add_nodes_from(range(200))
    _random_block(g, range(0, 100), 0.2, seed=1)
    _random_block(g, range(100, 200), 0.2, seed=2)
    g.add_edge(5, 150, weight=9.0)  # a household line a proxy pool also used
    g.add_edge(7, 170, weight=9.0)
    community = np.array([0] * 100 + [1] * 100)
    merged = merge_split_communities(community, *_arrays(g), RULE)
    assert _partition(merged) == {frozenset(range(100)), frozenset(range(100, 200))}


def test_small_groups_are_never_merged_whatever_their_edges() -> None:
    g = nx.complete_graph(10)
    nx.set_edge_attributes(g, 4.0, "weight")
    community = np.array([0] * 5 + [1] * 5)
    merged = merge_split_communities(community, *_arrays(g), RULE)
    assert _partition(merged) == {frozenset(range(5)), frozenset(range(5, 10))}


def test_merges_are_transitive_and_labelled_by_the_smallest_piece() -> None:
    g = nx.Graph()
    g.add_nodes_from(range(300))
    _random_block(g, range(300), 0.15, seed=3)
    community = np.array([7] * 100 + [3] * 100 + [9] * 100)
    merged = merge_split_communities(community, *_arrays(g), RULE)
    assert set(merged.tolist()) == {3}


def test_no_edges_leaves_the_partition_alone() -> None:
    community = np.array([0, 0, 1])
    empty = np.zeros(0, dtype=np.int64)
    merged = merge_split_communities(community, empty, empty, np.zeros(0), RULE)
    assert merged.tolist() == [0, 0, 1]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=30, max_size=120), st.integers(0, 10_000))
def test_merging_only_coarsens_and_ignores_label_values(labels: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = len(labels)
    src = rng.integers(0, n, 4 * n)
    dst = rng.integers(0, n, 4 * n)
    keep = src != dst
    src, dst, w = src[keep], dst[keep], rng.uniform(1, 10, keep.sum())
    rule = MergeRule(min_size=3, min_density_ratio=0.01, min_cross_edges_per_member=0.5)
    community = np.array(labels)
    merged = merge_split_communities(community, src, dst, w, rule)
    # coarsening: nodes together before stay together
    for label in set(labels):
        assert len(set(merged[community == label].tolist())) == 1
    # relabelling the input by a permutation gives the same partition
    perm = rng.permutation(6)
    relabelled = merge_split_communities(perm[community], src, dst, w, rule)
    assert _partition(relabelled) == _partition(merged)


@pytest.mark.parametrize("ratio", [0.5, 0.9])
def test_a_sparse_seam_below_the_ratio_keeps_pieces_apart(ratio: float) -> None:
    g = nx.Graph()
    g.add_nodes_from(range(200))
    _random_block(g, range(0, 100), 0.3, seed=4)
    _random_block(g, range(100, 200), 0.3, seed=5)
    rng = np.random.default_rng(0)
    for _ in range(100):  # 100 seam edges: cross density ~0.01 of the internal 0.3 * 5
        g.add_edge(int(rng.integers(0, 100)), int(rng.integers(100, 200)), weight=1.5)
    community = np.array([0] * 100 + [1] * 100)
    strict = MergeRule(min_size=20, min_density_ratio=ratio, min_cross_edges_per_member=0.5)
    assert len(_partition(merge_split_communities(community, *_arrays(g), strict))) == 2
    loose = MergeRule(min_size=20, min_density_ratio=0.001, min_cross_edges_per_member=0.5)
    assert len(_partition(merge_split_communities(community, *_arrays(g), loose))) == 1
