"""evaluate(): every metric on small cases whose expected numbers are worked out by hand."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from sybilgraph.evaluate import EvaluationResult, evaluate

# Ten accounts:
#   opA = {a1, a2, a3} (distillation), opB = {a4, a5} (distillation), a6 distillation standalone,
#   household hh1 = {h1, h2}, standalone s1, s2.
TRUTH = pd.DataFrame(
    {
        "account_id": ["a1", "a2", "a3", "a4", "a5", "a6", "h1", "h2", "s1", "s2"],
        "operator": ["opA", "opA", "opA", "opB", "opB", "", "hh1", "hh1", "", None],
        "is_distillation": [True] * 6 + [False] * 4,
    }
)

# Predicted: P1 = {a1, a2, s1 (a stranger)}, P2 = {a3}, P3 = {a4, a6}, P4 = {h1, h2}; a5 and s2
# unattributed; x9 is not in the truth.
EXPORT = pd.DataFrame(
    {
        "account_id": ["a1", "a2", "a3", "a4", "a6", "h1", "h2", "s1", "x9"],
        "operator_id": ["P1", "P1", "P2", "P3", "P3", "P4", "P4", "P1", "P9"],
        "operator_label": ["OP-KESTREL", "OP-KESTREL", "", "", "", "", "", "OP-KESTREL", ""],
        "confidence": [0.9] * 9,
        "campaign_score": [0.8] * 5 + [0.1, 0.1, 0.8, 0.8],
        "flagged": [True, True, True, True, True, False, False, True, True],
    }
)

LABELS = pd.DataFrame(
    {
        "account_id": ["a1", "a2", "a4", "a5", "s1", "zz"],
        "operator_label": ["OP-KESTREL", "OP-KESTREL", "OP-KESTREL", "OP-HERON", "OP-WREN", "OP-GHOST"],
        "source": ["case-1"] * 6,
    }
)


@pytest.fixture(scope="module")
def result() -> EvaluationResult:
    return evaluate(EXPORT, TRUTH, LABELS, method="hand", runtime_s=1.5)


def test_counts(result: EvaluationResult) -> None:
    assert result.method == "hand"
    assert result.runtime_s == 1.5
    assert result.n_accounts == 10
    assert result.n_attributed == 8  # a1 a2 a3 a4 a6 h1 h2 s1
    assert result.n_predicted_operators == 4  # P1..P4; P9 only holds the unknown x9
    assert result.n_export_unknown == 1


def test_flagging(result: EvaluationResult) -> None:
    f = result.flagging
    # flagged: a1 a2 a3 a4 a6 s1 -> TP 5 (a1 a2 a3 a4 a6), FP 1 (s1), FN 1 (a5)
    assert (f.n_flagged, f.true_positives, f.false_positives, f.false_negatives) == (6, 5, 1, 1)
    assert (f.n_positive, f.n_benign) == (6, 4)
    assert f.precision == pytest.approx(5 / 6)
    assert f.recall == pytest.approx(5 / 6)
    assert f.f1 == pytest.approx(5 / 6)
    assert f.benign_flagged_share == pytest.approx(1 / 4)


def test_recall_by_operator(result: EvaluationResult) -> None:
    # a6 has no true operator: it counts in the overall recall, in no operator's.
    got = {(r.operator, r.n_accounts, r.n_flagged, r.recall) for r in result.recall_by_operator}
    assert got == {("opA", 3, 3, 1.0), ("opB", 2, 1, 0.5)}
    assert result.mean_operator_recall == pytest.approx(0.75)
    assert result.min_operator_recall == 0.5


def test_fake_assignment(result: EvaluationResult) -> None:
    m = result.fake_assignment
    # universe a1..a6; true {a1,a2,a3} {a4,a5} {a6}; predicted {a1,a2} {a3} {a4,a6} {a5}
    assert m.n_accounts == 6
    assert m.true_pairs == 4  # C(3,2) + C(2,2)
    assert m.predicted_pairs == 2  # (a1,a2), (a4,a6)
    assert m.agreeing_pairs == 1  # (a1,a2)
    assert m.pair_precision == pytest.approx(1 / 2)
    assert m.pair_recall == pytest.approx(1 / 4)
    # E = 4*2/15 = 8/15, max = 3: (1 - 8/15) / (3 - 8/15) = 7/37
    assert m.ari == pytest.approx(7 / 37)


def test_operator_assignment_all_accounts(result: EvaluationResult) -> None:
    m = result.operator_assignment
    # true pairs: opA 3 + opB 1 + hh1 1 = 5; predicted: P1 {a1,a2,s1} 3 + P3 1 + P4 1 = 5
    # agreeing: (a1,a2), (h1,h2) = 2; the stranger s1 makes 2 false pairs in P1
    assert (m.n_accounts, m.true_pairs, m.predicted_pairs, m.agreeing_pairs) == (10, 5, 5, 2)
    assert m.pair_precision == pytest.approx(2 / 5)
    assert m.pair_recall == pytest.approx(2 / 5)
    # E = 5*5/45 = 5/9, max = 5: (2 - 5/9) / (5 - 5/9) = 13/40
    assert m.ari == pytest.approx(13 / 40)


def test_label_coverage(result: EvaluationResult) -> None:
    cov = {c.label: c for c in result.label_coverage}
    assert set(cov) == {"OP-GHOST", "OP-HERON", "OP-KESTREL", "OP-WREN"}
    k = cov["OP-KESTREL"]  # votes opA 2, opB 1 -> opA (3 accounts); a1 a2 carry it, s1 outside
    assert (k.true_operator, k.n_labelled, k.n_true_accounts, k.n_carrying, k.n_carrying_outside) == (
        "opA", 3, 3, 2, 1,
    )
    assert k.coverage == pytest.approx(2 / 3)
    h = cov["OP-HERON"]  # a5 -> opB (2 accounts), nobody carries it
    assert (h.true_operator, h.n_true_accounts, h.n_carrying, h.coverage) == ("opB", 2, 0, 0.0)
    w = cov["OP-WREN"]  # the labelled account stands alone: undefined
    assert (w.true_operator, w.n_labelled, w.coverage) == (None, 1, None)
    g = cov["OP-GHOST"]  # its account is not in the truth
    assert (g.n_labelled, g.true_operator, g.coverage) == (0, None, None)
    assert result.mean_label_coverage == pytest.approx((2 / 3 + 0.0) / 2)


def test_label_majority_tie_goes_to_first_operator_name() -> None:
    truth = pd.DataFrame(
        {"account_id": ["b1", "b2", "c1", "c2"], "operator": ["opB", "opB", "opA", "opA"],
         "is_distillation": [True] * 4}
    )
    labels = pd.DataFrame({"account_id": ["b1", "c1"], "operator_label": ["L", "L"]})
    export = pd.DataFrame(
        {"account_id": ["c1", "c2", "b1"], "operator_id": ["X", "X", "Y"],
         "operator_label": ["L", "L", "L"], "flagged": [True, True, True]}
    )
    (cov,) = evaluate(export, truth, labels).label_coverage
    assert (cov.true_operator, cov.n_carrying, cov.n_carrying_outside, cov.coverage) == ("opA", 2, 1, 1.0)


def test_json_round_trip(result: EvaluationResult) -> None:
    text = result.model_dump_json()
    data = json.loads(text)
    assert data["flagging"]["true_positives"] == 5
    assert EvaluationResult.model_validate_json(text) == result


def test_result_is_frozen(result: EvaluationResult) -> None:
    with pytest.raises(Exception):
        result.method = "other"  # type: ignore[misc]


# --------------------------------------------------------------------------- edge cases


def _empty_export() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=object) for c in
                         ("account_id", "operator_id", "operator_label", "confidence",
                          "campaign_score", "flagged")})


def test_nothing_flagged_precision_is_undefined() -> None:
    export = EXPORT.assign(flagged=False)
    f = evaluate(export, TRUTH).flagging
    assert f.n_flagged == 0
    assert f.precision is None  # 0/0: undefined, not 0
    assert f.recall == 0.0
    assert f.f1 == 0.0
    assert f.benign_flagged_share == 0.0


def test_empty_export_everything_unattributed() -> None:
    r = evaluate(_empty_export(), TRUTH, LABELS)
    assert r.n_attributed == 0 and r.n_predicted_operators == 0
    assert r.flagging.precision is None and r.flagging.recall == 0.0
    m = r.fake_assignment
    assert (m.true_pairs, m.predicted_pairs, m.agreeing_pairs) == (4, 0, 0)
    assert m.pair_precision is None and m.pair_recall == 0.0
    # sa = 4, sb = 0: (0 - 0) / (2 - 0) = 0
    assert m.ari == 0.0
    assert all(c.n_carrying == 0 for c in r.label_coverage)
    assert r.mean_operator_recall == 0.0


def test_no_distillation_in_truth() -> None:
    truth = TRUTH.assign(is_distillation=False)
    r = evaluate(EXPORT, truth)
    assert r.flagging.recall is None and r.flagging.precision == 0.0
    assert r.flagging.f1 == 0.0
    assert r.recall_by_operator == ()
    assert r.fake_assignment.n_accounts == 0
    assert r.fake_assignment.ari is None  # fewer than two accounts: undefined
    assert r.mean_operator_recall is None


def test_perfect_attribution() -> None:
    export = pd.DataFrame(
        {"account_id": TRUTH["account_id"], "operator_id": TRUTH["operator"].fillna(""),
         "operator_label": "", "confidence": 1.0, "campaign_score": 1.0,
         "flagged": TRUTH["is_distillation"]}
    )
    r = evaluate(export, TRUTH)
    assert r.flagging.precision == r.flagging.recall == r.flagging.f1 == 1.0
    assert r.fake_assignment.ari == 1.0 and r.operator_assignment.ari == 1.0
    assert r.operator_assignment.pair_precision == r.operator_assignment.pair_recall == 1.0
    # empty operator_id = unattributed
    assert r.n_attributed == 7


def test_empty_operator_ids_are_singletons_not_one_cluster() -> None:
    export = EXPORT.assign(operator_id=["", None, "", "", "", "", "", "", ""])
    r = evaluate(export, TRUTH)
    assert r.n_attributed == 0
    assert r.operator_assignment.predicted_pairs == 0


def test_text_flags_and_numeric_ids_from_csv() -> None:
    export = EXPORT.assign(flagged=["true", "True", "1", "yes", "TRUE", "false", "False", "t", ""])
    r = evaluate(export, TRUTH)
    assert r.flagging.true_positives == 5 and r.flagging.false_positives == 1
    truth = pd.DataFrame({"account_id": [1, 2, 3], "operator": ["o", "o", ""],
                          "is_distillation": [1, 1, 0]})
    exp = pd.DataFrame({"account_id": ["1", "2"], "operator_id": [7, 7], "flagged": [1, 0]})
    r2 = evaluate(exp, truth)
    assert r2.fake_assignment.ari == 1.0 and r2.flagging.true_positives == 1


def test_missing_flags_are_false() -> None:
    flags = pd.array([True, True, True, True, True, None, False, True, None], dtype="boolean")
    assert evaluate(EXPORT.assign(flagged=flags), TRUTH).flagging.n_flagged == 6
    text = pd.array(["true"] * 5 + [None, "false", "true", None], dtype="string")
    assert evaluate(EXPORT.assign(flagged=text), TRUTH).flagging.n_flagged == 6


def test_bad_flag_value_raises() -> None:
    with pytest.raises(ValueError, match="boolean"):
        evaluate(EXPORT.assign(flagged=["maybe"] * 9), TRUTH)


def test_arrow_inputs() -> None:
    r = evaluate(pa.Table.from_pandas(EXPORT), pa.Table.from_pandas(TRUTH), pa.Table.from_pandas(LABELS))
    assert r.fake_assignment.ari == pytest.approx(7 / 37)


def test_duplicate_export_rows_rejected() -> None:
    export = pd.concat([EXPORT, EXPORT.iloc[[0]]])
    with pytest.raises(ValueError, match="unique"):
        evaluate(export, TRUTH)


def test_missing_column_rejected() -> None:
    with pytest.raises(ValueError, match="flagged"):
        evaluate(EXPORT.drop(columns=["flagged"]), TRUTH)
    with pytest.raises(ValueError, match="is_distillation"):
        evaluate(EXPORT, TRUTH.drop(columns=["is_distillation"]))


def test_250k_accounts_cost_a_few_joins() -> None:
    """Evaluation is vectorised: at 250k accounts it costs a small multiple of one join and one
    group-by of the same frames, measured side by side (best of three each, so load on a shared
    machine does not decide; absolute times belong in benchmarks)."""
    rng = np.random.default_rng(1)
    n = 250_000
    ops = np.where(rng.random(n) < 0.3, np.char.add("op", rng.integers(0, 3000, n).astype(str)), "")
    truth = pd.DataFrame({"account_id": np.char.add("a", np.arange(n).astype(str)),
                          "operator": ops, "is_distillation": rng.random(n) < 0.2})
    keep = rng.random(n) < 0.6
    k = int(keep.sum())
    export = pd.DataFrame(
        {"account_id": truth["account_id"][keep].to_numpy(),
         "operator_id": np.char.add("p", rng.integers(0, 5000, k).astype(str)),
         "operator_label": np.where(rng.random(k) < 0.01, "OP-X", ""),
         "confidence": 1.0, "campaign_score": 0.5, "flagged": rng.random(k) < 0.3}
    )
    labels = pd.DataFrame({"account_id": truth["account_id"][:100], "operator_label": "OP-X"})

    def floor() -> None:
        joined = truth.merge(export, on="account_id", how="left")
        joined.groupby(["operator", "operator_id"], dropna=False).size()

    def best(f) -> float:  # type: ignore[no-untyped-def]
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            f()
            times.append(time.perf_counter() - t0)
        return min(times)

    r = evaluate(export, truth, labels)  # warm-up (imports, caches)
    assert r.n_accounts == n
    ratio = best(lambda: evaluate(export, truth, labels)) / best(floor)
    assert ratio < 25, f"evaluate costs {ratio:.1f}x one join and group-by"


def test_flagged_share_by_operator_names_each_open_customer() -> None:
    from sybilgraph.evaluate.metrics import flagged_share_by_operator

    truth = pd.DataFrame({
        "account_id": ["c1", "c2", "c3", "d1", "x1", "e1"],
        "operator": ["CUST-1", "CUST-1", "CUST-2", "DIST-A", None, "CUST-3"],
        "is_distillation": [False, False, False, True, False, False],
    })
    export = pd.DataFrame({
        "account_id": ["c1", "c2", "c3", "d1", "x1"],
        "operator_id": ["o1", "o1", "o2", "o3", "o3"],
        "flagged": ["true", "false", False, True, True],
    })
    assert flagged_share_by_operator(export, truth, "CUST-") == {"CUST-1": 0.5, "CUST-2": 0.0, "CUST-3": 0.0}
    assert flagged_share_by_operator(export, truth, "NONE-") == {}
