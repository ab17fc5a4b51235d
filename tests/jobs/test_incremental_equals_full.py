"""Incremental placement decides as the full run does (pure): for any one account of the world,
hold it out of the operators, place it incrementally with the full run's own fitted model, and
compare with the group the full run put it in."""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sybilgraph.attribution.evidence_model import FittedPairs, fit_pair_model
from sybilgraph.attribution.arrays import union_find
from sybilgraph.attribution.grouping import edges_of, group_accounts
from sybilgraph.attribution.pairs import PairTables, build_pair_tables
from sybilgraph.attribution.params import AttributionParams
from sybilgraph.attribution.profiles import build_profiles
from sybilgraph.jobs.incremental import place_accounts
from tests.attribution.world import World
from tests.jobs.test_incremental_placement import _world

PARAMS = replace(AttributionParams(), u_pairs=200_000)


def _components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected components of the edge graph (Leiden's stand-in without GDS); -1 for no edge."""
    roots = union_find(n, a, b)
    degree = np.bincount(np.concatenate([a, b]), minlength=n)
    return np.where(degree > 0, roots, -1)


@dataclass(frozen=True)
class FullRun:
    world: World
    ops: list[str]
    tables: PairTables
    fitted: FittedPairs
    group_of: dict[str, int]  # account -> the full run's group
    members: dict[int, list[str]]


@functools.cache
def full_run() -> FullRun:
    """The world attributed once, as a full run does (fitted model, edges, grouping)."""
    w, ops = _world()
    t = build_pair_tables(w.links(), w.account_table())
    fit = fit_pair_model(t, PARAMS)
    edges = edges_of(fit.pairs, fit.match_weight, PARAMS)
    full = group_accounts(t, edges, _components(t.n_accounts, edges.a, edges.b), PARAMS,
                          build_profiles(w.account_table(), t.account_ids))
    ids = [str(x) for x in t.account_ids]
    group_of = {ids[a]: int(g) for a, g in zip(full.aid.tolist(), full.gid.tolist())}
    members: dict[int, list[str]] = {}
    for acc, g in group_of.items():
        members.setdefault(g, []).append(acc)
    return FullRun(w, ops, t, fit, group_of, members)


# Every third ring account, the household behind one of its exits, and a sample of the crowd.
CANDIDATES = sorted({f"o{i:02d}" for i in range(0, 40, 3)} | {"h1", "h2", "h3"} | {f"p{i:03d}" for i in range(0, 300, 29)})


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(CANDIDATES))
def test_an_account_placed_incrementally_joins_the_group_the_full_run_gave_it(account: str) -> None:
    run = full_run()
    full_group = run.group_of.get(account)
    operators = {f"op-{g}": [a for a in ms if a != account] for g, ms in run.members.items()}
    placed, _ = place_accounts(run.tables, run.fitted.model, PARAMS, operators, [account], set(), run.world.account_table())
    got = placed[account].operator_id if account in placed else None
    assert got == (f"op-{full_group}" if full_group is not None else None)


def test_the_world_has_both_outcomes() -> None:
    # The property above is not vacuous: the ring is a group, the household is not in it.
    run = full_run()
    ring = {run.group_of.get(a) for a in run.ops}
    assert len(ring) == 1 and None not in ring
    assert all(run.group_of.get(h) not in ring for h in ("h1", "h2", "h3"))
    assert set(CANDIDATES) <= {str(x) for x in run.tables.account_ids}
