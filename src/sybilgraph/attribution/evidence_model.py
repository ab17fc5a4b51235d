"""The one evidence model of attribution: pairwise Fellegi-Sunter weights fitted on the data (pure).

Full runs and incremental placement both call these functions (incremental with a ``focus`` of
new accounts and the current run's fitted model), so the rule that weighs evidence between two
accounts exists once.

Fitting (``fit_pair_model``): candidate pairs by blocking; ``u`` from random pairs; ``m`` by EM
in one training session per shared-identifier comparison (the pairs that agree rarely on it),
plus the pairs the investigators' labels put together; the prior by fixed point.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from sybilgraph.attribution.comparisons import COMPARISONS, rare_agreement
from sybilgraph.attribution.fellegi_sunter import FSModel, Session, estimate_u, fit_m, fixed_point_prior
from sybilgraph.attribution.pairs import BlockingParams, PairLevels, PairTables, candidate_pairs, pair_levels, random_pair_levels
from sybilgraph.attribution.params import AttributionParams

__all__ = ["FittedPairs", "blocking", "fit_pair_model", "labelled_pairs", "score_candidates"]

# At most this many labelled pairs per label enter m (a label on 2,000 accounts has 2M pairs).
LABELLED_PAIRS_PER_LABEL = 5_000


@dataclass
class FittedPairs:
    model: FSModel
    pairs: PairLevels  # candidate pairs and their levels
    match_weight: np.ndarray  # bits, prior included
    counts: dict[str, int] = field(default_factory=dict)


def blocking(params: AttributionParams) -> BlockingParams:
    return BlockingParams(
        exact_max=params.exact_max_accounts, window=params.window, passes=params.passes, order_salt=params.order_salt
    )


def training_sessions(levels: np.ndarray) -> list[Session]:
    sessions = []
    for j, c in enumerate(COMPARISONS):
        if c.is_identifier:
            rows = np.flatnonzero(rare_agreement(c, levels[:, j]))
            sessions.append(Session(c.name, rows, frozenset({c.name})))
    return sessions


def labelled_pairs(t: PairTables, labels: pa.Table | None, seed: int) -> np.ndarray:
    """Integer-id pairs (a < b) of accounts that share an investigators' label (sampled)."""
    if labels is None or labels.num_rows == 0:
        return np.zeros((0, 2), dtype=np.int64)
    index = {a: i for i, a in enumerate(t.account_ids)}
    by_label: dict[str, list[int]] = {}
    for acc, lab in zip(labels.column("account_id").to_pylist(), labels.column("operator_label").to_pylist()):
        if acc in index and lab:
            by_label.setdefault(lab, []).append(index[acc])
    rng = np.random.default_rng([seed, 13])
    out = []
    for lab in sorted(by_label):
        ids = np.unique(np.asarray(by_label[lab], dtype=np.int64))
        if len(ids) < 2:
            continue
        a, b = np.triu_indices(len(ids), k=1)
        if len(a) > LABELLED_PAIRS_PER_LABEL:
            pick = rng.choice(len(a), LABELLED_PAIRS_PER_LABEL, replace=False)
            a, b = a[pick], b[pick]
        out.append(np.stack([ids[a], ids[b]], axis=1))
    return np.concatenate(out) if out else np.zeros((0, 2), dtype=np.int64)


def _levels_of(t: PairTables, pairs: np.ndarray, table: str) -> PairLevels:
    t.con.register("_lp", pa.table({"a": pa.array(pairs[:, 0], pa.int32()), "b": pa.array(pairs[:, 1], pa.int32())}))
    t.con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT DISTINCT a, b FROM _lp")
    t.con.unregister("_lp")
    return pair_levels(t, table)


def fit_pair_model(t: PairTables, params: AttributionParams, labels: pa.Table | None = None) -> FittedPairs:
    """Fit m, u and the prior on this bundle; score every candidate pair."""
    candidate_pairs(t, blocking(params))
    pairs = pair_levels(t, "cand")
    randoms = random_pair_levels(t, params.u_pairs, params.seed)
    u = [estimate_u(randoms.levels[:, j], c.n_levels) for j, c in enumerate(COMPARISONS)]
    lab = labelled_pairs(t, labels, params.seed)
    lab_levels = _levels_of(t, lab, "lpairs").levels if len(lab) else None
    names = [c.name for c in COMPARISONS]
    m, provenance = fit_m(pairs.levels, training_sessions(pairs.levels), names, u, labelled=lab_levels)
    model = FSModel(
        comparisons=tuple(names),
        level_labels=tuple(c.levels for c in COMPARISONS),
        m=m,
        u=u,
        provenance=provenance,
    )
    model.prior = fixed_point_prior(model.bayes_factor(pairs.levels), t.n_accounts)
    return FittedPairs(
        model=model,
        pairs=pairs,
        match_weight=model.match_weight(pairs.levels),
        counts={"candidate_pairs": len(pairs), "random_pairs": len(randoms), "labelled_pairs": len(lab)},
    )


def score_candidates(t: PairTables, model: FSModel, params: AttributionParams, focus: np.ndarray) -> tuple[PairLevels, np.ndarray]:
    """Candidate pairs touching ``focus`` accounts, scored with an already fitted model
    (incremental placement)."""
    candidate_pairs(t, blocking(params), focus=focus)
    pairs = pair_levels(t, "cand")
    return pairs, model.match_weight(pairs.levels)
