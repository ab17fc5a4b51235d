"""arrays.union_find against a reference partition (networkx's connected components)."""

from __future__ import annotations

import networkx as nx
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sybilgraph.attribution.arrays import union_find

graphs = st.integers(1, 40).flatmap(
    lambda n: st.tuples(st.just(n), st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=60))
)


def _partition(labels: np.ndarray) -> dict[int, frozenset[int]]:
    groups: dict[int, set[int]] = {}
    for node, label in enumerate(labels.tolist()):
        groups.setdefault(label, set()).add(node)
    return {label: frozenset(nodes) for label, nodes in groups.items()}


@settings(max_examples=200, deadline=None)
@given(graphs)
def test_union_find_equals_the_reference_partition(case: tuple[int, list[tuple[int, int]]]) -> None:
    n, edges = case
    u = np.array([e[0] for e in edges], dtype=np.int64)
    v = np.array([e[1] for e in edges], dtype=np.int64)
    got = _partition(union_find(n, u, v))
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(edges)
    assert set(got.values()) == {frozenset(c) for c in nx.connected_components(g)}
    # The label is the component's smallest node, so labels do not depend on the edges' order.
    assert all(label == min(nodes) for label, nodes in got.items())


def test_union_find_on_a_long_path_in_random_order() -> None:
    n = 5_000
    perm = np.random.default_rng(0).permutation(n)
    assert (union_find(n, perm[:-1], perm[1:]) == 0).all()


def test_union_find_without_edges_leaves_every_node_alone() -> None:
    empty = np.zeros(0, dtype=np.int64)
    assert union_find(4, empty, empty).tolist() == [0, 1, 2, 3]
    assert union_find(0, empty, empty).tolist() == []
