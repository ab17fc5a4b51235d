"""Evidence tables against a brute-force count in plain Python (no database)."""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from sybilgraph.attribution.comparisons import COMPARISONS
from sybilgraph.attribution.evidence import evidence_tables, value_weights
from sybilgraph.attribution.fellegi_sunter import FSModel
from sybilgraph.attribution.pairs import build_pair_tables
from tests.attribution.world import World

KINDS = ["card", "ip", "tls", "device"]


def _model() -> FSModel:
    m = [np.linspace(1, 2, c.n_levels) / np.linspace(1, 2, c.n_levels).sum() for c in COMPARISONS]
    u = [np.linspace(2, 1, c.n_levels) / np.linspace(2, 1, c.n_levels).sum() for c in COMPARISONS]
    return FSModel(tuple(c.name for c in COMPARISONS), tuple(c.levels for c in COMPARISONS), m, u, prior=0.01)


@settings(max_examples=12, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 14), st.sampled_from(KINDS), st.integers(0, 5)), min_size=1, max_size=80, unique=True),
    st.lists(st.integers(0, 3), min_size=15, max_size=15),
)
def test_evidence_matches_a_brute_force_count(links: list[tuple[int, str, int]], op_of: list[int]) -> None:
    w = World()
    for i in range(200):  # a large population, so every shared value is rare enough to count
        w.account(f"a{i:03d}")
    for a, k, v in links:
        w.use(f"a{a:03d}", k, f"{k}{v}")
    t = build_pair_tables(w.links(), w.account_table())
    model = _model()
    index = {str(x): i for i, x in enumerate(t.account_ids)}
    members = pa.table({
        "aid": pa.array([index[f"a{i:03d}"] for i in range(15)], pa.int32()),
        "operator_id": pa.array([f"op{o}" for o in op_of], pa.string()),
    })
    ev = evidence_tables(t.con, model, members, top_operator=100, top_account=100)
    weights = dict(zip(*[c.to_pylist() for c in value_weights(t.con, model).columns]))
    vid = dict(t.con.execute("SELECT value, vid FROM vals").fetchall())
    sharing: dict[tuple[str, str, str], set[int]] = defaultdict(set)
    for a, k, v in links:
        if a < 15:
            sharing[(f"op{op_of[a]}", k, f"{k}{v}")].add(a)
    expected = {key: len(accs) for key, accs in sharing.items() if len(accs) >= 2}
    got = {}
    for op, text in ev.operators.items():
        for item in json.loads(text):
            got[(op, item["kind"], item["value"])] = item["members_sharing"]
            assert item["weight"] == round(weights[vid[item["value"]]], 3)
    assert got == expected


def test_identifier_weight_is_the_level_weight_of_the_fitted_model() -> None:
    from sybilgraph.attribution.comparisons import comparison, frequency_level, place_level
    from sybilgraph.attribution.evidence import identifier_weight

    model = _model()
    j = model.comparisons.index("payment")
    assert identifier_weight(model, "card", 3, 100_000) == float(model.weights()[j][frequency_level(comparison("payment"), "card", 3e-5)])
    p = model.comparisons.index("place")
    ip_level = place_level(frequency_level(comparison("place"), "ip", 0.01), None)
    assert identifier_weight(model, "ip", 100, 10_000) == float(model.weights()[p][ip_level])
    assert identifier_weight(model, "email_domain", 500, 10_000) == float(model.weights()[p][place_level(0, 0.05)])
    assert identifier_weight(model, "template", 5, 10_000) == 0.0  # compared through pools, not one by one
    assert identifier_weight(model, "card", 1, 10_000) == 0.0
