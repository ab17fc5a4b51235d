"""Pair counting and the adjusted Rand index: hand-computed cases and brute force over pairs."""

from __future__ import annotations

from fractions import Fraction
from itertools import combinations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sybilgraph.evaluate import adjusted_rand_index, pair_counts
from sybilgraph.evaluate.metrics import pair_counts_from_codes


def test_identical_partitions() -> None:
    assert adjusted_rand_index([0, 0, 1, 1, 2], ["x", "x", "y", "y", "z"]) == 1.0


def test_crossed_partitions_are_worse_than_chance() -> None:
    # contingency all ones: sab = 0, sa = sb = 2, N = 6: E = 2/3, max = 2 -> -1/2
    assert adjusted_rand_index([0, 0, 1, 1], [0, 1, 0, 1]) == pytest.approx(-0.5)


def test_hand_computed_split() -> None:
    # a = (3, 3): sa = 6; b = (2, 2, 2): sb = 3; cells 2,1,1,2: sab = 2; N = 15
    # E = 18/15 = 1.2, max = 4.5: (2 - 1.2) / (4.5 - 1.2) = 8/33
    pc = pair_counts([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 2, 2])
    assert (pc.n, pc.true_pairs, pc.predicted_pairs, pc.agreeing_pairs) == (6, 6, 3, 2)
    assert pc.ari == pytest.approx(8 / 33)
    assert pc.precision == pytest.approx(2 / 3)
    assert pc.recall == pytest.approx(2 / 6)


def test_degenerate_partitions() -> None:
    assert adjusted_rand_index([0, 1, 2, 3], [5, 6, 7, 8]) == 1.0  # all singletons, both
    assert adjusted_rand_index([0, 0, 0], [1, 1, 1]) == 1.0  # one cluster, both
    assert adjusted_rand_index([0, 1, 2, 3], [1, 1, 1, 1]) == 0.0
    assert adjusted_rand_index([], []) == 1.0
    assert adjusted_rand_index(["a"], ["b"]) == 1.0


def test_missing_labels_are_singletons() -> None:
    # [None, None, a, a] is {1} {2} {3,4}; so is [1, 2, 3, 3]
    assert adjusted_rand_index([None, None, "a", "a"], [1, 2, 3, 3]) == 1.0
    assert adjusted_rand_index([float("nan"), "", "a", "a"], [1, 2, 3, 3]) == 1.0
    pc = pair_counts([None, None, None], [None, None, None])
    assert (pc.true_pairs, pc.predicted_pairs) == (0, 0)


def test_codes_need_not_be_compact() -> None:
    pc = pair_counts_from_codes(np.array([10**12, 10**12, -1, 7]), np.array([3, 3, 3, -5]))
    assert (pc.true_pairs, pc.predicted_pairs, pc.agreeing_pairs) == (1, 3, 1)


def test_large_counts_do_not_overflow() -> None:
    n = 300_000
    t = np.zeros(n, dtype=np.int64)
    p = np.arange(n) % 2
    pc = pair_counts_from_codes(t, p)
    assert pc.true_pairs == n * (n - 1) // 2
    assert pc.predicted_pairs == 2 * ((n // 2) * (n // 2 - 1) // 2)
    assert pc.ari == pytest.approx(0.0, abs=1e-9)


def _brute(true: list[int | None], pred: list[int | None]) -> tuple[int, int, int, int, float]:
    """Enumerate every pair; ARI from the 2x2 pair-confusion form (independent of the
    contingency formula): ARI = 2(tp·tn − fn·fp) / ((tp+fn)(fn+tn) + (tp+fp)(fp+tn))."""
    tp = fp = fn = tn = 0
    for i, j in combinations(range(len(true)), 2):
        same_t = true[i] is not None and true[i] == true[j]
        same_p = pred[i] is not None and pred[i] == pred[j]
        if same_t and same_p:
            tp += 1
        elif same_p:
            fp += 1
        elif same_t:
            fn += 1
        else:
            tn += 1
    den = (tp + fn) * (fn + tn) + (tp + fp) * (fp + tn)
    ari = 1.0 if den == 0 else float(Fraction(2 * (tp * tn - fn * fp), den))
    return tp + fn, tp + fp, tp, len(true), ari


labelings = st.integers(min_value=0, max_value=40).flatmap(
    lambda n: st.tuples(
        st.lists(st.one_of(st.none(), st.integers(0, 5)), min_size=n, max_size=n),
        st.lists(st.one_of(st.none(), st.integers(0, 5)), min_size=n, max_size=n),
    )
)


@settings(max_examples=300, deadline=None)
@given(labelings)
def test_against_brute_force_pairs(pair: tuple[list[int | None], list[int | None]]) -> None:
    true, pred = pair
    sa, sb, sab, n, ari = _brute(true, pred)
    pc = pair_counts(true, pred)
    assert (pc.true_pairs, pc.predicted_pairs, pc.agreeing_pairs, pc.n) == (sa, sb, sab, n)
    assert pc.ari == pytest.approx(ari, abs=1e-12)
    assert adjusted_rand_index(pred, true) == pytest.approx(ari, abs=1e-12)  # symmetric


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 10_000))
def test_random_partitions_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 60))
    true = [int(x) if x >= 0 else None for x in rng.integers(-2, 6, n)]
    pred = [int(x) if x >= 0 else None for x in rng.integers(-2, int(rng.integers(1, 12)), n)]
    sa, sb, sab, _, ari = _brute(true, pred)
    pc = pair_counts(true, pred)
    assert (pc.true_pairs, pc.predicted_pairs, pc.agreeing_pairs) == (sa, sb, sab)
    assert pc.ari == pytest.approx(ari, abs=1e-12)
