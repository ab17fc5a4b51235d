"""Comparison levels (pure): rarer agreement ranks higher, joint place levels."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from sybilgraph.attribution.comparisons import (
    COMPARISONS,
    comparison,
    frequency_level,
    place_level,
    place_levels,
    rare_agreement,
)


@given(st.sampled_from([c for c in COMPARISONS if c.is_identifier]), st.floats(1e-7, 0.05), st.floats(1e-7, 0.05))
def test_a_rarer_shared_value_never_ranks_lower(c, f1: float, f2: float) -> None:  # type: ignore[no-untyped-def]
    kind = c.primary[0]
    lo, hi = sorted((f1, f2))
    assert frequency_level(c, kind, lo) >= frequency_level(c, kind, hi)


def test_primary_kinds_rank_above_secondary_ones() -> None:
    pay = comparison("payment")
    assert min(frequency_level(pay, "card", f) for f in (1e-6, 0.04)) > max(frequency_level(pay, "bin", f) for f in (1e-6, 0.04))


def test_place_joins_network_and_mail() -> None:
    c = comparison("place")
    ip = frequency_level(c, "ip", 1e-4)
    assert place_level(ip, None) < place_level(ip, 0.5) < place_level(ip, 1e-3)
    assert place_level(ip, None) < c.n_levels and place_level(ip, 1e-3) < c.n_levels
    np.testing.assert_array_equal(place_levels([ip, 0], [-1.0, 1e-3]), [place_level(ip, None), place_level(0, 1e-3)])


def test_rare_agreement_selects_only_values_used_by_few() -> None:
    client = comparison("client")
    levels = np.array([0, frequency_level(client, "tls", 0.04), frequency_level(client, "tls", 0.001)])
    assert rare_agreement(client, levels).tolist() == [False, False, True]
