"""The evaluation matrix renders what it measured, including failures (no database)."""

from __future__ import annotations

import pandas as pd

from sybilgraph.evaluate.command import Evaluation
from sybilgraph.evaluate.matrix import (
    BOUNDS,
    DRAW_ACCEPTANCE,
    MatrixRow,
    check_acceptance,
    draw_scores,
    render_matrix,
)
from sybilgraph.evaluate.metrics import evaluate
from sybilgraph.evaluate.stability import IdStability


def _evaluation() -> Evaluation:
    truth = pd.DataFrame(
        {"account_id": [f"a{i}" for i in range(12)],
         "operator": ["DIST-X"] * 10 + [None, None],
         "is_distillation": [True] * 10 + [False, False]}
    )
    export = pd.DataFrame(
        {"account_id": truth.account_id, "operator_id": ["op-1"] * 10 + ["", ""],
         "operator_label": [None] * 12, "confidence": [0.9] * 10 + [None, None],
         "campaign_score": [0.9] * 10 + [None, None], "flagged": [True] * 10 + [False, False]}
    )
    return Evaluation(results=[evaluate(export, truth, method="sybilgraph")], reliability=[],
                      calibration_error=None, run_id="run-x")


def test_matrix_shows_order_runs_growth_and_failed_bounds() -> None:
    good = {"flag_precision": 1.0, "flag_recall": 1.0, "min_operator_recall": 1.0, "benign_flagged_share": 0.0,
            "fake_ari": 1.0, "all_pair_precision": 1.0, "all_pair_recall": 1.0, "min_label_coverage": 1.0}
    row = MatrixRow(0.02, 1, _evaluation(), {"ingest": 1.0, "attribute": 2.0}, rerun_same_operator=1.0,
                    growth=IdStability(all_ids=0.99, true_operator_ids=1.0, flagged_ids=1.0,
                                       n_all=100, n_true_operator=90, n_flagged=5),
                    order_runs={"a": good, "b": {**good, "benign_flagged_share": 0.002}})
    md = render_matrix([row], "sybilgraph evaluate-matrix --yes")
    assert "| 0.02 | 1 | b | 1.0000 | 1.0000 | 1.0000 | 0.200% |" in md
    assert "NO: b: benign flagged" in md
    assert "1.0000 (90) / 1.0000 (5) / 0.9900 (100)" in md
    assert row.orders_meet_bounds() is False


def test_one_table_of_bounds_serves_both_evaluations() -> None:
    ev = _evaluation()
    [score] = draw_scores(ev, seed=1, families={})
    assert len({b.label for b in BOUNDS}) == len(BOUNDS)
    assert all(b.op in (">=", "<=") and (b.fixed, b.draws) != (None, None) for b in BOUNDS)
    # Every bound is on a metric its evaluation scores: the fixed seeds' check, the draws' worst.
    assert list(check_acceptance(ev.results[0])) == [b.label for b in BOUNDS if b.fixed is not None]
    assert {key for _, key, _, _ in DRAW_ACCEPTANCE} <= set(score.metrics)
