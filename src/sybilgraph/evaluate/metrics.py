"""Score an attribution (the contract's export table) against the generator's ground truth.

Inputs (docs/data-contract.md):

* ``export``: one row per attributed account: ``account_id, operator_id, operator_label,
  confidence, campaign_score, flagged``. An account absent from the export is *unattributed*
  (no operator) and *unflagged*. An empty ``operator_id`` counts as absent.
* ``truth``: ``account_id, operator, is_distillation``; ``operator`` empty for an account that
  stands alone. The truth defines the account universe: export rows for accounts that are not in
  the truth are ignored and counted (``n_export_unknown``).
* ``labels``: ``account_id, operator_label[, source]``: what investigators knew beforehand.

Metrics (all computed from contingency tables, never by enumerating pairs):

Flagging (positive = ``truth.is_distillation``, predicted positive = ``export.flagged``)
    ``precision = TP / flagged``, ``recall = TP / distillation accounts``, ``f1``,
    ``benign_flagged_share = flagged benign accounts / benign accounts`` (the false-positive
    rate), and ``recall`` per true distillation operator (share of the operator's distillation
    accounts that are flagged).

Operator assignment among fake accounts (universe = accounts with ``is_distillation``)
    The adjusted Rand index (Hubert & Arabie, 1985) between the true operators and the predicted
    ``operator_id`` s, plus pairwise precision / recall. Unattributed accounts and accounts without
    a true operator are singletons.

Operator assignment among all accounts (households and organisations included)
    Universe = every account of the truth: the accounts of true multi-account operators (a
    non-empty ``truth.operator`` shared by >= 2 accounts: campaigns, households, organisations)
    *plus* every standalone account (empty operator, or an operator of one account), so that a
    stranger glued onto an operator makes false pairs. Over that universe:

    * true pairs = unordered pairs of accounts with the same non-empty ``truth.operator``;
    * predicted pairs = unordered pairs of accounts with the same non-empty ``operator_id``;
    * ``pair_precision = |true ∩ predicted| / |predicted|``,
      ``pair_recall = |true ∩ predicted| / |true|``.

    Only multi-account operators can form true pairs, so recall measures how well multi-account
    operators are kept together, and precision penalises both merging two operators and gluing
    standalone accounts onto one. The ARI over the same universe is reported too.

Label coverage
    For every investigator label L: the labelled accounts' true operator by majority (ties go to
    the operator name that sorts first; accounts without a true operator do not vote); coverage
    = share of that operator's accounts whose export ``operator_label`` is L.
    ``n_carrying_outside`` counts accounts carrying L that are *not* in that operator. A label
    whose accounts have no true operator (or are unknown to the truth) has coverage ``None``.

Undefined values (0 / 0: nothing flagged, no predicted pairs, no labelled account with a true
operator; the ARI of a universe of fewer than 2 accounts) are ``None`` (JSON ``null``, shown
"n/a"): the NaN choice, typed, so results stay comparable with ``==`` and valid JSON. A method
that flags nothing thus has precision n/a and recall 0, distinguishable from a method whose flags
are all wrong (precision 0). F1 is 0 when one of precision/recall is 0 or undefined and the other
defined; ``None`` only when both are undefined.

Pair counting: with ``a_i`` the true cluster sizes, ``b_j`` the predicted cluster sizes and
``n_ij`` the contingency table, true pairs A = Σ C(a_i, 2), predicted pairs B = Σ C(b_j, 2),
agreeing pairs J = Σ C(n_ij, 2) (singletons contribute nothing). With E = A·B / C(n, 2),
ARI = (J − E) / ((A + B) / 2 − E), evaluated in exact integer arithmetic; when the denominator
is 0 (only possible when both partitions are all singletons or both one cluster, i.e.
identical) ARI is 1.0.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from pydantic import BaseModel, ConfigDict

__all__ = [
    "PairCounts",
    "FlagMetrics",
    "OperatorRecall",
    "PairwiseMetrics",
    "LabelCoverage",
    "EvaluationResult",
    "pair_counts",
    "pair_counts_from_codes",
    "adjusted_rand_index",
    "evaluate",
    "flagged_share_by_operator",
    "OrganisationOutcome",
    "OrganisationMetrics",
    "organisation_metrics",
]

TRUTH_COLUMNS: tuple[str, ...] = ("account_id", "operator", "is_distillation")
EXPORT_REQUIRED: tuple[str, ...] = ("account_id", "operator_id", "flagged")
LABEL_COLUMNS: tuple[str, ...] = ("account_id", "operator_label")

_TRUE_STRINGS = frozenset({"true", "t", "1", "yes", "y"})
_FALSE_STRINGS = frozenset({"false", "f", "0", "no", "n", ""})


# --------------------------------------------------------------------------- result types


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FlagMetrics(_Frozen):
    """Account-level flagging: positive = true distillation account, predicted = flagged."""

    n_accounts: int
    n_positive: int  # true distillation accounts
    n_benign: int
    n_flagged: int
    true_positives: int
    false_positives: int
    false_negatives: int
    precision: float | None  # None when nothing is flagged
    recall: float | None  # None when there is no distillation account
    f1: float | None
    benign_flagged_share: float | None  # None when there is no benign account


class OperatorRecall(_Frozen):
    """Recall of one true distillation operator: its distillation accounts that are flagged."""

    operator: str
    n_accounts: int
    n_flagged: int
    recall: float


class PairwiseMetrics(_Frozen):
    """Agreement of two partitions of one account universe (see the module docstring)."""

    n_accounts: int
    true_pairs: int
    predicted_pairs: int
    agreeing_pairs: int
    pair_precision: float | None  # None when no pair is predicted
    pair_recall: float | None  # None when there is no true pair
    ari: float | None  # None when the universe has fewer than 2 accounts


class LabelCoverage(_Frozen):
    """How far one investigator label spread over its operator's accounts in the export."""

    label: str
    n_labelled: int  # accounts with the label in the labels table that the truth knows
    true_operator: str | None  # majority true operator of the labelled accounts
    n_true_accounts: int  # accounts of that operator
    n_carrying: int  # of which carry the label in the export
    n_carrying_outside: int  # accounts carrying the label in the export outside that operator
    coverage: float | None  # n_carrying / n_true_accounts; None without a true operator


class EvaluationResult(_Frozen):
    """Everything :func:`evaluate` measures; JSON via ``model_dump_json()``."""

    method: str
    runtime_s: float | None = None
    n_accounts: int  # accounts in the truth (the universe)
    n_attributed: int  # truth accounts with a non-empty predicted operator_id
    n_predicted_operators: int  # distinct operator_ids over truth accounts
    n_export_unknown: int  # export rows whose account is not in the truth (ignored)
    flagging: FlagMetrics
    recall_by_operator: tuple[OperatorRecall, ...]
    fake_assignment: PairwiseMetrics  # universe: distillation accounts
    operator_assignment: PairwiseMetrics  # universe: all accounts (see module docstring)
    label_coverage: tuple[LabelCoverage, ...]

    @property
    def mean_operator_recall(self) -> float | None:
        """Unweighted mean of the per-operator recalls (every campaign counts once)."""
        if not self.recall_by_operator:
            return None
        return float(np.mean([r.recall for r in self.recall_by_operator]))

    @property
    def min_operator_recall(self) -> float | None:
        if not self.recall_by_operator:
            return None
        return min(r.recall for r in self.recall_by_operator)

    @property
    def mean_label_coverage(self) -> float | None:
        """Unweighted mean of the defined label coverages."""
        vals = [c.coverage for c in self.label_coverage if c.coverage is not None]
        return float(np.mean(vals)) if vals else None


# --------------------------------------------------------------------------- pair counting


@dataclass(frozen=True)
class PairCounts:
    """Σ C(a_i,2), Σ C(b_j,2), Σ C(n_ij,2) and n for two partitions of n items."""

    n: int
    true_pairs: int
    predicted_pairs: int
    agreeing_pairs: int

    @property
    def precision(self) -> float | None:
        return _ratio(self.agreeing_pairs, self.predicted_pairs)

    @property
    def recall(self) -> float | None:
        return _ratio(self.agreeing_pairs, self.true_pairs)

    @property
    def ari(self) -> float:
        """Adjusted Rand index, exact integer arithmetic up to the final division."""
        total = self.n * (self.n - 1) // 2
        sa, sb, sab = self.true_pairs, self.predicted_pairs, self.agreeing_pairs
        numerator = 2 * (sab * total - sa * sb)
        denominator = (sa + sb) * total - 2 * sa * sb
        if denominator == 0:
            # Only when both partitions are all singletons or both a single cluster (or n < 2):
            # the partitions are then identical.
            return 1.0
        return numerator / denominator


def _comb2_sum(counts: np.ndarray) -> int:
    c = counts.astype(np.int64, copy=False)
    return int((c * (c - 1) // 2).sum())


def pair_counts_from_codes(true_codes: np.ndarray, pred_codes: np.ndarray) -> PairCounts:
    """Pair counts for two integer labelings of the same items; a code < 0 is a singleton.

    Codes need not be compact. Cost: O(n log n) (one sort of the joint codes), no pair is built.
    """
    t = np.asarray(true_codes, dtype=np.int64)
    p = np.asarray(pred_codes, dtype=np.int64)
    if t.shape != p.shape or t.ndim != 1:
        raise ValueError("true_codes and pred_codes must be 1-d arrays of the same length")
    n = int(t.size)
    t_in = t[t >= 0]
    p_in = p[p >= 0]
    sa = _comb2_sum(np.unique(t_in, return_counts=True)[1]) if t_in.size else 0
    sb = _comb2_sum(np.unique(p_in, return_counts=True)[1]) if p_in.size else 0
    both = (t >= 0) & (p >= 0)
    sab = 0
    if both.any():
        _, t_c = np.unique(t[both], return_inverse=True)
        _, p_c = np.unique(p[both], return_inverse=True)
        joint = t_c.astype(np.int64) * (int(p_c.max()) + 1) + p_c
        sab = _comb2_sum(np.unique(joint, return_counts=True)[1])
    return PairCounts(n=n, true_pairs=sa, predicted_pairs=sb, agreeing_pairs=sab)


def _codes(labels: Iterable[Any] | np.ndarray | pd.Series) -> np.ndarray:
    """Factorize arbitrary hashable labels; None / NaN / "" become singletons (-1)."""
    s = pd.Series(list(labels) if not isinstance(labels, (np.ndarray, pd.Series)) else labels)
    s = s.astype(object).where(s.notna(), None)
    s = s.map(lambda v: None if isinstance(v, str) and v.strip() == "" else v)
    codes, _ = pd.factorize(s, use_na_sentinel=True)
    return np.asarray(codes, dtype=np.int64)


def pair_counts(labels_true: Sequence[Any] | np.ndarray | pd.Series,
                labels_pred: Sequence[Any] | np.ndarray | pd.Series) -> PairCounts:
    """Pair counts of two labelings of the same items (None / NaN / "" label = singleton)."""
    return pair_counts_from_codes(_codes(labels_true), _codes(labels_pred))


def adjusted_rand_index(labels_true: Sequence[Any] | np.ndarray | pd.Series,
                        labels_pred: Sequence[Any] | np.ndarray | pd.Series) -> float:
    """Adjusted Rand index (Hubert & Arabie 1985); None / NaN / "" labels are singletons."""
    return pair_counts(labels_true, labels_pred).ari


def _ratio(num: int, den: int) -> float | None:
    return None if den == 0 else num / den


def _pairwise(true_codes: np.ndarray, pred_codes: np.ndarray) -> PairwiseMetrics:
    pc = pair_counts_from_codes(true_codes, pred_codes)
    return PairwiseMetrics(
        n_accounts=pc.n,
        true_pairs=pc.true_pairs,
        predicted_pairs=pc.predicted_pairs,
        agreeing_pairs=pc.agreeing_pairs,
        pair_precision=pc.precision,
        pair_recall=pc.recall,
        ari=pc.ari if pc.n >= 2 else None,
    )


# --------------------------------------------------------------------------- input handling


def _frame(table: pd.DataFrame | pa.Table, name: str, required: Sequence[str]) -> pd.DataFrame:
    df = table.to_pandas() if isinstance(table, pa.Table) else table
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{name}: expected a pandas DataFrame or a pyarrow Table")
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(f"{name}: missing required column(s) {', '.join(missing)}")
    return df


def _clean_str(s: pd.Series) -> pd.Series:
    """Stripped strings (pandas ``string`` dtype); missing or blank -> <NA>. Vectorised."""
    out = s.astype("string").str.strip()
    return out.mask((out == "").fillna(False))


def _ids(s: pd.Series) -> pd.Series:
    return s.astype("string").str.strip()


def _as_bool(s: pd.Series, name: str) -> np.ndarray:
    """Booleans from bool / int / "true"-"false" text (CSV round trips); missing -> False."""
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.fillna(False).to_numpy(dtype=bool)
    if pd.api.types.is_numeric_dtype(s.dtype):
        return (s.fillna(0).to_numpy() != 0)

    def conv(v: Any) -> bool:
        if v is None or v is pd.NA or (isinstance(v, float) and v != v):
            return False
        if isinstance(v, (bool, np.bool_)):
            return bool(v)
        if isinstance(v, (int, float, np.integer, np.floating)):
            return v != 0
        text = str(v).strip().lower()
        if text in _TRUE_STRINGS:
            return True
        if text in _FALSE_STRINGS:
            return False
        raise ValueError(f"{name}: cannot read {v!r} as a boolean")

    return np.fromiter((conv(v) for v in s.astype(object)), dtype=bool, count=len(s))


def _unique_index(ids: pd.Series, name: str) -> pd.Index:
    if ids.isna().any():
        raise ValueError(f"{name}: account_id has empty values")
    index = pd.Index(ids)
    if not index.is_unique:
        dup = index[index.duplicated()]
        raise ValueError(
            f"{name}: account_id must be unique; {len(dup)} duplicate(s), e.g. {dup[0]!r}"
        )
    return index


# --------------------------------------------------------------------------- evaluate


def evaluate(
    export_df: pd.DataFrame | pa.Table,
    truth_df: pd.DataFrame | pa.Table,
    labels_df: pd.DataFrame | pa.Table | None = None,
    *,
    method: str = "sybilgraph",
    runtime_s: float | None = None,
) -> EvaluationResult:
    """Score one attribution (export format) against the truth; see the module docstring.

    Raises ``ValueError`` for a missing required column or a duplicated ``account_id`` in the
    truth or the export (the contract has one export row per account).
    """
    truth = _frame(truth_df, "truth", TRUTH_COLUMNS)
    export = _frame(export_df, "export", EXPORT_REQUIRED)

    t_index = _unique_index(_ids(truth["account_id"]), "truth")
    e_index = _unique_index(_ids(export["account_id"]), "export")

    n = len(truth)
    is_fake = _as_bool(truth["is_distillation"], "truth.is_distillation")
    true_op = _clean_str(truth["operator"])
    true_codes, true_names = pd.factorize(true_op, use_na_sentinel=True)
    true_codes = np.asarray(true_codes, dtype=np.int64)

    # Align the export onto the truth's rows.
    pos = t_index.get_indexer(e_index)
    known = pos >= 0
    n_unknown = int((~known).sum())
    pos_k = pos[known]

    e_op = _clean_str(export["operator_id"]).to_numpy(dtype=object, na_value=None)[known]
    e_op_codes, _ = pd.factorize(e_op, use_na_sentinel=True)
    pred_codes = np.full(n, -1, dtype=np.int64)
    pred_codes[pos_k] = e_op_codes

    flagged = np.zeros(n, dtype=bool)
    flagged[pos_k] = _as_bool(export["flagged"], "export.flagged")[known]

    pred_label = np.full(n, None, dtype=object)
    if "operator_label" in export.columns:
        labels_out = _clean_str(export["operator_label"]).to_numpy(dtype=object, na_value=None)
        pred_label[pos_k] = labels_out[known]

    flagging = _flag_metrics(is_fake, flagged)
    per_op = _recall_by_operator(is_fake, flagged, true_codes, np.asarray(true_names, dtype=object))

    fake_assignment = _pairwise(true_codes[is_fake], pred_codes[is_fake])
    operator_assignment = _pairwise(true_codes, pred_codes)

    coverage: tuple[LabelCoverage, ...] = ()
    if labels_df is not None:
        labels = _frame(labels_df, "labels", LABEL_COLUMNS)
        coverage = _label_coverage(
            labels, t_index, true_codes, np.asarray(true_names, dtype=object), pred_label
        )

    attributed = pred_codes >= 0
    return EvaluationResult(
        method=method,
        runtime_s=runtime_s,
        n_accounts=n,
        n_attributed=int(attributed.sum()),
        n_predicted_operators=int(np.unique(pred_codes[attributed]).size),
        n_export_unknown=n_unknown,
        flagging=flagging,
        recall_by_operator=per_op,
        fake_assignment=fake_assignment,
        operator_assignment=operator_assignment,
        label_coverage=coverage,
    )


def _flag_metrics(is_fake: np.ndarray, flagged: np.ndarray) -> FlagMetrics:
    tp = int((is_fake & flagged).sum())
    fp = int((~is_fake & flagged).sum())
    fn = int((is_fake & ~flagged).sum())
    n_pos = int(is_fake.sum())
    n_ben = int(is_fake.size - n_pos)
    n_flag = tp + fp
    precision = _ratio(tp, n_flag)
    recall = _ratio(tp, n_pos)
    if precision is None and recall is None:
        f1: float | None = None
    elif not precision or not recall:  # either undefined or 0, the other defined
        f1 = 0.0
    else:
        f1 = 2 * precision * recall / (precision + recall)
    return FlagMetrics(
        n_accounts=int(is_fake.size),
        n_positive=n_pos,
        n_benign=n_ben,
        n_flagged=n_flag,
        true_positives=tp,
        false_positives=fp,
        false_negatives=fn,
        precision=precision,
        recall=recall,
        f1=f1,
        benign_flagged_share=_ratio(fp, n_ben),
    )


def _recall_by_operator(
    is_fake: np.ndarray, flagged: np.ndarray, true_codes: np.ndarray, true_names: np.ndarray
) -> tuple[OperatorRecall, ...]:
    sel = is_fake & (true_codes >= 0)
    if not sel.any():
        return ()
    k = len(true_names)
    total = np.bincount(true_codes[sel], minlength=k)
    hit = np.bincount(true_codes[sel & flagged], minlength=k)
    out = [
        OperatorRecall(
            operator=str(true_names[c]),
            n_accounts=int(total[c]),
            n_flagged=int(hit[c]),
            recall=float(hit[c] / total[c]),
        )
        for c in np.flatnonzero(total)
    ]
    return tuple(sorted(out, key=lambda r: r.operator))


def _label_coverage(
    labels: pd.DataFrame,
    truth_index: pd.Index,
    true_codes: np.ndarray,
    true_names: np.ndarray,
    pred_label: np.ndarray,
) -> tuple[LabelCoverage, ...]:
    lab = pd.DataFrame(
        {"account_id": _ids(labels["account_id"]), "label": _clean_str(labels["operator_label"])}
    ).dropna()
    lab = lab.drop_duplicates()
    lab["pos"] = truth_index.get_indexer(pd.Index(lab["account_id"]))
    known = lab["pos"].to_numpy() >= 0
    lab["op"] = -1
    lab.loc[known, "op"] = true_codes[lab["pos"].to_numpy()[known]]
    if lab.empty:
        return ()

    op_sizes = np.bincount(true_codes[true_codes >= 0], minlength=len(true_names))
    has_label = pd.notna(pred_label)
    carried = pd.DataFrame({"label": pred_label[has_label], "op": true_codes[has_label]})
    carried_total = carried.groupby("label").size().to_dict()
    carried_in = carried.groupby(["label", "op"]).size().to_dict()

    out: list[LabelCoverage] = []
    for label, grp in lab.groupby("label", sort=True):
        label = str(label)
        n_labelled = int((grp["pos"] >= 0).sum())
        votes = grp.loc[grp["op"] >= 0, "op"].value_counts()
        total_carrying = int(carried_total.get(label, 0))
        if votes.empty:
            out.append(
                LabelCoverage(
                    label=label,
                    n_labelled=n_labelled,
                    true_operator=None,
                    n_true_accounts=0,
                    n_carrying=0,
                    n_carrying_outside=total_carrying,
                    coverage=None,
                )
            )
            continue
        best = int(votes.max())
        op = min((int(c) for c, v in votes.items() if v == best), key=lambda c: str(true_names[c]))
        n_true = int(op_sizes[op])
        n_carry = int(carried_in.get((label, op), 0))
        out.append(
            LabelCoverage(
                label=label,
                n_labelled=n_labelled,
                true_operator=str(true_names[op]),
                n_true_accounts=n_true,
                n_carrying=n_carry,
                n_carrying_outside=total_carrying - n_carry,
                coverage=n_carry / n_true,
            )
        )
    return tuple(out)


def flagged_share_by_operator(
    export_df: pd.DataFrame | pa.Table, truth_df: pd.DataFrame | pa.Table, prefix: str
) -> dict[str, float]:
    """For every true operator whose name starts with ``prefix`` (``"CUST-"``: the generator's
    large open customers), the share of its accounts the export flags. An accusation of an
    open customer is the error a campaign score exists to avoid: any share above 0 counts."""
    truth = _frame(truth_df, "truth", TRUTH_COLUMNS)
    export = _frame(export_df, "export", EXPORT_REQUIRED)
    op = _clean_str(truth["operator"])
    mine = op.str.startswith(prefix).fillna(False).to_numpy(dtype=bool)
    if not mine.any():
        return {}
    flagged_ids = set(_ids(export["account_id"])[_as_bool(export["flagged"], "export.flagged")])
    frame = pd.DataFrame({
        "op": op[mine].to_numpy(dtype=object),
        "flagged": _ids(truth["account_id"])[mine].isin(flagged_ids).to_numpy(dtype=bool),
    })
    return {str(k): float(v) for k, v in frame.groupby("op")["flagged"].mean().sort_index().items()}


# --------------------------------------------------------------------------- organisations


class OrganisationOutcome(_Frozen):
    """What the organisation step said about one true distillation operator."""

    operator: str
    organisation: str  # the true organisation, as the data names it (org_id, else its name)
    trail: bool  # its organisation left a trail (generator leaks, or a label naming it)
    detected_operator: str | None  # the predicted operator holding most of its accounts, when it is that operator's majority
    asserted: str | None  # organisation asserted for the detected operator
    correct: bool
    top: str | None  # its top-ranked hypothesis, asserted or not
    decoy_top: bool  # the top hypothesis is one of its decoys (shared cloud provider, webmail)


class OrganisationMetrics(_Frozen):
    """Organisation attribution of the true distillation operators (``organisation_metrics``)."""

    n_trail: int
    n_trail_asserted: int
    n_trail_correct: int
    precision: float | None  # correct / asserted, among operators whose organisation left a trail
    recall: float | None  # correct / operators whose organisation left a trail
    n_no_trail: int
    n_no_trail_asserted: int
    no_trail_asserted_share: float | None
    n_decoy_top: int
    operators: tuple[OrganisationOutcome, ...]
    # Hypotheses of the run (every operator's, asserted or not) and those whose evidence does not
    # name both the accounts and the identifiers behind every tie (an analyst's confirmation
    # without ties is exempt); None when the hypotheses carried no evidence to check.
    n_hypotheses: int | None = None
    n_hypotheses_without_evidence: int | None = None


def _norm(text: object) -> str:
    return " ".join(str(text or "").split()).lower()


def organisation_metrics(
    export_df: pd.DataFrame | pa.Table,
    truth_df: pd.DataFrame | pa.Table,
    operators: Sequence[Any],
    hypotheses: Sequence[Any] = (),
    labels_df: pd.DataFrame | pa.Table | None = None,
    names: Any = None,
) -> OrganisationMetrics:
    """Score the organisations asserted for true distillation operators.

    ``operators``: the generator's manifest entries (``operator``, ``organisation.reference``,
    ``leaves_trail``, ``decoys``); ``hypotheses``: ``operator_id, org_id, rank`` of the run;
    ``names``: org_id -> name (an organisation no table lists is named, in truth and by
    attribution, by its name); ``labels``: a label naming an operator's organisation is a trail.
    A true operator is judged through the predicted operator holding most of its accounts, when
    it is also that operator's majority (an operator found only inside another is not
    attributed). Precision and recall are over operators whose organisation left a trail.
    """
    truth = _frame(truth_df, "truth", TRUTH_COLUMNS)
    export = _frame(export_df, "export", EXPORT_REQUIRED)
    names = dict(names or {})
    true_op = pd.Series(_clean_str(truth["operator"]).to_numpy(dtype=object, na_value=None), index=_ids(truth["account_id"]))
    pred = pd.Series(_clean_str(export["operator_id"]).to_numpy(dtype=object, na_value=None), index=_ids(export["account_id"]))
    org_col = export["organisation_id"] if "organisation_id" in export.columns else pd.Series([None] * len(export))
    asserted_of = dict(zip(pred.to_numpy(), _clean_str(org_col).to_numpy(dtype=object, na_value=None)))
    top_of = {str(h["operator_id"]): str(h["org_id"]) for h in hypotheses if int(h["rank"]) == 1}
    members = pd.DataFrame({"pred": pred, "true": true_op.reindex(pred.index).to_numpy()}).dropna()
    majority = members.groupby("pred")["true"].agg(lambda v: v.value_counts().index[0]).to_dict()
    label_orgs: dict[str, set[str]] = {}
    if labels_df is not None:
        labels = _frame(labels_df, "labels", ("account_id",))
        if "organisation" in labels.columns:
            for acc, org in zip(_ids(labels["account_id"]), labels["organisation"]):
                if _norm(org) and acc in true_op.index and true_op[acc]:
                    label_orgs.setdefault(str(true_op[acc]), set()).add(_norm(org))

    def same(org_id: str | None, reference: str) -> bool:
        return org_id is not None and _norm(reference) in {_norm(org_id), _norm(names.get(org_id))}

    out = []
    for op in operators:
        name, ref = str(op["operator"]), str(op["organisation"]["reference"])
        mine = members[members["true"] == name]["pred"].value_counts()
        det = str(mine.index[0]) if len(mine) and majority.get(mine.index[0]) == name else None
        asserted = asserted_of.get(det) if det else None
        top = top_of.get(det) if det else None
        decoys = [str(d["organisation"]) for d in op.get("decoys", [])]
        trail = bool(op.get("leaves_trail")) or _norm(ref) in label_orgs.get(name, set()) or _norm(names.get(ref)) in label_orgs.get(name, set())
        out.append(OrganisationOutcome(
            operator=name, organisation=ref, trail=trail, detected_operator=det, asserted=asserted,
            correct=same(asserted, ref), top=top, decoy_top=any(same(top, d) for d in decoys),
        ))
    trail_ops = [o for o in out if o.trail]
    quiet = [o for o in out if not o.trail]
    checked = [h for h in hypotheses if "evidence_json" in h]
    asserted_n = sum(o.asserted is not None for o in trail_ops)
    correct_n = sum(o.correct for o in trail_ops)
    quiet_asserted = sum(o.asserted is not None for o in quiet)
    return OrganisationMetrics(
        n_trail=len(trail_ops), n_trail_asserted=asserted_n, n_trail_correct=correct_n,
        precision=_ratio(correct_n, asserted_n), recall=_ratio(correct_n, len(trail_ops)),
        n_no_trail=len(quiet), n_no_trail_asserted=quiet_asserted, no_trail_asserted_share=_ratio(quiet_asserted, len(quiet)),
        n_decoy_top=sum(o.decoy_top for o in out), operators=tuple(out),
        n_hypotheses=len(checked) if checked else None,
        n_hypotheses_without_evidence=sum(not _names_its_evidence(h) for h in checked) if checked else None,
    )


def _names_its_evidence(hypothesis: Any) -> bool:
    """A hypothesis names the accounts and identifiers of every tie behind it (the issue's
    "an accusation needs evidence"); one an analyst confirmed stands on the decision."""
    evidence = json.loads(hypothesis.get("evidence_json") or "[]")
    if not evidence:
        return hypothesis.get("decision") == "confirmed"
    return all(e.get("accounts") and e.get("identifiers") for e in evidence)
