"""Tradecraft modes and the drawn knobs: parsing, determinism, and coverage of every range.

Pure (no bundle is written): ``draw_world`` is cheap, so coverage is checked over many seeds.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest

from sybilgraph.generate.tradecraft import (
    ACCOUNTS_AT_ONE_RANGE,
    FAMILIES,
    MIN_OPERATOR_ACCOUNTS,
    TradecraftError,
    World,
    draw_world,
    parse_tradecraft,
)

RANDOM = parse_tradecraft("random")
SEEDS = range(1, 301)


@pytest.fixture(scope="module")
def worlds() -> list[World]:
    return [draw_world(seed, 0.01, RANDOM) for seed in SEEDS]


def test_parse_modes() -> None:
    assert parse_tradecraft("classic").classic
    assert parse_tradecraft(" Random ").random
    tc = parse_tradecraft("careful:2, vm_farm")
    assert tc.families == (("careful", 2), ("vm_farm", 1))
    assert tc.text == "careful:2,vm_farm"
    assert not tc.classic and not tc.random


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("bogus", "unknown tradecraft 'bogus'"),
        ("careful:0", "count must be 1-8"),
        ("careful:9", "count must be 1-8"),
        ("careful:x", "must be an integer"),
        ("", "unknown tradecraft ''"),
    ],
)
def test_parse_rejects_with_a_message(text: str, message: str) -> None:
    with pytest.raises(TradecraftError, match=message):
        parse_tradecraft(text)


def test_same_seed_same_world_and_seeds_differ() -> None:
    assert draw_world(5, 0.02, RANDOM) == draw_world(5, 0.02, RANDOM)
    assert draw_world(5, 0.02, RANDOM) != draw_world(6, 0.02, RANDOM)


def test_family_mode_has_exactly_the_families_asked() -> None:
    world = draw_world(3, 0.01, parse_tradecraft("careful:2,vm_farm,takeover"))
    assert Counter(o.family for o in world.operators) == {"careful": 2, "vm_farm": 1, "takeover": 1}
    assert all(o.label for o in world.operators)  # focused bundles label every operator


def test_every_family_appears_within_twenty_draws(worlds: list[World]) -> None:
    for start in range(0, len(worlds) - 20, 20):
        seen = {o.family for w in worlds[start : start + 20] for o in w.operators}
        assert seen == set(FAMILIES), start


def test_operator_counts_and_sizes(worlds: list[World]) -> None:
    counts = [len(w.operators) for w in worlds]
    assert min(counts) == 3 and max(counts) == 7
    sizes = [o.accounts_at_one for w in worlds for o in w.operators]
    lo, hi = ACCOUNTS_AT_ONE_RANGE
    assert min(sizes) >= lo and max(sizes) <= hi
    assert min(sizes) < lo * 1.2 and max(sizes) > hi * 0.85
    assert all(o.accounts >= MIN_OPERATOR_ACCOUNTS for w in worlds for o in w.operators)
    world = draw_world(1, 1.0, RANDOM)
    assert all(o.accounts == o.accounts_at_one for o in world.operators)  # linear in scale


def _ops(worlds: list[World], family: str) -> list:
    return [o for w in worlds for o in w.operators if o.family == family]


def _extremes(values: list[float], lo: float, hi: float, slack: float) -> None:
    assert min(values) >= lo and max(values) <= hi
    assert min(values) <= lo + slack and max(values) >= hi - slack, (min(values), max(values))


def test_cross_cutting_knob_ranges(worlds: list[World]) -> None:
    ops = [o for w in worlds for o in w.operators]
    _extremes([o.lifecycle.churn_share for o in ops], 0.0, 0.5, 0.03)
    assert sum(o.lifecycle.churn_share == 0 for o in ops) > 0.2 * len(ops)
    _extremes([o.workload.paraphrase for o in _ops(worlds, "careful")], 0.0, 0.6, 0.05)
    _extremes([o.workload.p_popular for o in ops], 0.0, 0.4, 0.03)
    _extremes([o.workload.subset for o in ops], 5, 80, 1)
    _extremes([o.workload.requests_per_account for o in ops], 150, 2500, 60)
    assert {o.workload.subset_mode for o in ops} == {"window", "scattered"}
    assert {o.schedule.kind for o in ops} == {"diurnal", "round_the_clock", "shifts", "business"}
    assert {o.lifecycle.age for o in ops} == {"fresh", "aged", "mixed"}
    assert {o.identity.email for o in ops} == {"webmail", "disposable", "own_domains"}
    assert {o.identity.bin_kind for o in ops} == {"common", "prepaid", "virtual"}
    assert {o.workload.api_only for o in ops} == {True, False}
    assert len({o.workload.model_profile for o in ops}) == 3
    _extremes([o.schedule.tz_spread for o in ops], 0, 9, 0)
    for o in ops:
        w = o.workload
        assert abs(w.p_pool + w.p_popular + w.paraphrase - 1.0) < 1e-6


def test_family_knob_ranges(worlds: list[World]) -> None:
    ring = _ops(worlds, "card_ring")
    _extremes([o.infra.accounts_per_card[0] for o in ring], 3, 19, 0)
    _extremes([o.infra.accounts_per_card[1] for o in ring], 4, 50, 3)
    assert {o.infra.network for o in ring} == {"residential_proxy", "own_lines"}
    farm = _ops(worlds, "proxy_farm")
    _extremes([o.infra.accounts_per_exit for o in farm], 1.0, 8.0, 0.3)
    _extremes([o.infra.home_overlap for o in farm], 0.0, 0.3, 0.02)
    vm = _ops(worlds, "vm_farm")
    _extremes([o.infra.vms for o in vm], 2, 20, 0)
    _extremes([o.infra.ips_per_vm[1] for o in vm], 1, 3, 0)
    _extremes([o.lifecycle.creation_days for o in vm], 7, 28, 1)
    assert {o.infra.dc_host for o in vm} == {"big_cloud", "hosting"}
    nat = _ops(worlds, "carrier_nat")
    _extremes([o.infra.card_coverage for o in nat], 0.2, 0.6, 0.03)
    _extremes([o.infra.accounts_per_device[1] for o in nat], 3, 15, 0)
    careful = _ops(worlds, "careful")
    assert {o.infra.client for o in careful} >= {"private", "python_httpx"}
    assert all(o.lifecycle.age == "aged" and o.identity.bin_kind == "common" for o in careful)
    crews = _ops(worlds, "sub_crews")
    assert {len(o.crews) for o in crews} == {2, 3, 4}
    assert {c.infra.family for o in crews for c in o.crews} == {
        "card_ring", "proxy_farm", "vm_farm", "carrier_nat", "careful", "vpn_mixed"
    }
    takeover = _ops(worlds, "takeover")
    _extremes([o.infra.takeover_from_households for o in takeover], 0.1, 0.6, 0.05)


def test_labels_and_organisations(worlds: list[World]) -> None:
    labelled = [sum(o.label is not None for o in w.operators) / len(w.operators) for w in worlds]
    assert min(labelled) >= 0.33 and max(labelled) <= 0.75
    ops = [o for w in worlds for o in w.operators]
    _extremes([o.label_share for o in ops], 0.0, 0.05, 0.002)
    assert {o.label_min for o in ops} == {2, 3}
    for w in worlds:
        truths = [o.truth for o in w.operators]
        labels = [o.label for o in w.operators if o.label]
        assert len(set(truths)) == len(truths) and len(set(labels)) == len(labels)
        assert not {t.removeprefix("DIST-") for t in truths} & {x.removeprefix("OP-") for x in labels}
        for o in w.operators:
            assert w.organisations[o.organisation].role == "operator_org"
    no_trail = sum(o.leaks.accounts == 0 for o in ops) / len(ops)
    assert 0.2 <= no_trail <= 0.4
    shared = sum(len({o.organisation for o in w.operators}) < len(w.operators) for w in worlds)
    assert shared > 0.3 * len(worlds)  # some organisations run two operators
    kinds = {k for o in ops for k in o.leaks.kinds}
    assert kinds == {"card", "device", "office", "domain", "cloud"}


def test_benign_rates_vary_around_classic(worlds: list[World]) -> None:
    hh = [w.rates.household_share for w in worlds]
    assert min(hh) < 0.06 and max(hh) > 0.13
    assert len({w.lookalikes.large_customers for w in worlds}) >= 5
    for w in worlds:
        assert abs(sum(w.rates.household_sizes) - 1.0) < 1e-9
        assert dataclasses.replace(w.rates, household_sizes=(1.0,)) is not None
