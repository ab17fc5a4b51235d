"""Agreement of two comparisons among unrelated pairs, against independence (pure)."""

from __future__ import annotations

import numpy as np
import pytest

from sybilgraph.evaluate.dependence import agreement_dependence


def test_independent_comparisons_agree_together_at_the_product_rate() -> None:
    rng = np.random.default_rng(1)
    levels = np.stack([rng.random(200_000) < 0.1, rng.random(200_000) < 0.2], axis=1).astype(np.int8)
    (row,) = agreement_dependence(levels, ["a", "b"])
    assert (row.first, row.second, row.pairs) == ("a", "b", 200_000)
    assert row.ratio is not None and abs(row.ratio - 1.0) < 0.05


def test_comparisons_that_agree_together_show_it_and_pairs_of_one_group_are_left_out() -> None:
    # 100 unrelated pairs: 10 agree on a, 10 on b, 5 of them on both (independence predicts 1).
    a = np.zeros(100, dtype=np.int8)
    b = np.zeros(100, dtype=np.int8)
    a[:10] = 2; b[5:15] = 3
    # 20 pairs of one group agreeing on everything: counted only when not left out.
    levels = np.concatenate([np.stack([a, b], axis=1), np.full((20, 2), 4, dtype=np.int8)])
    unrelated = np.r_[np.ones(100, dtype=bool), np.zeros(20, dtype=bool)]
    (row,) = agreement_dependence(levels, ["client", "template_pool"], unrelated)
    assert (row.pairs, row.both) == (100, 5)
    assert row.expected == pytest.approx(1.0) and row.ratio == pytest.approx(5.0)
    (with_group,) = agreement_dependence(levels, ["client", "template_pool"])
    assert (with_group.pairs, with_group.both) == (120, 25)


def test_no_agreement_means_no_ratio() -> None:
    (row,) = agreement_dependence(np.zeros((10, 2), dtype=np.int8), ["a", "b"])
    assert row.both == 0 and row.expected == 0.0 and row.ratio is None
