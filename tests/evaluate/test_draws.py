"""Median and worst draw per method and metric, per-family recall, and their Markdown."""

from __future__ import annotations

from sybilgraph.evaluate.draws import (
    DrawScore,
    aggregate,
    every_operator_share,
    family_recall,
    render_draws,
)


def score(method: str, seed: int, precision: float | None, benign: float, recalls: dict[str, float],
          large_open: float = 0.0) -> DrawScore:
    families = {"OP-A": "careful", "OP-B": "vm-farm", "OP-C": "careful"}
    return DrawScore(
        method=method, seed=seed,
        metrics={"flag_precision": precision, "benign_flagged_share": benign, "ece": None,
                 "large_open_flagged": large_open},
        operator_recall=recalls, operator_family=families,
    )


SCORES = [
    score("sybilgraph", 1, 1.0, 0.0, {"OP-A": 1.0, "OP-B": 0.99}),
    score("sybilgraph", 2, 0.98, 0.001, {"OP-A": 0.5, "OP-C": 1.0}),
    score("sybilgraph", 3, 0.99, 0.0002, {"OP-B": 0.97}, large_open=1.0),
    score("splink", 1, 0.6, 0.05, {"OP-A": 0.0, "OP-B": 1.0}),
    score("splink", 2, None, 0.0, {"OP-A": 0.0}),  # nothing flagged: precision undefined
]


def test_median_and_worst_draw_per_method() -> None:
    agg = aggregate(SCORES)
    assert list(agg) == ["sybilgraph", "splink"]
    p = agg["sybilgraph"]["flag_precision"]
    assert (p.median, p.worst, p.worst_seed, p.n) == (0.99, 0.98, 2, 3)
    b = agg["sybilgraph"]["benign_flagged_share"]  # lower is better: worst is the highest
    assert (b.median, b.worst, b.worst_seed) == (0.0002, 0.001, 2)
    sp = agg["splink"]["flag_precision"]
    assert (sp.median, sp.worst, sp.worst_seed, sp.n) == (0.6, 0.6, 1, 1)  # undefined draw left out
    assert agg["splink"]["ece"].n == 0 and agg["splink"]["ece"].median is None
    assert agg["sybilgraph"]["large_open_flagged"].worst == 1.0


def test_ties_name_the_lowest_seed() -> None:
    agg = aggregate([score("m", 5, 0.9, 0.1, {}), score("m", 3, 0.9, 0.1, {}), score("m", 4, 1.0, 0.0, {})])
    assert agg["m"]["flag_precision"].worst_seed == 3
    assert agg["m"]["benign_flagged_share"].worst_seed == 3


def test_share_of_draws_where_every_operator_reaches_the_bound() -> None:
    share = every_operator_share(SCORES)
    assert share["sybilgraph"] == 2 / 3  # seed 2 has OP-A at 0.5
    assert share["splink"] == 0.0


def test_recall_per_family_pools_operators_over_draws() -> None:
    fam = family_recall(SCORES)
    assert list(fam) == ["careful", "vm-farm"]
    careful = fam["careful"]["sybilgraph"]  # OP-A 1.0 (seed 1), OP-A 0.5 (seed 2), OP-C 1.0 (seed 2)
    assert (careful.median, careful.worst, careful.worst_seed, careful.n) == (1.0, 0.5, 2, 3)
    assert fam["vm-farm"]["splink"].worst == 1.0 and "splink" in fam["careful"]


def test_render_shows_every_method_metric_and_family() -> None:
    md = render_draws(SCORES, "Random tradecraft, scale 0.02")
    assert md.startswith("### Random tradecraft, scale 0.02\n\n3 draws.")
    assert "| sybilgraph | 0.9900 / 0.9800 (seed 2) | n/a | 0.020% / 0.100% (seed 2) |" in md
    assert "| yes (seed 3) | 67% |" in md
    assert "| splink | 0.6000 / 0.6000 (seed 1) |" in md and "| never | 0% |" in md
    assert "| careful | 3 | 1.0000 / 0.5000 (seed 2) | 0.0000 / 0.0000 (seed 1) |" in md
    header = md.splitlines()[4]
    assert header.count("|") == md.splitlines()[5].count("|")  # header and rule agree


def test_draw_scores_carry_every_metric_of_every_method() -> None:
    import pandas as pd

    from sybilgraph.evaluate import evaluate
    from sybilgraph.evaluate.command import Evaluation
    from sybilgraph.evaluate.draws import DRAW_METRICS
    from sybilgraph.evaluate.matrix import draw_scores

    truth = pd.DataFrame({"account_id": ["a", "b", "c"], "operator": ["DIST-X", "DIST-X", "CUST-1"],
                          "is_distillation": [True, True, False]})
    export = pd.DataFrame({"account_id": ["a", "b"], "operator_id": ["o", "o"], "flagged": [True, True]})
    results = [evaluate(export, truth, method="sybilgraph"), evaluate(export, truth, method="splink")]
    ev = Evaluation(results, [], 0.01, "run", method_calibration_errors={"sybilgraph": 0.01, "splink": 0.2},
                    open_customers_flagged={"sybilgraph": {"CUST-1": 0.0}, "splink": {"CUST-1": 0.5}})
    scores = draw_scores(ev, seed=7, families={"DIST-X": "careful"})
    assert [s.method for s in scores] == ["sybilgraph", "splink"]
    assert set(scores[0].metrics) == {m.key for m in DRAW_METRICS} | {"all_pair_recall"}
    assert scores[0].metrics["large_open_flagged"] == 0.0 and scores[1].metrics["large_open_flagged"] == 1.0
    assert scores[1].metrics["ece"] == 0.2 and scores[0].operator_recall == {"DIST-X": 1.0}
    assert scores[0].operator_family == {"DIST-X": "careful"} and scores[0].seed == 7


def test_parse_draws_and_families(tmp_path) -> None:
    import json

    import pytest

    from sybilgraph.errors import ConfigError
    from sybilgraph.evaluate.calibrate import operator_families
    from sybilgraph.evaluate.matrix import parse_draws

    assert parse_draws("0.02:20, 0.2:5") == {0.02: 20, 0.2: 5}
    for bad in ("0.02", "0.02:x", "0.02:0", ""):
        with pytest.raises(ConfigError, match="--draws"):
            parse_draws(bad)
    (tmp_path / "generator.json").write_text(json.dumps(
        {"operators": [{"operator": "DIST-A", "family": "vm_farm"}, {"operator": "DIST-B"}]}))
    # The draws name families as calibrate does (one rule): an operator without one is its own.
    assert operator_families(tmp_path) == {"DIST-A": "vm_farm", "DIST-B": "DIST-B"}
    assert operator_families(tmp_path / "none") == {}


def test_render_draw_matrix_has_a_section_per_scale_with_its_lofo_table() -> None:
    import json

    import pandas as pd

    from sybilgraph.evaluate.matrix import DrawResults, draws_json, load_draws_json, render_draw_matrix

    lofo = pd.DataFrame([
        {"family": "benign:organisation", "campaign": False, "operators": 4, "accounts": 400, "flagged_share": 0.0},
        {"family": "vm_farm", "campaign": True, "operators": 3, "accounts": 900, "flagged_share": 1.0},
    ])
    results = DrawResults(scores={0.02: SCORES, 0.2: SCORES[:2]}, lofo={0.02: lofo})
    md = render_draw_matrix(results, "sybilgraph evaluate-matrix --draws 0.02:3,0.2:2")
    assert md.startswith("# Evaluation over random tradecraft")
    assert "### Scale 0.02\n\n3 draws." in md and "### Scale 0.2\n\n2 draws." in md
    assert "Splink" in md and "| flag precision >= 0.99 | " in md
    assert md.count("Leave-one-family-out") == 1  # only the scale that has a table
    assert "| benign:organisation | benign | 4 | 400 | 0.000 |" in md and "| vm_farm | campaign | 3 | 900 | 1.000 |" in md
    assert md.index("| vm_farm | campaign") < md.index("### Scale 0.2")
    saved = json.loads(draws_json(results))
    assert set(saved) == {"0.02", "0.2"} and saved["0.02"]["lofo"][1]["family"] == "vm_farm"
    assert saved["0.2"]["lofo"] == [] and saved["0.02"]["scores"][0]["method"] == "sybilgraph"
    assert render_draw_matrix(load_draws_json(draws_json(results)), "same") == render_draw_matrix(results, "same")


def test_worst_draw_against_the_bounds() -> None:
    from sybilgraph.evaluate.draws import render_bounds

    bounds = [("flag precision", "flag_precision", ">=", 0.99), ("benign flagged", "benign_flagged_share", "<=", 0.0005),
              ("ECE", "ece", "<=", 0.03), ("large open customer flagged", "large_open_flagged", "<=", 0.0)]
    lines = render_bounds(SCORES, bounds, every_operator_bound=0.95, rival="splink").splitlines()
    assert lines[0] == "| bound | sybilgraph: worst draw | splink: worst draw | sybilgraph ahead of splink |"
    assert lines[1].count("|") == lines[0].count("|")
    assert lines[2] == "| flag precision >= 0.99 | 0.9800 (seed 2) **missed** | 0.6000 (seed 1) **missed** | yes |"
    assert lines[3] == "| benign flagged <= 0.05% | 0.100% (seed 2) **missed** | 5.000% (seed 1) **missed** | yes |"
    assert lines[4] == "| ECE <= 0.03 | n/a | n/a | n/a |"
    assert lines[5] == ("| large open customer flagged <= 0 (never) | flagged (seed 3) **missed** | never met | **no** |")
    assert lines[6] == "| draws with every operator's recall >= 0.95 >= 95% | 67% **missed** | 0% **missed** | yes |"
    ok = render_bounds(SCORES[:1], [("flag precision", "flag_precision", ">=", 0.99)])
    assert ok.splitlines()[2] == "| flag precision >= 0.99 | 1.0000 (seed 1) met |"


def test_resume_keeps_the_draws_already_measured(tmp_path) -> None:
    from sybilgraph.evaluate.matrix import DrawResults, draws_json, load_draws_json, run_draws

    kept = load_draws_json(draws_json(DrawResults(scores={0.02: SCORES})))  # seeds 1-3 measured
    logged: list[str] = []
    out = run_draws(None, {0.02: 3}, tmp_path, resume=kept, log=logged.append)  # type: ignore[arg-type]
    assert out is kept and len(out.scores[0.02]) == len(SCORES) and logged == []


def _org_score(seed: int, trail: int, asserted: int, correct: int, quiet: int, quiet_asserted: int,
               decoys: int = 0, without_evidence: int = 0) -> DrawScore:
    from types import SimpleNamespace

    from sybilgraph.evaluate.draws import organisation_draw_metrics

    m = SimpleNamespace(
        n_trail=trail, n_trail_asserted=asserted, n_trail_correct=correct, n_no_trail=quiet,
        n_no_trail_asserted=quiet_asserted, n_decoy_top=decoys, n_hypotheses=trail + 1,
        n_hypotheses_without_evidence=without_evidence,
        precision=correct / asserted if asserted else None, recall=correct / trail if trail else None,
        no_trail_asserted_share=quiet_asserted / quiet if quiet else None,
    )
    return DrawScore(method="sybilgraph", seed=seed, metrics=organisation_draw_metrics(m))


def test_organisation_draws_pool_counts_against_the_bounds_and_name_the_worst_draw() -> None:
    from sybilgraph.evaluate.draws import render_organisation_draws

    scores = [_org_score(1, 3, 3, 3, 1, 0), _org_score(2, 4, 3, 2, 2, 0, without_evidence=1),
              _org_score(3, 2, 2, 2, 0, 0), score("splink", 1, 0.5, 0.0, {})]
    md = render_organisation_draws(scores)
    assert "| 2 | 4 | 3 | 2 | 0.667 | 0.500 | 2 | 0 | 0 | 5 | 1 |" in md  # draw 2's own row
    assert "| all | 9 | 8 | 7 | 0.875 (7/8) | 0.778 (7/9) | 3 | 0 | 0 | 12 | 1 |" in md
    assert "top-1 precision, operators with a trail >= 0.95 | 0.875 (7/8) | **missed** | 0.667 (seed 2) |" in md
    assert "asserted without a trail <= 2% | 0.000 (0/3) | met | 0.000 (seed 1) |" in md
    assert "decoy (shared cloud provider, webmail) as top hypothesis = 0 | 0 | met | none |" in md
    assert "name accounts and identifiers = 0 | 1 | **missed** | seeds 2 |" in md
    assert render_organisation_draws([score("sybilgraph", 1, 1.0, 0.0, {})]) == ""  # no organisation counts
    assert "Operators behind the misses" not in md  # no outcomes kept


def test_the_operators_behind_organisation_misses_are_named() -> None:
    from dataclasses import replace

    from sybilgraph.evaluate.draws import render_organisation_draws
    from sybilgraph.evaluate.matrix import DrawResults, draws_json, load_draws_json

    outcomes = [
        {"operator": "DIST-A", "organisation": "org_a", "trail": True, "detected_operator": "op-1", "asserted": None,
         "correct": False, "top": "org_a", "decoy_top": False},
        {"operator": "DIST-B", "organisation": "org_b", "trail": True, "detected_operator": "op-2", "asserted": "org_b",
         "correct": True, "top": "org_b", "decoy_top": False},
        {"operator": "DIST-C", "organisation": "org_c", "trail": False, "detected_operator": "op-3", "asserted": "org_x",
         "correct": False, "top": "org_x", "decoy_top": False},
    ]
    s = replace(_org_score(4, 2, 1, 1, 1, 1), organisation_outcomes=outcomes)
    s = load_draws_json(draws_json(DrawResults(scores={0.02: [s]}))).scores[0.02][0]  # kept in the JSON twin
    md = render_organisation_draws([s])
    assert "* seed 4, DIST-A: op-1 is unattributed (top hypothesis: org_a; true: org_a)" in md
    assert "* seed 4, DIST-C: its organisation left no trail, yet op-3 was attributed to org_x" in md
    assert "DIST-B" not in md


def test_sybilgraphs_draw_score_carries_the_organisation_counts() -> None:
    import pandas as pd

    from sybilgraph.evaluate import evaluate
    from sybilgraph.evaluate.command import Evaluation
    from sybilgraph.evaluate.matrix import draw_scores
    from sybilgraph.evaluate.metrics import organisation_metrics

    truth = pd.DataFrame({"account_id": ["a", "b"], "operator": ["DIST-X", "DIST-X"], "is_distillation": [True, True],
                          "organisation": ["org_1", "org_1"]})
    export = pd.DataFrame({"account_id": ["a", "b"], "operator_id": ["o", "o"], "flagged": [True, True],
                           "organisation_id": ["org_1", "org_1"]})
    manifest = [{"operator": "DIST-X", "organisation": {"reference": "org_1"}, "leaves_trail": True, "decoys": []}]
    hyps = [{"operator_id": "o", "org_id": "org_1", "rank": 1, "decision": None,
             "evidence_json": '[{"accounts": ["a"], "identifiers": ["card:4111"]}]'}]
    orgs = organisation_metrics(export, truth, manifest, hyps)
    ev = Evaluation([evaluate(export, truth, method="sybilgraph"), evaluate(export, truth, method="splink")],
                    [], None, "run", organisations=orgs)
    mine, theirs = draw_scores(ev, seed=3, families={})
    assert mine.metrics["org_trail_correct"] == 1.0 and mine.metrics["org_precision"] == 1.0
    assert mine.metrics["org_hypotheses"] == 1.0 and mine.metrics["org_hypotheses_without_evidence"] == 0.0
    assert "org_trail" not in theirs.metrics  # the baselines name no organisation
    assert [o["operator"] for o in mine.organisation_outcomes] == ["DIST-X"] and not theirs.organisation_outcomes


def test_without_baselines_only_sybilgraph_is_evaluated(tmp_path, monkeypatch) -> None:
    import pandas as pd

    from sybilgraph.evaluate import evaluate, matrix
    from sybilgraph.evaluate.calibrate import TrainingSet
    from sybilgraph.evaluate.command import Evaluation

    bundle = tmp_path / "random-s0.02-seed1"
    bundle.mkdir()
    (bundle / "truth.parquet").write_bytes(b"")  # generated already: not generated again
    truth = pd.DataFrame({"account_id": ["a"], "operator": ["DIST-X"], "is_distillation": [True]})
    export = pd.DataFrame({"account_id": ["a"], "operator_id": ["o"], "flagged": [True]})
    asked: list[bool] = []

    def fake_evaluate(db, path, baselines=False):  # type: ignore[no-untyped-def]
        asked.append(baselines)
        return Evaluation([evaluate(export, truth, method="sybilgraph")], [], None, "run")

    monkeypatch.setattr(matrix, "collect_training", lambda db, path, params: TrainingSet())
    monkeypatch.setattr(matrix, "evaluate_current", fake_evaluate)
    monkeypatch.setattr(matrix, "operator_families", lambda path: {})
    out = matrix.run_draws(None, {0.02: 1}, tmp_path, log=lambda _: None, baselines=False)  # type: ignore[arg-type]
    assert asked == [False] and [s.method for s in out.scores[0.02]] == ["sybilgraph"]
    assert "ahead of" not in matrix.render_draw_matrix(out, "cmd")  # no rival column without Splink
