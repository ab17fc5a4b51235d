"""Incremental placement (pure): new accounts join an operator by the run's own models, never by
a rule of their own. The world is the membership tests' operator ring and crowd."""

from __future__ import annotations

from dataclasses import replace

from sybilgraph.attribution.evidence_model import fit_pair_model
from sybilgraph.attribution.pairs import build_pair_tables
from sybilgraph.attribution.params import AttributionParams
from sybilgraph.jobs.incremental import place_accounts
from tests.attribution.test_membership import _crowd, _ring
from tests.attribution.world import World

PARAMS = replace(AttributionParams(), u_pairs=200_000)


def _world() -> tuple[World, list[str]]:
    w = World()
    _crowd(w)
    ops = _ring(w)
    for m in ("h1", "h2", "h3"):  # a household behind one of the ring's proxy exits
        w.account(m, created_day=-500, hours="day")
        w.use(m, "ip", "exit3", 200)
        w.use(m, "card", "family-card")
        w.use(m, "email_domain", "mail1.test")
    return w, ops


def _place(w: World, members: dict[str, list[str]], new: list[str], rejected: set[tuple[str, str]] = set()):  # type: ignore[no-untyped-def]
    t = build_pair_tables(w.links(), w.account_table())
    try:
        model = fit_pair_model(t, PARAMS).model
        placed, evidence = place_accounts(t, model, PARAMS, members, new, rejected, w.account_table())
    finally:
        t.con.close()
    return placed, evidence


def _split(ops: list[str]) -> tuple[list[str], list[str]]:
    """New accounts arrive among the known ones (they reuse the ring's cards and exits). A new
    batch on a card of its own waits for the next full run: incremental placement is the
    conservative half of attribution."""
    return [a for i, a in enumerate(ops) if i % 5], [a for i, a in enumerate(ops) if not i % 5]


def test_new_ring_accounts_join_their_operator_and_the_household_does_not() -> None:
    w, ops = _world()
    known, new = _split(ops)
    placed, evidence = _place(w, {"op-ring": known}, [*new, "h1", "h2", "h3", "p007"])
    assert {a for a, p in placed.items() if p.operator_id == "op-ring"} == set(new)
    assert all(0.5 <= placed[a].confidence <= 1 for a in new)
    assert all(evidence[a] != "[]" for a in new)  # each placement shows its evidence


def test_a_rejected_decision_is_honoured() -> None:
    w, ops = _world()
    known, new = _split(ops)
    placed, _ = _place(w, {"op-ring": known}, new, rejected={(new[0], "op-ring")})
    assert new[0] not in placed
    assert set(new[1:]) <= set(placed)


def test_nothing_to_place_when_no_operator_exists() -> None:
    w, ops = _world()
    placed, evidence = _place(w, {}, ops[:5])
    assert placed == {} and evidence == {}
