from __future__ import annotations

from sybilgraph.evaluate.stability import ids_kept, same_operator_share, true_operator_of

TRUTH = {"a1": "OP-A", "a2": "OP-A", "a3": "OP-A", "b1": "OP-B", "b2": "OP-B", "x": None, "y": None}


def test_true_operator_needs_a_strict_majority() -> None:
    assert true_operator_of(["a1", "a2", "x"], TRUTH) == "OP-A"
    assert true_operator_of(["a1", "x"], TRUTH) is None
    assert true_operator_of(["x", "y"], TRUTH) is None


def test_ids_kept_separates_coincidental_operators() -> None:
    before = {"a1": "op-1", "a2": "op-1", "b1": "op-2", "b2": "op-2", "x": "op-3", "y": "op-3"}
    after = {"a1": "op-1", "a2": "op-1", "a3": "op-1", "b1": "op-2", "b2": "op-2"}  # op-3 dissolved
    s = ids_kept(before, after, TRUTH, flagged_before={"op-1"})
    assert (s.n_all, s.n_true_operator, s.n_flagged) == (3, 2, 1)
    assert s.all_ids == 2 / 3
    assert s.true_operator_ids == 1.0
    assert s.flagged_ids == 1.0


def test_a_lost_real_operator_counts() -> None:
    before = {"a1": "op-1", "a2": "op-1", "b1": "op-2", "b2": "op-2"}
    after = {"a1": "op-1", "a2": "op-1", "b1": "op-9", "b2": "op-9"}
    s = ids_kept(before, after, TRUTH, flagged_before={"op-2"})
    assert s.true_operator_ids == 0.5
    assert s.flagged_ids == 0.0


def test_same_operator_share() -> None:
    assert same_operator_share({"a": "1", "b": "2"}, {"a": "1", "b": "3"}) == 0.5
    assert same_operator_share({}, {}) == 0.0
