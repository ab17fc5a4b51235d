"""Campaign features and the fitted score (pure)."""

from __future__ import annotations

import numpy as np
import pytest

from sybilgraph.attribution import scoring
from sybilgraph.attribution.profiles import build_profiles
from tests.attribution.world import World


def _profiles(w: World):  # type: ignore[no-untyped-def]
    table = w.account_table()
    ids = np.array(sorted(w.accounts), dtype=object)
    return ids, build_profiles(table, ids)


def _world() -> World:
    w = World()
    for i in range(50):  # a campaign: created in one day, round the clock, API only, reasoning
        w.account(f"c{i:02d}", created_day=100 + i / 100, hours="flat", n=2_000, api=1.0, cats={"reasoning": 1_500, "chat": 500})
    for i in range(50):  # an open customer: seats over a year, office hours, web and API, chat
        w.account(f"e{i:02d}", created_day=i * 7.0, hours="day", n=400, api=0.5, cats={"chat": 300, "coding": 100})
    for i in range(200):
        w.account(f"p{i:03d}", created_day=-i * 3.0, hours="day", n=50)
    return w


def test_features_tell_a_campaign_from_an_open_customer() -> None:
    ids, p = _profiles(_world())
    base = scoring.population_baseline(p)
    pos = {a: i for i, a in enumerate(ids)}
    camp = scoring.operator_features(np.array([pos[f"c{i:02d}"] for i in range(50)]), p, base, {"template_pool": 0.9})
    open_ = scoring.operator_features(np.array([pos[f"e{i:02d}"] for i in range(50)]), p, base, {"shared_card": 0.9, "own_domain": 0.95})
    assert set(camp) == set(scoring.FEATURES)
    assert all(0.0 <= v <= 1.0 for v in [*camp.values(), *open_.values()])
    assert camp["creation_burst"] == 1.0 and open_["creation_burst"] < 0.1
    assert camp["round_the_clock"] > 0.9 and open_["round_the_clock"] == 0.0
    assert open_["business_week"] == 1.0 and camp["business_week"] == 0.0
    assert camp["api_only"] == 1.0 and camp["task_mix"] == pytest.approx(0.75)


def test_the_shipped_model_loads_and_scores_every_feature() -> None:
    model = scoring.load_score_model()
    assert set(model.coefficients) <= set(scoring.FEATURES)
    low = model.score(dict.fromkeys(scoring.FEATURES, 0.0))
    assert 0.0 < low < 1.0
    again = scoring.ScoreModel.from_json(model.to_json())
    assert again.score(dict.fromkeys(scoring.FEATURES, 0.5)) == pytest.approx(model.score(dict.fromkeys(scoring.FEATURES, 0.5)))
