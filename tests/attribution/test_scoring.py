from __future__ import annotations

from sybilgraph.attribution import scoring


def _activity(**kw: float) -> scoring.AccountActivity:
    base = dict(created_at=0.0, per_active_day=10.0, output_ratio=1.0, task_share=0.2, quiet_share=0.02, n_interactions=100)
    base.update(kw)
    return scoring.AccountActivity(**base)  # type: ignore[arg-type]


BASE = scoring.PopulationBaseline(per_active_day=10.0, output_ratio=1.0)


def test_household_scores_low_and_campaign_high() -> None:
    household = [_activity(created_at=i * 90 * scoring.DAY_MS) for i in range(3)]
    campaign = [
        _activity(created_at=i * 60_000.0, per_active_day=400.0, output_ratio=4.0, task_share=0.9, quiet_share=0.3)
        for i in range(500)
    ]
    h = scoring.campaign_score(scoring.operator_features(household, BASE, 0.0, 0.0))
    c = scoring.campaign_score(scoring.operator_features(campaign, BASE, 0.9, 1.0))
    assert h < 0.05 < 0.95 < c


def test_features_are_in_unit_interval() -> None:
    feats = scoring.operator_features([_activity(per_active_day=1e9, output_ratio=1e9)], BASE, 3.0, -1.0)
    assert set(feats) == set(scoring.FEATURE_WEIGHTS)
    assert all(0.0 <= v <= 1.0 for v in feats.values())


def test_quiet_share_tells_sleepers_from_automation() -> None:
    sleeper = [0] * 168
    for day in range(7):
        for hour in range(8, 23):
            sleeper[day * 24 + hour] = 10
    flat = [10] * 168
    a = scoring.account_activity(0, 1, 1, 1, 0, 1, sleeper, [], [])
    b = scoring.account_activity(0, 1, 1, 1, 0, 1, flat, [], [])
    assert a.quiet_share == 0.0
    assert abs(b.quiet_share - 8 / 24) < 1e-9
