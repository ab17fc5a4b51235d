"""Candidate pairs and comparison levels (pure): against a brute-force computation in Python."""

from __future__ import annotations

from itertools import combinations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sybilgraph.attribution.comparisons import COMPARISONS, comparison, frequency_level, place_level
from sybilgraph.attribution.pairs import BlockingParams, build_pair_tables, candidate_pairs, pair_levels, random_pairs
from tests.attribution.world import World

KINDS = ["card", "device", "ip", "tls", "email_domain"]



@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 59), st.sampled_from(KINDS), st.integers(0, 5)), min_size=2, max_size=120, unique=True))
def test_levels_match_a_brute_force_count_in_a_larger_population(uses: list[tuple[int, str, int]]) -> None:
    w = World()
    n = 60
    for i in range(n):
        w.account(f"a{i:02d}", created_day=float(i))
    for a, k, v in uses:
        w.use(f"a{a:02d}", k, f"{k}{v}")
    t = build_pair_tables(w.links(), w.account_table())
    candidate_pairs(t, BlockingParams(exact_max=64))
    got = pair_levels(t)
    idx = {str(x): i for i, x in enumerate(t.account_ids)}
    users: dict[tuple[str, str], set[str]] = {}
    for a, k, v in uses:
        users.setdefault((k, f"{k}{v}"), set()).add(f"a{a:02d}")
    expected: dict[tuple[int, int], dict[str, float]] = {}
    for (k, v), accs in users.items():
        share = len(accs) / n
        if len(accs) < 2 or share > 0.05:
            continue
        for x, y in combinations(sorted(accs), 2):
            a, b = sorted((idx[x], idx[y]))
            e = expected.setdefault((a, b), {})
            if k == "email_domain":
                e["mail"] = min(e.get("mail", 1.0), share)
            else:
                name = {"card": "payment", "device": "device", "ip": "place", "tls": "client"}[k]
                e[name] = max(e.get(name, 0), frequency_level(comparison(name), k, share))
    index = {c.name: j for j, c in enumerate(COMPARISONS)}
    observed = {(int(a), int(b)): row for a, b, row in zip(got.a, got.b, got.levels)}
    assert set(observed) == set(expected)
    for pair, e in expected.items():
        row = observed[pair]
        for name in ("payment", "device", "client"):
            assert row[index[name]] == e.get(name, 0)
        assert row[index["place"]] == place_level(int(e.get("place", 0)), e.get("mail"))


def test_random_pairs_are_distinct_ordered_and_reproducible() -> None:
    first = random_pairs(500, 5_000, seed=4)
    a, b = first.column("a").to_numpy(), first.column("b").to_numpy()
    assert (a < b).all() and len(set(zip(a, b))) == len(a)
    assert first.equals(random_pairs(500, 5_000, seed=4))
    small = random_pairs(10, 1_000, seed=1)
    assert small.num_rows == 45  # every pair, when there are fewer than asked


def test_creation_proximity_levels() -> None:
    w = World()
    w.account("x", created_day=0.0)
    w.account("y", created_day=0.005)  # 7 minutes apart
    for i in range(40):
        w.account(f"z{i}", created_day=400.0 + i)
    w.use("x", "card", "c")
    w.use("y", "card", "c")
    t = build_pair_tables(w.links(), w.account_table())
    candidate_pairs(t, BlockingParams())
    got = pair_levels(t)
    created = [j for j, c in enumerate(COMPARISONS) if c.name == "created"][0]
    assert got.levels[:, created].tolist() == [5]
    assert np.isin(got.a, [0, 1]).all()
