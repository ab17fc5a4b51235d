"""Candidate pairs and comparison levels (pure): against a brute-force computation in Python."""

from __future__ import annotations

import hashlib
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


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 39), st.integers(0, 2)), min_size=2, max_size=100, unique=True), st.integers(1, 4), st.integers(1, 3))
def test_sorted_neighbourhood_pairs_match_their_definition(uses: list[tuple[int, int]], window: int, passes: int) -> None:
    """Users of a value above ``exact_max`` in ``passes`` md5 orders, each paired with the next ``window``."""
    w = World()
    n = 40
    for i in range(n):
        w.account(f"a{i:02d}", created_day=float(i))
    for a, v in uses:
        w.use(f"a{a:02d}", "device", f"d{v}")
    t = build_pair_tables(w.links(), w.account_table(), hub_fraction=1.0)
    params = BlockingParams(exact_max=2, window=window, passes=passes, order_salt="s")
    candidate_pairs(t, params)
    got = {(int(a), int(b)) for a, b in t.con.execute("SELECT a, b FROM cand").fetchall()}
    idx = {str(x): i for i, x in enumerate(t.account_ids)}
    users: dict[int, list[str]] = {}
    for a, v in uses:
        users.setdefault(v, []).append(f"a{a:02d}")
    expected: set[tuple[int, int]] = set()
    for accs in users.values():
        if len(accs) < 2:
            continue
        if len(accs) <= params.exact_max:
            expected |= {tuple(sorted((idx[x], idx[y]))) for x, y in combinations(accs, 2)}  # type: ignore[misc]
            continue
        for p in range(passes):
            order = sorted(accs, key=lambda x: (hashlib.md5(f"s{p}:{x}".encode()).hexdigest(), idx[x]))
            for i, x in enumerate(order):
                for y in order[i + 1 : i + 1 + window]:
                    expected.add(tuple(sorted((idx[x], idx[y]))))  # type: ignore[arg-type]
    assert got == expected
