"""Template pools (pure): a private pool used in random subsets is found; popular tools are not."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from sybilgraph.attribution.pools import label_propagation, template_pool_links
from tests.partitions import same_partition


def test_label_propagation_separates_two_cliques_joined_by_one_weak_tie() -> None:
    a, b, w = [], [], []
    for base in (0, 5):
        for i in range(5):
            for j in range(i + 1, 5):
                a.append(base + i)
                b.append(base + j)
                w.append(3.0)
    a.append(4)
    b.append(5)
    w.append(0.5)
    labels = label_propagation(10, np.array(a), np.array(b), np.array(w))
    assert same_partition(labels.tolist(), [0] * 5 + [1] * 5)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000))
def test_label_propagation_is_deterministic_and_labels_are_canonical(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 30
    a = rng.integers(0, n, 60)
    b = rng.integers(0, n, 60)
    keep = a != b
    w = rng.random(keep.sum()) + 0.1
    first = label_propagation(n, a[keep], b[keep], w)
    assert np.array_equal(first, label_propagation(n, a[keep], b[keep], w))
    assert all(first[i] <= i for i in range(n))  # a group is named by its smallest member


def _pool_world(seed: int = 7) -> tuple[pa.Table, set[int], set[int]]:
    """400 accounts on 60 popular templates (Zipf); 40 of them also each send 8 of a private
    pool of 50 templates, no two sharing more than chance."""
    rng = np.random.default_rng(seed)
    rows = []
    popular = np.arange(60)
    p = 1.0 / np.arange(1, 61) ** 1.1
    p /= p.sum()
    for acc in range(400):
        for t in rng.choice(popular, size=6, replace=False, p=p):
            rows.append((acc, int(t), int(rng.integers(1, 20))))
    pool = np.arange(1000, 1050)
    operator = set(range(360, 400))
    for acc in operator:
        for t in rng.choice(pool, size=8, replace=False):
            rows.append((acc, int(t), int(rng.integers(20, 60))))
    table = pa.table({
        "aid": pa.array([r[0] for r in rows], pa.int32()),
        "vid": pa.array([r[1] for r in rows], pa.int32()),
        "uses": pa.array([r[2] for r in rows], pa.int64()),
    })
    return table, operator, set(pool.tolist())


def test_a_private_pool_is_found_and_popular_templates_form_none_that_covers_it() -> None:
    table, operator, pool = _pool_world()
    con = duckdb.connect()
    con.register("tpl", table)
    aid, pool_id, k = template_pool_links(con, "tpl")
    templates = con.execute("SELECT vid, pool FROM _pool_of").fetchall()
    pools: dict[int, set[int]] = {}
    for vid, pid in templates:
        pools.setdefault(pid, set()).add(vid)
    biggest_private = max(pools.values(), key=lambda s: len(s & pool))
    assert len(biggest_private & pool) >= 0.9 * len(pool)
    assert not biggest_private - pool  # no popular template glued onto the private pool
    users = {int(a) for a, p in zip(aid, pool_id) if pools[int(p)] is biggest_private}
    assert users == operator
