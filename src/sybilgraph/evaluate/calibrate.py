"""``sybilgraph calibrate``: fit the campaign score and the confidence calibration on generated truth.

Both are fitted, never set by hand, on bundles with known truth (generated with randomized
tradecraft, so no family of operator is what the fit is tuned to):

* **campaign score**: logistic regression (L2, scikit-learn) of "this operator is a distillation
  campaign" on the operator features of ``attribution.scoring``, over the operators attribution
  found with at least ``flag_min_accounts`` members, each weighted by its size (the acceptance
  metrics count accounts, not operators), and over **null groups**: for every identifier value
  the pair model can link on, its benign users (by truth) as one group, a negative. Attribution
  fuses only some benign families on the training draws (at scale 0.02 it never fused heavy
  developers on a niche client; at 0.2 it did, and the score flagged them); the null groups
  put every group of strangers that shares one thing before the fit, so the score learns what
  separates harvesting from any benign crowd rather than from the crowds one scale happens to
  fuse;
* **confidence**: Platt scaling of each placed account's membership log-odds against "the
  account's true operator is its operator's majority true operator";
* **organisation model** (``attribution.organisations``): ``m`` and the pooled ``u`` of the
  organisation step's comparison levels, from the (operator, organisation) candidates of every
  bundle, a candidate being a match when the organisation is the majority ``truth.organisation``
  of the operator's members.

Leave-one-family-out: the score is fitted again without each tradecraft family (every operator of
that family in every bundle left out) and scored on that family alone: the share of its
accounts flagged (distillation families) or flagged wrongly (benign families). A family the fit
never saw must still be caught, or the score was fitted to the families, not to concealment.
The organisation model is checked the same way (``organisation_held_out``): fitted without one
family's (operator, organisation) candidates, then every bundle scored as a run scores it and
that family's top-1 assertions counted; and fitted without one bundle, scored on it alone.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sybilgraph.attribution import AttributionParams, run_attribution
from sybilgraph.attribution.calibration import Calibration
from sybilgraph.attribution.organisations import (
    COMPARISON_NAMES,
    Candidates,
    OrganisationModel,
    fit_organisation_model,
    hypotheses,
    score_candidates,
)
from sybilgraph.attribution.scoring import FEATURES, ScoreModel
from sybilgraph.db.admin import reset
from sybilgraph.db.session import Database
from sybilgraph.errors import SybilgraphError
from sybilgraph.evaluate.command import load_truth
from sybilgraph.ingest import ingest_bundle

__all__ = [
    "CalibrationReport",
    "TrainingSet",
    "collect_training",
    "fit_confidence",
    "fit_models",
    "fit_score",
    "leave_one_family_out",
    "lofo_markdown",
    "null_rows",
    "operator_families",
    "organisation_held_out",
    "organisation_held_out_markdown",
]


@dataclass
class TrainingSet:
    """Operators (features, truth, family, members) and placed accounts (log-odds, correct)."""

    operators: pd.DataFrame = field(default_factory=pd.DataFrame)
    accounts: pd.DataFrame = field(default_factory=pd.DataFrame)
    # (operator, organisation) candidates: bundle, one column of levels per comparison, match.
    organisation_pairs: pd.DataFrame = field(default_factory=pd.DataFrame)

    def extend(self, other: TrainingSet) -> None:
        self.operators = pd.concat([self.operators, other.operators], ignore_index=True)
        self.accounts = pd.concat([self.accounts, other.accounts], ignore_index=True)
        self.organisation_pairs = pd.concat([self.organisation_pairs, other.organisation_pairs], ignore_index=True)


# Benign true operators are named by what they are (the generator's truth names).
BENIGN_PREFIXES = {"HH": "household", "ORG": "organisation", "CUST": "open_customer"}


def operator_families(bundle: Path) -> dict[str, str]:
    """True operator name -> tradecraft family, from the generator's manifest when it says
    (random tradecraft), else the operator's own name (one family each)."""
    manifest = bundle / "generator.json"
    out: dict[str, str] = {}
    if manifest.is_file():
        data = json.loads(manifest.read_text())
        for op in data.get("operators", []):
            name = op.get("operator") or op.get("truth") if isinstance(op, dict) else None
            if name:
                out[str(name)] = str(op.get("family") or name)
    return out


def family_of(true_operator: str | None, families: dict[str, str]) -> str:
    if not true_operator:
        return "strangers"
    if true_operator in families:
        return families[true_operator]
    return BENIGN_PREFIXES.get(true_operator.split("-")[0], true_operator)


def collect_training(db: Database, bundle: Path, params: AttributionParams) -> TrainingSet:
    """Empty the database, ingest ``bundle``, attribute it, and pair what was found with the truth."""
    reset(db)
    ingest_bundle(bundle, db.settings, db)
    truth, _labels = load_truth(bundle)
    truth = truth.set_index("account_id")
    fake = truth["is_distillation"].astype(bool)
    result = run_attribution(db, params, keep_details=True, null_accounts=set(truth.index[~fake].astype(str)))
    assert result.details is not None
    op_of = truth["operator"].where(truth["operator"].notna() & (truth["operator"] != ""), None)
    families = operator_families(bundle)
    members = pd.DataFrame(result.details["members"])
    members = members[members["account_id"].isin(truth.index)]
    members["true_operator"] = op_of.reindex(members["account_id"]).to_numpy()
    members["fake"] = fake.reindex(members["account_id"]).to_numpy()
    majority = members.dropna(subset=["true_operator"]).groupby("operator_id")["true_operator"].agg(lambda s: Counter(s).most_common(1)[0][0])
    members["majority"] = members["operator_id"].map(majority)
    members["correct"] = (members["true_operator"] == members["majority"]) & members["true_operator"].notna()
    fake_share = members.groupby("operator_id")["fake"].mean()
    rows = []
    for op in result.details["operators"]:
        oid = op["operator_id"]
        fam = family_of(majority.get(oid), families)
        if not fake_share.get(oid, 0.0) > 0.5:
            fam = f"benign:{fam}"
        rows.append({
            "bundle": str(bundle), "operator_id": oid, "members": op["size"], "weight": float(op["size"]),
            "campaign": bool(fake_share.get(oid, 0.0) > 0.5), "family": fam,
            **{k: float(op["features"].get(k, 0.0)) for k in FEATURES},
        })
    rows.extend(null_rows(result.details.get("null_groups", []), str(bundle), params.flag_min_accounts))
    accounts = members[["account_id", "operator_id", "log_odds", "correct"]].assign(bundle=str(bundle))
    pairs = organisation_pairs(result.details["organisations"], members, truth)
    return TrainingSet(pd.DataFrame(rows), accounts.reset_index(drop=True), pairs.assign(bundle=str(bundle)))


NULL_FAMILY = "benign:null"


def null_rows(groups: Sequence[dict[str, Any]], bundle: str, weight: float) -> list[dict[str, Any]]:
    """Training rows of the null groups (``attribution.pipeline.null_group_features``): benign
    strangers sharing one value, negatives of their own family.

    Each weighs ``weight`` (calibrate passes the smallest group a run flags), not its size as an
    operator does: null groups overlap (every benign account is in one per value it uses), so
    by size one account would count once per value; each is one possible false group, counted
    once, at the smallest size that could be accused."""
    return [
        {"bundle": bundle, "operator_id": g["group_id"], "members": int(g["size"]), "weight": float(weight),
         "campaign": False, "family": NULL_FAMILY, **{k: float(g["features"].get(k, 0.0)) for k in FEATURES}}
        for g in groups
    ]


def organisation_pairs(orgs: Any, members: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """The run's (operator, organisation) candidates with their levels, a match when the
    organisation is the true one of at least half the operator's members (by org_id or name)."""
    cands = orgs.candidates
    if cands is None or not len(cands) or "organisation" not in truth.columns:
        return pd.DataFrame(columns=["operator_id", "org_id", *COMPARISON_NAMES, "campaign", "match"])
    name = truth["organisation"].astype(str).str.strip().str.lower()  # truth may name one organisation two ways
    org = name.where(truth["organisation"].notna() & (name != ""))
    members = members.assign(org=org.reindex(members["account_id"]).to_numpy())
    sizes = members.groupby("operator_id").size()
    top = members.dropna(subset=["org"]).groupby("operator_id")["org"].agg(lambda v: v.value_counts().index[0])
    top_n = members.dropna(subset=["org"]).groupby("operator_id")["org"].agg(lambda v: int(v.value_counts().iloc[0]))
    true_org = {op: str(o) for op, o in top.items() if 2 * top_n[op] >= sizes[op]}
    names = orgs.names
    frame = pd.DataFrame(cands.levels, columns=list(COMPARISON_NAMES))
    frame.insert(0, "org_id", list(cands.org_id))
    frame.insert(0, "operator_id", list(cands.operator_id))
    frame["campaign"] = cands.campaigns()
    frame["match"] = [
        true_org.get(op) in {org_id.strip().lower(), names.get(org_id, "").strip().lower()}
        for op, org_id in zip(cands.operator_id, cands.org_id)
    ]
    return frame


def _decision_population(ops: pd.DataFrame, params: AttributionParams) -> pd.DataFrame:
    return ops[ops["members"] >= params.flag_min_accounts]


def fit_score(ops: pd.DataFrame, params: AttributionParams, fitted_on: dict[str, Any] | None = None) -> ScoreModel:
    """Weighted L2 logistic regression of ``campaign`` on the features (operators by size, null
    groups as :func:`null_rows` says)."""
    from sklearn.linear_model import LogisticRegression

    data = _decision_population(ops, params)
    if data["campaign"].nunique() < 2:
        raise SybilgraphError("calibration needs both campaigns and benign groups of at least "
                              f"{params.flag_min_accounts} accounts among the operators found")
    x = data[list(FEATURES)].to_numpy(dtype=float)
    y = data["campaign"].to_numpy(dtype=int)
    model = LogisticRegression(C=1.0, max_iter=2_000)
    model.fit(x, y, sample_weight=data["weight"].to_numpy(dtype=float))
    coef = {k: round(float(c), 6) for k, c in zip(FEATURES, model.coef_[0])}
    return ScoreModel(coefficients=coef, intercept=round(float(model.intercept_[0]), 6), fitted_on=fitted_on or {})


def fit_confidence(accounts: pd.DataFrame) -> Calibration:
    """Platt scaling of membership log-odds (bits) against correctness."""
    from sklearn.linear_model import LogisticRegression

    y = accounts["correct"].to_numpy(dtype=int)
    if len(np.unique(y)) < 2:
        return Calibration(1.0, 0.0)
    x = (accounts["log_odds"].to_numpy(dtype=float) * math.log(2)).reshape(-1, 1)
    model = LogisticRegression(C=1e6, max_iter=1_000)
    model.fit(x, y)
    return Calibration(a=round(float(model.coef_[0][0]), 6), b=round(float(model.intercept_[0]), 6))


def leave_one_family_out(ops: pd.DataFrame, params: AttributionParams) -> pd.DataFrame:
    """Per family: fit without it, score it; share of its accounts flagged."""
    data = _decision_population(ops, params)
    rows = []
    for family in sorted(data["family"].unique()):
        train = data[data["family"] != family]
        test = data[data["family"] == family]
        if train["campaign"].nunique() < 2:
            continue
        model = fit_score(train, params)
        scores = np.array([model.score(dict(zip(FEATURES, r))) for r in test[list(FEATURES)].to_numpy(dtype=float)])
        flagged = scores >= params.flag_threshold
        sizes = test["members"].to_numpy(dtype=float)
        rows.append({
            "family": family,
            "campaign": bool(test["campaign"].mean() > 0.5),
            "operators": len(test),
            "accounts": int(sizes.sum()),
            "flagged_share": float((sizes * flagged).sum() / max(sizes.sum(), 1.0)),
        })
    return pd.DataFrame(rows)


def _fit_organisations(pairs: pd.DataFrame, fitted_on: dict[str, Any] | None = None) -> OrganisationModel:
    """The organisation model on training candidates (an operator is one of one bundle)."""
    operators = (pairs["bundle"].astype(str) + "\x00" + pairs["operator_id"].astype(str)).tolist() if "bundle" in pairs else None
    return fit_organisation_model(pairs[list(COMPARISON_NAMES)].to_numpy(dtype=int), pairs["match"].to_numpy(dtype=bool),
                                  fitted_on=fitted_on, operators=operators, campaign=_campaign(pairs))


def _campaign(pairs: pd.DataFrame) -> np.ndarray:
    return pairs["campaign"].to_numpy(dtype=bool) if "campaign" in pairs else np.zeros(len(pairs), dtype=bool)


def _top1(pairs: pd.DataFrame, model: OrganisationModel) -> pd.DataFrame:
    """Per operator of one bundle's candidates: whether an organisation is asserted, whether it is
    the true one, and whether the true one is among the candidates at all (a run's scoring: the
    bundle's own u by EM with the model's m, then the Bayes decision at the model's threshold)."""
    cands = Candidates(pairs["operator_id"].astype(str).tolist(), pairs["org_id"].astype(str).tolist(),
                       pairs[list(COMPARISON_NAMES)].to_numpy(dtype=np.int64), [{} for _ in range(len(pairs))],
                       campaign=_campaign(pairs))
    fs, scores, prior_odds = score_candidates(cands, model)
    asserted = {h.operator_id: h.org_id for h in hypotheses(cands, fs, scores, model.threshold, prior_odds=prior_odds) if h.asserted}
    true_org = pairs[pairs["match"].astype(bool)].groupby("operator_id")["org_id"].agg(lambda v: set(map(str, v)))
    ops = pairs["operator_id"].astype(str).unique()
    return pd.DataFrame({
        "operator_id": ops,
        "reachable": [op in true_org.index for op in ops],
        "asserted": [op in asserted for op in ops],
        "correct": [op in asserted and asserted[op] in true_org.get(op, set()) for op in ops],
    })


def organisation_held_out(pairs: pd.DataFrame, operators: pd.DataFrame) -> pd.DataFrame:
    """The organisation model on candidates it was not fitted on: per tradecraft family (fitted
    without that family's candidates, every bundle scored as a run scores it, that family's
    operators counted) and per bundle (fitted without the bundle, scored on it); a first row
    "all (in sample)" fits and scores everything. ``pairs``: :func:`organisation_pairs` with a
    ``bundle`` column; ``operators``: the training operators (bundle, operator_id, family).
    Counts: operators whose true organisation is a candidate (``reachable``), asserted ones,
    correct ones; precision = correct / asserted, recall = correct / reachable."""
    if not len(pairs) or not pairs["match"].any():
        return pd.DataFrame(columns=["held_out", "kind", "reachable", "asserted", "correct", "precision", "recall"])
    family = operators.set_index(["bundle", "operator_id"])["family"].to_dict()
    pairs = pairs.assign(family=[family.get((b, o), "unknown") for b, o in zip(pairs["bundle"], pairs["operator_id"])])
    rows: list[dict[str, Any]] = []

    def score(held: str, kind: str, model: OrganisationModel, bundles: Any, keep: Any) -> None:
        outcome = pd.concat([_top1(pairs[pairs["bundle"] == b], model).assign(bundle=b) for b in bundles], ignore_index=True)
        outcome = outcome[[keep(b, o) for b, o in zip(outcome["bundle"], outcome["operator_id"])]]
        reach, asserted, correct = int(outcome["reachable"].sum()), int(outcome["asserted"].sum()), int(outcome["correct"].sum())
        rows.append({"held_out": held, "kind": kind, "reachable": reach, "asserted": asserted, "correct": correct,
                     "precision": correct / asserted if asserted else None, "recall": correct / reach if reach else None})

    bundles = list(dict.fromkeys(pairs["bundle"]))
    score("all (in sample)", "none", _fit_organisations(pairs), bundles, lambda b, o: True)
    for fam in sorted(pairs.loc[pairs["match"].astype(bool), "family"].unique()):
        model = _fit_organisations(pairs[pairs["family"] != fam])
        score(fam, "family", model, bundles, lambda b, o, fam=fam: family.get((b, o), "unknown") == fam)
    for b in bundles:
        rest = pairs[pairs["bundle"] != b]
        if rest["match"].any():
            score(Path(str(b)).name, "bundle", _fit_organisations(rest), [b], lambda _b, _o: True)
    return pd.DataFrame(rows)


def organisation_held_out_markdown(table: pd.DataFrame) -> list[str]:
    """:func:`organisation_held_out` as Markdown lines (per-bundle rows summed into one line)."""
    def ratio(v: Any) -> str:
        return "n/a" if v is None or pd.isna(v) else f"{v:.3f}"

    lines = ["| held out | operators whose organisation is a candidate | asserted | correct | precision | recall |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in table[table["kind"] != "bundle"].itertuples():
        label = r.held_out if r.kind == "none" else f"family {r.held_out}"
        lines.append(f"| {label} | {r.reachable} | {r.asserted} | {r.correct} | {ratio(r.precision)} | {ratio(r.recall)} |")
    per_bundle = table[table["kind"] == "bundle"]
    if len(per_bundle):
        reach, asserted, correct = (int(per_bundle[k].sum()) for k in ("reachable", "asserted", "correct"))
        worst = per_bundle.sort_values(["recall", "held_out"]).iloc[0]
        lines.append(f"| each bundle in turn ({len(per_bundle)}; worst recall {ratio(worst.recall)} in {worst.held_out}) | "
                     f"{reach} | {asserted} | {correct} | {ratio(correct / asserted if asserted else None)} | "
                     f"{ratio(correct / reach if reach else None)} |")
    return lines


@dataclass
class CalibrationReport:
    score: ScoreModel
    confidence: Calibration
    lofo: pd.DataFrame
    n_bundles: int
    n_operators: int
    n_accounts: int
    organisation: OrganisationModel | None = None
    organisation_held_out: pd.DataFrame | None = None

    def markdown(self) -> str:
        lines = [
            f"Fitted on {self.n_bundles} bundles: {self.n_operators} operators, {self.n_accounts} placed accounts"
            f" (and the null groups: benign users of one linkable value each, family {NULL_FAMILY}).",
            "",
            "| feature | coefficient |",
            "|---|---:|",
            *(f"| {k} | {v:+.3f} |" for k, v in self.score.coefficients.items()),
            f"| (intercept) | {self.score.intercept:+.3f} |",
            "",
            f"Confidence: p = 1 / (1 + exp(-({self.confidence.a:.4f} * ln2 * log-odds bits + {self.confidence.b:.4f})))",
            "",
            "Leave-one-family-out (fitted without the family, scored on it):",
            "",
            *lofo_markdown(self.lofo),
        ]
        if self.organisation is not None:
            fo = self.organisation.fitted_on
            lines += ["", f"Organisation model: m from {fo.get('matches', 0)} true (operator, organisation) candidates, "
                          f"pooled u from {fo.get('non_matches', 0)} others (models/organisation.json)."]
            if self.organisation_held_out is not None and len(self.organisation_held_out):
                lines += ["", "Organisation model on candidates it was not fitted on (top-1 assertions at the model's threshold):",
                          "", *organisation_held_out_markdown(self.organisation_held_out)]
        return "\n".join(lines) + "\n"


def lofo_markdown(lofo: pd.DataFrame) -> list[str]:
    """The leave-one-family-out table (of :func:`leave_one_family_out`) as Markdown lines."""
    lines = ["| family | kind | operators | accounts | accounts flagged |", "|---|---|---:|---:|---:|"]
    for r in lofo.itertuples():
        lines.append(f"| {r.family} | {'campaign' if r.campaign else 'benign'} | {r.operators} | {r.accounts} | {r.flagged_share:.3f} |")
    return lines


def fit_models(
    db: Database,
    bundles: Sequence[Path],
    out_dir: Path,
    params: AttributionParams | None = None,
    progress: Any = None,
) -> CalibrationReport:
    """Attribute every bundle, fit both models on all of them, write them to ``out_dir``."""
    params = params or AttributionParams()
    training = TrainingSet()
    for i, bundle in enumerate(bundles):
        if progress:
            progress(f"calibrate: bundle {i + 1}/{len(bundles)} {bundle}")
        training.extend(collect_training(db, bundle, params))
    fitted_on = {
        "bundles": [Path(b).name for b in bundles],  # names, not this machine's paths
        "operators": int((training.operators["family"] != NULL_FAMILY).sum()) if len(training.operators) else 0,
        "null_groups": int((training.operators["family"] == NULL_FAMILY).sum()) if len(training.operators) else 0,
        "families": sorted(training.operators["family"].unique().tolist()) if len(training.operators) else [],
    }
    score = fit_score(training.operators, params, fitted_on)
    confidence = fit_confidence(training.accounts)
    lofo = leave_one_family_out(training.operators, params)
    pairs = training.organisation_pairs
    organisation = _fit_organisations(pairs, fitted_on) if len(pairs) else None
    org_held_out = organisation_held_out(pairs, training.operators) if len(pairs) else None
    out_dir.mkdir(parents=True, exist_ok=True)
    if organisation is not None:
        (out_dir / "organisation.json").write_text(organisation.to_json() + "\n")
    (out_dir / "campaign_score.json").write_text(score.to_json() + "\n")
    (out_dir / "confidence.json").write_text(confidence.to_json(fitted_on) + "\n")
    report = CalibrationReport(score, confidence, lofo, len(bundles), fitted_on["operators"], len(training.accounts),
                               organisation, org_held_out)
    (out_dir / "calibration.md").write_text(report.markdown())
    training.operators.to_csv(out_dir / "training_operators.csv", index=False)
    return report
