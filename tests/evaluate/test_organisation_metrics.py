"""Organisation metrics: trail precision and recall, assertions without a trail, decoys on top."""

from __future__ import annotations

import pandas as pd
import pytest

from sybilgraph.evaluate.metrics import organisation_metrics

TRUTH = pd.DataFrame({
    "account_id": [f"a{i}" for i in range(12)],
    "operator": ["T1"] * 4 + ["T2"] * 3 + ["T3"] * 3 + [None, None],
    "is_distillation": [True] * 10 + [False, False],
    "organisation": ["org_1"] * 4 + ["Unlisted Co"] * 3 + ["org_3"] * 3 + [None, None],
})
MANIFEST = [
    {"operator": "T1", "organisation": {"reference": "org_1"}, "leaves_trail": True, "decoys": [{"organisation": "org_cloud"}]},
    {"operator": "T2", "organisation": {"reference": "Unlisted Co"}, "leaves_trail": False, "decoys": [{"organisation": "org_mail"}]},
    {"operator": "T3", "organisation": {"reference": "org_3"}, "leaves_trail": False, "decoys": []},
]


def _export(orgs: dict[str, str]) -> pd.DataFrame:
    ops = ["P1"] * 4 + ["P2"] * 3 + ["P3"] * 3
    return pd.DataFrame({
        "account_id": [f"a{i}" for i in range(10)], "operator_id": ops, "flagged": True,
        "organisation_id": [orgs.get(op, "") for op in ops],
    })


def test_correct_assertions_on_trail_operators_and_none_elsewhere() -> None:
    m = organisation_metrics(_export({"P1": "org_1"}), TRUTH, MANIFEST,
                             hypotheses=[{"operator_id": "P1", "org_id": "org_1", "rank": 1}])
    assert (m.n_trail, m.n_trail_asserted, m.n_trail_correct) == (1, 1, 1)
    assert m.precision == 1.0 and m.recall == 1.0
    assert (m.n_no_trail, m.n_no_trail_asserted, m.no_trail_asserted_share) == (2, 0, 0.0)
    assert m.n_decoy_top == 0


def test_a_label_naming_the_organisation_is_a_trail_and_names_match_discovered_ids() -> None:
    labels = pd.DataFrame({"account_id": ["a4"], "operator_label": ["OP-2"], "organisation": ["unlisted co"]})
    m = organisation_metrics(_export({"P2": "Unlisted Co"}), TRUTH, MANIFEST, labels_df=labels)
    t2 = next(o for o in m.operators if o.operator == "T2")
    assert t2.trail and t2.correct
    assert m.n_trail == 2 and m.recall == 0.5


def test_wrong_or_unsupported_assertions_and_decoys_on_top_are_counted() -> None:
    hyps = [{"operator_id": "P1", "org_id": "org_cloud", "rank": 1}, {"operator_id": "P3", "org_id": "x", "rank": 1}]
    m = organisation_metrics(_export({"P1": "org_cloud", "P3": "org_other"}), TRUTH, MANIFEST, hypotheses=hyps,
                             names={"org_other": "Other"})
    assert m.precision == 0.0 and m.recall == 0.0
    assert m.n_no_trail_asserted == 1 and m.no_trail_asserted_share == pytest.approx(0.5)
    assert m.n_decoy_top == 1


def test_an_operator_found_only_inside_another_is_not_attributed() -> None:
    export = _export({"P1": "org_1"})
    export.loc[export["account_id"].isin(["a4", "a5", "a6"]), "operator_id"] = "P1"  # T2 merged into T1's operator
    m = organisation_metrics(export, TRUTH, MANIFEST)
    t2 = next(o for o in m.operators if o.operator == "T2")
    assert t2.detected_operator is None and t2.asserted is None


def test_calibration_pairs_match_the_organisation_of_most_members_by_id_or_name() -> None:
    from types import SimpleNamespace

    import numpy as np

    from sybilgraph.attribution.organisations import COMPARISON_NAMES, Candidates
    from sybilgraph.evaluate.calibrate import organisation_pairs
    from sybilgraph.evaluate.report import render_organisations

    levels = np.zeros((3, len(COMPARISON_NAMES)), dtype=np.int64)
    cands = Candidates(["X", "X", "Y"], ["org_a", "Beta Corp", "org_a"], levels, [{}, {}, {}])
    orgs = SimpleNamespace(candidates=cands, names={"org_a": "Alpha Labs", "Beta Corp": "Beta Corp"})
    members = pd.DataFrame({"account_id": ["x1", "x2", "x3", "y1", "y2"], "operator_id": ["X", "X", "X", "Y", "Y"]})
    # X: two of three members are Alpha's (named in truth by name); Y: one of two, the other none.
    truth = pd.DataFrame({"organisation": ["Alpha Labs", "alpha labs", "Beta Corp", "org_a", ""]},
                         index=["x1", "x2", "x3", "y1", "y2"])
    pairs = organisation_pairs(orgs, members, truth)
    assert list(pairs.columns) == ["operator_id", "org_id", *COMPARISON_NAMES, "campaign", "match"]
    assert pairs["match"].tolist() == [True, False, True]  # Y: half its members is enough

    m = organisation_metrics(_export({"P1": "org_1"}), TRUTH, MANIFEST)
    text = str(render_organisations(m).title)
    assert "trail precision" in text and "decoy as top hypothesis" in text


def test_every_hypothesis_must_name_the_accounts_and_identifiers_of_its_ties() -> None:
    full = '[{"accounts": ["a0"], "identifiers": ["card:411111******1111"]}]'
    hyps = [
        {"operator_id": "P1", "org_id": "org_1", "rank": 1, "decision": None, "evidence_json": full},
        {"operator_id": "P1", "org_id": "org_x", "rank": 2, "decision": None,
         "evidence_json": '[{"accounts": ["a1"], "identifiers": []}]'},  # an identifier missing
        {"operator_id": "P3", "org_id": "org_3", "rank": 1, "decision": None, "evidence_json": "[]"},  # no evidence
        {"operator_id": "P2", "org_id": "org_y", "rank": 1, "decision": "confirmed", "evidence_json": "[]"},  # analyst
    ]
    m = organisation_metrics(_export({"P1": "org_1"}), TRUTH, MANIFEST, hypotheses=hyps)
    assert (m.n_hypotheses, m.n_hypotheses_without_evidence) == (4, 2)
    unchecked = organisation_metrics(_export({"P1": "org_1"}), TRUTH, MANIFEST,
                                     hypotheses=[{"operator_id": "P1", "org_id": "org_1", "rank": 1}])
    assert unchecked.n_hypotheses is None and unchecked.n_hypotheses_without_evidence is None


def test_the_organisation_model_is_checked_on_families_and_bundles_it_was_not_fitted_on() -> None:
    import numpy as np

    from sybilgraph.attribution.organisations import COMPARISON_NAMES, tie_level
    from sybilgraph.evaluate.calibrate import organisation_held_out, organisation_held_out_markdown

    domain = COMPARISON_NAMES.index("domain")
    rows, operators = [], []
    for b in ("b1", "b2", "b3"):
        for k, fam in enumerate(("careful", "vm_farm", "careful")):
            op = f"{b}-op{k}"
            operators.append({"bundle": b, "operator_id": op, "family": fam})
            for org, level, match in ((f"org_{op}", tie_level(0.0005, 6, 10, True), True),  # its lab's rare domain
                                      ("gmail", tie_level(0.3, 9, 10, True), False)):  # webmail: everyone's
                levels = np.zeros(len(COMPARISON_NAMES), dtype=int)
                levels[domain] = level
                rows.append({"operator_id": op, "org_id": org, **dict(zip(COMPARISON_NAMES, levels)), "match": match, "bundle": b})
    table = organisation_held_out(pd.DataFrame(rows), pd.DataFrame(operators))
    assert table.iloc[0]["held_out"] == "all (in sample)" and table.iloc[0]["reachable"] == 9
    assert set(table.loc[table["kind"] == "family", "held_out"]) == {"careful", "vm_farm"}
    assert set(table.loc[table["kind"] == "bundle", "held_out"]) == {"b1", "b2", "b3"}
    fam = table[table["kind"] == "family"].set_index("held_out")
    assert fam.loc["careful", "reachable"] == 6 and fam.loc["vm_farm", "reachable"] == 3
    assert (table["correct"] <= table["asserted"]).all() and (table["correct"] == table["asserted"]).all()  # gmail never wins
    md = "\n".join(organisation_held_out_markdown(table))
    assert "| family vm_farm | 3 |" in md and "each bundle in turn (3;" in md
