"""The Fellegi-Sunter model (pure): EM recovers m, weights explain decisions, persistence."""

from __future__ import annotations

import numpy as np
import pytest

from sybilgraph.attribution.fellegi_sunter import (
    FSModel,
    Session,
    em_session,
    estimate_u,
    fit_m,
    fixed_point_prior,
    patterns,
)


def _draw(rng: np.random.Generator, probs: list[np.ndarray], n: int) -> np.ndarray:
    return np.stack([rng.choice(len(p), size=n, p=p) for p in probs], axis=1).astype(np.int8)


M = [np.array([0.1, 0.3, 0.6]), np.array([0.2, 0.8]), np.array([0.05, 0.15, 0.8])]
U = [np.array([0.9, 0.08, 0.02]), np.array([0.7, 0.3]), np.array([0.6, 0.3, 0.1])]


def test_em_recovers_m_and_the_share_of_matches_with_u_known() -> None:
    rng = np.random.default_rng(1)
    matches = _draw(rng, M, 4_000)
    non = _draw(rng, U, 16_000)
    pats, counts = patterns(np.concatenate([matches, non]))
    m, lam, expected = em_session(pats, counts, [np.full(3, 1 / 3), np.full(2, 0.5), np.full(3, 1 / 3)], U, [True, True, True])
    assert lam == pytest.approx(0.2, abs=0.02)
    assert expected == pytest.approx(4_000, rel=0.1)
    for got, want in zip(m, M):
        np.testing.assert_allclose(got, want, atol=0.04)


def test_a_session_does_not_estimate_the_comparison_it_is_blocked_on() -> None:
    rng = np.random.default_rng(2)
    levels = np.concatenate([_draw(rng, M, 3_000), _draw(rng, U, 9_000)])
    u = [x.copy() for x in U]
    sessions = [Session("first", np.arange(len(levels)), frozenset({"a"}))]
    m, prov = fit_m(levels, sessions, ["a", "b", "c"], u)
    np.testing.assert_allclose(m[0], U[0])  # never estimated: m = u, weight 0
    assert prov["a"]["sessions"] == []
    np.testing.assert_allclose(m[1], M[1], atol=0.05)


def test_labelled_pairs_count_as_known_matches() -> None:
    rng = np.random.default_rng(3)
    labelled = _draw(rng, M, 2_000)
    m, prov = fit_m(np.zeros((0, 3), dtype=np.int8), [], ["a", "b", "c"], [x.copy() for x in U], labelled=labelled)
    for got, want in zip(m, M):
        np.testing.assert_allclose(got, want, atol=0.03)
    assert "labels" in prov["b"]["sessions"]


def test_waterfall_adds_up_to_the_match_weight() -> None:
    model = FSModel(("a", "b", "c"), (("x", "y", "z"), ("x", "y"), ("x", "y", "z")), M, U, prior=0.01)
    levels = np.array([[2, 1, 2], [0, 0, -1]])
    rows = model.waterfall(levels[0])
    assert rows[-1].cumulative == pytest.approx(model.match_weight(levels)[0])
    assert rows[0].comparison == "prior"
    assert model.waterfall(levels[1])[-1].weight == 0.0  # not comparable adds nothing
    assert 0 < rows[-1].probability < 1


def test_model_round_trips_through_json() -> None:
    model = FSModel(("a", "b", "c"), (("x", "y", "z"), ("x", "y"), ("x", "y", "z")), M, U, prior=0.003, provenance={"a": {"sessions": ["s"]}})
    again = FSModel.from_json(model.to_json())
    levels = np.array([[1, 1, 0], [2, 0, 2]])
    np.testing.assert_allclose(again.match_weight(levels), model.match_weight(levels), rtol=1e-5)


def test_prior_is_the_fixed_point_of_expected_matches() -> None:
    n = 1_000
    bf = np.full(500, 40.0)  # 500 certain matches among the candidates
    prior = fixed_point_prior(bf, n)
    assert prior == pytest.approx(500 / (n * (n - 1) / 2), rel=0.01)


def test_estimate_u_ignores_pairs_that_cannot_be_compared() -> None:
    u = estimate_u(np.array([0, 0, 1, -1, -1]), 3)
    assert u.sum() == pytest.approx(1.0)
    assert u[2] < u[1] < u[0]
