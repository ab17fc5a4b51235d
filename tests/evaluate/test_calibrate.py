"""calibrate's campaign-score fit: null groups of benign strangers (pure, no database)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sybilgraph.attribution.pipeline import null_group_features
from sybilgraph.attribution.pairs import build_pair_tables
from sybilgraph.attribution.params import AttributionParams
from sybilgraph.attribution.profiles import build_profiles
from sybilgraph.attribution.scoring import FEATURES
from sybilgraph.evaluate.calibrate import NULL_FAMILY, fit_score, leave_one_family_out, null_rows
from tests.attribution.world import World

PARAMS = AttributionParams()

CAMPAIGN = {"output_heavy": 0.6, "task_mix": 0.85, "volume": 1.0, "short_lived": 0.4, "round_the_clock": 0.3, "size": 0.7}
ORGANISATION = {"task_mix": 0.3, "business_week": 0.9, "shared_card": 0.8, "own_domain": 0.9, "size": 0.5}
# Heavy developers on one client: volume, coding and automation like an operator, but no
# harvesting (outputs not favoured), long-lived, each on their own card and domain.
DEVELOPERS = {"task_mix": 0.6, "volume": 1.0, "round_the_clock": 0.9, "api_only": 0.97, "owned_client": 1.0,
              "concealed_network": 0.65, "aged": 0.7, "size": 0.55}


def _row(family: str, campaign: bool, feats: dict[str, float], size: int, rng: np.random.Generator) -> dict[str, object]:
    noisy = {k: float(np.clip(feats.get(k, 0.0) + rng.normal(0, 0.05), 0, 1)) for k in FEATURES}
    return {"bundle": "b", "operator_id": f"{family}-{rng.integers(1e9)}", "members": size, "weight": float(size),
            "campaign": campaign, "family": family, **noisy}


def _training(with_null_developers: bool) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    rows = [_row(fam, True, CAMPAIGN, 200, rng) for fam in ("proxy_farm", "card_ring") for _ in range(10)]
    rows += [_row("benign:organisation", False, ORGANISATION, 30, rng) for _ in range(40)]
    nulls = [{"group_id": f"null:tls:{i}", "size": 12, "features": _row("x", False, DEVELOPERS, 12, rng)} for i in range(30)]
    if with_null_developers:
        rows += null_rows(nulls, "b", PARAMS.flag_min_accounts)
    return pd.DataFrame(rows)


def _score(model, feats: dict[str, float]) -> float:  # type: ignore[no-untyped-def]
    return model.score({k: feats.get(k, 0.0) for k in FEATURES})


def test_a_benign_family_attribution_never_grouped_in_training_is_flagged_without_null_groups() -> None:
    # The failure class: the operators attribution formed on the training draws hold no group of
    # developers, so the fit leans on volume and task mix and accuses the first such group.
    model = fit_score(_training(with_null_developers=False), PARAMS)
    assert _score(model, DEVELOPERS) >= PARAMS.flag_threshold


def test_null_groups_of_benign_strangers_keep_that_family_unflagged_and_campaigns_flagged() -> None:
    model = fit_score(_training(with_null_developers=True), PARAMS)
    assert _score(model, DEVELOPERS) < PARAMS.flag_threshold
    assert _score(model, CAMPAIGN) >= PARAMS.flag_threshold
    assert _score(model, ORGANISATION) < PARAMS.flag_threshold


def test_null_rows_are_negatives_of_their_own_family_weighed_once_each() -> None:
    groups = [{"group_id": "null:tls:3", "size": 400, "features": dict.fromkeys(FEATURES, 0.5)}]
    (row,) = null_rows(groups, "b", 10)
    assert row["family"] == NULL_FAMILY and row["campaign"] is False
    assert row["members"] == 400 and row["weight"] == 10.0
    assert set(FEATURES) <= set(row)


def test_leave_one_family_out_reports_the_null_family_like_any_other() -> None:
    lofo = leave_one_family_out(_training(with_null_developers=True), PARAMS)
    assert NULL_FAMILY in set(lofo["family"])
    assert set(lofo["family"]) == {"proxy_farm", "card_ring", "benign:organisation", NULL_FAMILY}
    held_out = lofo.set_index("family")["flagged_share"]
    assert held_out["proxy_farm"] == 1.0  # a campaign family the fit never saw is still caught


def test_null_groups_are_the_benign_users_of_each_compared_value() -> None:
    w = World()
    for i in range(14):  # developers on one client; two of them also share a card with a fake account
        w.account(f"d{i:02d}", created_day=-i * 30.0, hours="flat", n=500, api=1.0, cats={"coding": 400, "chat": 100})
        w.use(f"d{i:02d}", "tls", "tls-niche")
    for i in range(6):
        w.account(f"f{i}", created_day=100, hours="flat", n=900, api=1.0, cats={"reasoning": 900})
        w.use(f"f{i}", "tls", "tls-niche")
        w.use(f"f{i}", "card", "card-1")
    w.use("d00", "card", "card-1")
    for i in range(600):  # a population, so the niche client is no hub
        w.account(f"p{i:03d}", created_day=-i * 3.0, hours="day", n=50)
        w.use(f"p{i:03d}", "tls", f"browser-{i % 100}")
    ids = np.array(sorted(w.accounts), dtype=object)
    t = build_pair_tables(w.links(), w.account_table())
    try:
        profiles = build_profiles(w.account_table(), t.account_ids)
        benign = {a for a in ids if not str(a).startswith("f")}
        groups = null_group_features(t, profiles, benign, min_size=10)
    finally:
        t.con.close()
    # Only the niche client has >= 10 benign users; its group holds the 14 developers and none
    # of the fake accounts; the card (one benign user) and the browsers (6 users each) make none.
    assert [g["size"] for g in groups] == [14]
    (g,) = groups
    assert g["group_id"].startswith("null:tls:")
    assert set(g["features"]) == set(FEATURES)
    assert g["features"]["owned_client"] == 1.0
