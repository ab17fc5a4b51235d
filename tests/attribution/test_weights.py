from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from sybilgraph.attribution.params import AttributionParams
from sybilgraph.attribution.weights import hub_cutoff, identifier_weight

P = AttributionParams()


def test_rare_card_outweighs_shared_ip() -> None:
    assert identifier_weight("card", 40, 100_000, P) > identifier_weight("ip", 40, 100_000, P)


def test_hubs_weigh_nothing() -> None:
    n = 100_000
    assert hub_cutoff(n, P) == 5_000
    assert identifier_weight("ip", 5_000, n, P) == 0.0
    assert identifier_weight("ip", 20_000, n, P) == 0.0


def test_lone_identifier_and_unknown_kind_weigh_nothing() -> None:
    assert identifier_weight("card", 1, 1_000, P) == 0.0
    assert identifier_weight("favourite_colour", 5, 1_000, P) == 0.0


def test_hub_cutoff_scales_with_population_and_has_a_floor() -> None:
    assert hub_cutoff(100, P) == P.hub_min_accounts
    assert hub_cutoff(1_000_000, P) == 50_000


def test_known_value() -> None:
    assert math.isclose(identifier_weight("card", 50, 10_000, P), math.log(10_000 / 50))


@given(st.sampled_from(sorted(P.kind_weights)), st.integers(2, 10_000), st.integers(2, 10_000), st.integers(100, 10**6))
def test_weight_never_increases_with_sharing(kind: str, a: int, b: int, total: int) -> None:
    lo, hi = sorted((a, b))
    assert identifier_weight(kind, lo, total, P) >= identifier_weight(kind, hi, total, P) >= 0.0
