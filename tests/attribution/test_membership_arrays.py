"""membership.py's array code against its definitions, row by row (pure).

The vectorised code fills preallocated arrays and keys level patterns as integers (memory at
scale 1.0); these tests hold it to the per-row definitions in membership.py's module note.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sybilgraph.attribution.membership as membership
from sybilgraph.attribution.membership import IDENTIFIER_LEVELS, _joint_log_ratio, _level_log_probs, _pattern_key


@st.composite
def evaluated_rows(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(2, 40))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    levels = rng.integers(-1, 3, size=(n, draw(st.integers(1, 6)))).astype(np.int8)
    levels[:, 0] = np.maximum(levels[:, 0], 0)  # identifier levels are 0..2; others may be -1
    member = rng.random(n) < 0.5
    ginv = rng.integers(0, draw(st.integers(1, 4)), n)
    return levels, member, ginv


@settings(max_examples=80, deadline=None)
@given(evaluated_rows())
def test_level_weights_are_leave_one_out_shares_of_members_and_outsiders(case: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    levels, member, ginv = case
    ident = np.maximum(levels, 0)
    n, k = ident.shape
    out_m, out_u = np.zeros((n, k)), np.zeros((n, k))
    _level_log_probs(ident, member, ginv, int(ginv.max()) + 1, out_m, out_u)
    n_levels = len(IDENTIFIER_LEVELS)
    for r in range(n):
        others = (ginv == ginv[r]) & (np.arange(n) != r)
        for j in range(k):
            same = others & (ident[:, j] == ident[r, j])
            m = ((same & member).sum() + 0.5) / ((others & member).sum() + 0.5 * n_levels)
            u = ((same & ~member).sum() + 0.5) / ((others & ~member).sum() + 0.5 * n_levels)
            assert out_m[r, j] == np.log2(m) and out_u[r, j] == np.log2(u)


@settings(max_examples=80, deadline=None)
@given(evaluated_rows())
def test_joint_ratio_counts_rows_of_the_same_pattern_in_the_group(case: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    levels, member, ginv = case
    n = len(levels)
    rng = np.random.default_rng(0)
    naive_m, naive_u = -rng.random(n) * 5, -rng.random(n) * 5
    members_wo = np.array([((ginv == ginv[r]) & member).sum() - member[r] for r in range(n)], dtype=float)
    outside_wo = np.array([((ginv == ginv[r]) & ~member).sum() - (~member)[r] for r in range(n)], dtype=float)
    got = _joint_log_ratio(_pattern_key(levels), member, ginv, naive_m, naive_u, members_wo, outside_wo)
    for r in range(n):
        same = (ginv == ginv[r]) & (levels == levels[r]).all(axis=1) & (np.arange(n) != r)
        m = 0.5 * ((same & member).sum() / max(members_wo[r], 1.0) + np.exp2(naive_m[r]))
        u = 0.5 * ((same & ~member).sum() / max(outside_wo[r], 1.0) + np.exp2(naive_u[r]))
        assert np.isclose(got[r], np.log2(m) - np.log2(u), rtol=0, atol=1e-12)


def test_pattern_keys_are_equal_exactly_when_patterns_are() -> None:
    rng = np.random.default_rng(3)
    levels = rng.integers(-1, 3, size=(500, 11)).astype(np.int8)
    key = _pattern_key(levels[:, 4:], _pattern_key(levels[:, :4]))
    assert len(np.unique(key)) == len(np.unique(levels, axis=0))
    assert np.array_equal(key, _pattern_key(levels))


def test_level_weights_in_blocks_of_rows_equal_one_block(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(5)
    n, k = 1_000, 7
    levels = rng.integers(0, 3, size=(n, k)).astype(np.int8)
    member, ginv = rng.random(n) < 0.3, np.sort(rng.integers(0, 12, n))
    whole = np.zeros((n, k)), np.zeros((n, k))
    _level_log_probs(levels, member, ginv, 12, *whole)
    monkeypatch.setattr(membership, "_BLOCK_ROWS", 7)
    blocked = np.zeros((n, k + 4)), np.zeros((n, k + 4))  # into the identifier columns of wider arrays
    _level_log_probs(levels, member, ginv, 12, blocked[0][:, :k], blocked[1][:, :k])
    for got, want in zip(blocked, whole):
        assert np.array_equal(got[:, :k], want) and not got[:, k:].any()
