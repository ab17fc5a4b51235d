"""The Fellegi-Sunter model of two accounts being run by one operator (pure numpy).

Fellegi & Sunter (1969), "A theory for record linkage"; estimated the way splink does
(Linacre et al.): for each comparison level,

* ``u`` = P(level | two unrelated accounts), from random pairs (almost every pair of accounts
  is unrelated; splink's ``estimate_u_using_random_sampling``);
* ``m`` = P(level | two accounts of one operator), by expectation-maximisation over candidate
  pairs in several *training sessions*, each restricted to pairs that agree on one rare kind of
  evidence (its own comparison is then not estimated in that session, since every pair of it
  agrees by construction), plus the pairs the investigators' labels put together;
* a pair's *match weight* is ``log2(prior / (1 - prior)) + sum log2(m / u)`` over its levels,
  its match probability ``2^w / (1 + 2^w)``. ``prior`` is the probability that two random
  accounts share an operator, found as the fixed point of "expected matches among candidate
  pairs / all pairs".

Nothing here is set by hand: levels are resolutions, their weights are estimated on each bundle.
The fitted model is stored with the run (``to_json``) and explains any pair (``waterfall``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from sybilgraph.attribution.arrays import unique_rows
from sybilgraph.attribution.comparisons import NULL_LEVEL, Comparison

__all__ = [
    "FSModel",
    "estimate_u",
    "Session",
    "WaterfallRow",
    "em_session",
    "fit_m",
    "fixed_point_prior",
    "patterns",
]

# Probabilities are kept inside [EPS, 1 - EPS]: a level never seen among unrelated pairs is
# rare, not impossible, and no single comparison may decide a pair alone by an infinite weight.
EPS = 1e-9
MAX_ABS_WEIGHT = 30.0  # bits; log2(1 / EPS)


@dataclass
class FSModel:
    comparisons: tuple[str, ...]
    level_labels: tuple[tuple[str, ...], ...]
    m: list[np.ndarray]
    u: list[np.ndarray]
    prior: float = 1e-4
    # Where each m came from: comparison -> {"sessions": [...], "matches": expected pairs}.
    provenance: dict[str, object] = field(default_factory=dict)


    # -- weights ---------------------------------------------------------------------------
    def weights(self) -> list[np.ndarray]:
        """``log2(m / u)`` per level of each comparison, in bits."""
        return [np.clip(np.log2(_clip(m) / _clip(u)), -MAX_ABS_WEIGHT, MAX_ABS_WEIGHT) for m, u in zip(self.m, self.u)]

    @property
    def prior_weight(self) -> float:
        p = min(max(self.prior, EPS), 1 - EPS)
        return math.log2(p / (1 - p))

    def bayes_factor(self, levels: np.ndarray) -> np.ndarray:
        """Sum of level weights per pair (bits, without the prior); ``levels``: (pairs, comparisons)."""
        levels = np.asarray(levels)
        total = np.zeros(levels.shape[0])
        for j, w in enumerate(self.weights()):
            col = levels[:, j]
            ok = col >= 0
            total[ok] += w[col[ok]]
        return total

    def match_weight(self, levels: np.ndarray) -> np.ndarray:
        return self.bayes_factor(levels) + self.prior_weight

    def match_probability(self, levels: np.ndarray) -> np.ndarray:
        return _sigmoid2(self.match_weight(levels))

    # -- explanation -----------------------------------------------------------------------
    def waterfall(self, levels: Sequence[int]) -> list[WaterfallRow]:
        """Splink's waterfall: the prior, then each comparison's level and weight, cumulatively."""
        rows = [WaterfallRow("prior", "probability two random accounts share an operator", None, None, self.prior_weight, self.prior_weight)]
        total = self.prior_weight
        for j, (name, w) in enumerate(zip(self.comparisons, self.weights())):
            lvl = int(levels[j])
            if lvl == NULL_LEVEL:
                rows.append(WaterfallRow(name, "not comparable", None, None, 0.0, total))
                continue
            total += float(w[lvl])
            rows.append(
                WaterfallRow(name, self.level_labels[j][lvl], float(self.m[j][lvl]), float(self.u[j][lvl]), float(w[lvl]), total)
            )
        return rows

    # -- persistence -----------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps(
            {
                "comparisons": list(self.comparisons),
                "levels": [list(x) for x in self.level_labels],
                "m": [[round(float(v), 12) for v in x] for x in self.m],
                "u": [[float(f"{float(v):.6g}") for v in x] for x in self.u],
                "prior": self.prior,
                "provenance": self.provenance,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> FSModel:
        d = json.loads(text)
        return cls(
            comparisons=tuple(d["comparisons"]),
            level_labels=tuple(tuple(x) for x in d["levels"]),
            m=[np.asarray(x, dtype=float) for x in d["m"]],
            u=[np.asarray(x, dtype=float) for x in d["u"]],
            prior=float(d["prior"]),
            provenance=d.get("provenance", {}),
        )


@dataclass(frozen=True)
class WaterfallRow:
    comparison: str
    level: str
    m: float | None
    u: float | None
    weight: float  # bits this comparison adds
    cumulative: float  # match weight so far (bits)

    @property
    def probability(self) -> float:
        return float(_sigmoid2(np.array([self.cumulative]))[0])


@dataclass(frozen=True)
class Session:
    """One EM training session: the candidate pairs that agree on ``blocked_on``."""

    name: str
    rows: np.ndarray  # indices into the candidate-pair level matrix
    blocked_on: frozenset[str]  # comparisons not estimated in this session


def patterns(levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct level vectors and how many pairs have each (EM runs on these, not on pairs)."""
    return unique_rows(levels)


def em_session(
    pats: np.ndarray,
    counts: np.ndarray,
    m: list[np.ndarray],
    u: list[np.ndarray],
    active: Sequence[bool],
    prior: float = 0.1,
    iterations: int = 50,
    tol: float = 1e-6,
    pseudo_counts: Sequence[np.ndarray] | None = None,
) -> tuple[list[np.ndarray], float, float]:
    """EM with ``u`` fixed: returns (m, session prior, expected matches). Inactive comparisons are left out of the
    likelihood and their ``m`` is returned unchanged. ``pseudo_counts``: prior counts per level added in the
    M-step (default half a pair per level)."""
    m = [x.copy() for x in m]
    log_u = _log_table(pats, u, active)
    lam = prior
    expected = 0.0
    for _ in range(iterations):
        log_m = _log_table(pats, m, active)
        # posterior P(match | pattern), computed in log space
        z = np.log(lam) + log_m - (np.log1p(-lam) + log_u)
        post = _sigmoid(z)
        w = post * counts
        expected = float(w.sum())
        new_lam = min(max(expected / max(counts.sum(), 1), EPS), 1 - EPS)
        for j, on in enumerate(active):
            if not on:
                continue
            col = pats[:, j]
            ok = col >= 0
            num = np.bincount(col[ok], weights=w[ok], minlength=len(m[j]))
            total = num.sum()
            if total > 0:
                # A pseudo-count of half a pair per level: a level no match was seen in is
                # unlikely, not impossible.
                prior_j = np.full(len(num), 0.5) if pseudo_counts is None else np.asarray(pseudo_counts[j], dtype=float)
                m[j] = (num + prior_j) / (total + prior_j.sum())
        if abs(new_lam - lam) < tol:
            lam = new_lam
            break
        lam = new_lam
    return m, lam, expected


def fit_m(
    levels: np.ndarray,
    sessions: Sequence[Session],
    comparisons: Sequence[str],
    u: list[np.ndarray],
    labelled: np.ndarray | None = None,
    min_session_pairs: int = 20,
) -> tuple[list[np.ndarray], dict[str, object]]:
    """``m`` per comparison: the match-weighted average over the sessions that estimated it.

    ``labelled``: the levels of pairs the investigators' labels put in one operator; they count
    as known matches (a session whose posterior is fixed at 1). A comparison no session
    estimated keeps ``m = u`` (weight 0).
    """
    n_cmp = len(comparisons)
    acc = [np.zeros(len(x)) for x in u]
    weight = np.zeros(n_cmp)
    prov: dict[str, dict[str, object]] = {c: {"sessions": [], "matches": 0.0} for c in comparisons}
    start_m = [np.full(len(x), 1.0 / len(x)) for x in u]
    for s in sessions:
        if len(s.rows) < min_session_pairs:
            continue
        pats, counts = patterns(levels[s.rows])
        active = [c not in s.blocked_on for c in comparisons]
        m_s, _lam, expected = em_session(pats, counts, start_m, u, active)
        if expected < 1.0:
            continue
        for j, on in enumerate(active):
            if on:
                acc[j] += expected * m_s[j]
                weight[j] += expected
                prov[comparisons[j]]["sessions"].append(s.name)  # type: ignore[union-attr]
                prov[comparisons[j]]["matches"] = float(prov[comparisons[j]]["matches"]) + expected  # type: ignore[arg-type]
    if labelled is not None and len(labelled):
        lab = np.asarray(labelled)
        for j in range(n_cmp):
            col = lab[:, j]
            col = col[col >= 0]
            if len(col) == 0:
                continue
            counts = np.bincount(col, minlength=len(u[j])).astype(float)
            m_l = (counts + 0.5) / (counts.sum() + 0.5 * len(counts))
            acc[j] += len(col) * m_l
            weight[j] += len(col)
            prov[comparisons[j]]["sessions"].append("labels")  # type: ignore[union-attr]
    m = [acc[j] / weight[j] if weight[j] > 0 else u[j].copy() for j in range(n_cmp)]
    return m, prov  # type: ignore[return-value]


def fixed_point_prior(bayes_factors: np.ndarray, n_accounts: int, iterations: int = 100) -> float:
    """P(two random accounts share an operator), consistent with the candidate pairs' evidence.

    Every same-operator pair is assumed to be a candidate (it shares some identifier): the
    prior is the expected number of matching candidates over all pairs, and each candidate's
    match probability depends on the prior; iterate to the fixed point.
    """
    all_pairs = max(n_accounts * (n_accounts - 1) / 2, 1.0)
    lam = 1.0 / max(n_accounts, 2)
    bf = np.asarray(bayes_factors, dtype=float)
    for _ in range(iterations):
        w = bf + math.log2(lam / (1 - lam))
        new = float(_sigmoid2(w).sum()) / all_pairs
        new = min(max(new, 1.0 / all_pairs), 0.5)
        if abs(new - lam) <= 1e-3 * lam:
            return new
        lam = new
    return lam


def _log_table(pats: np.ndarray, table: list[np.ndarray], active: Sequence[bool]) -> np.ndarray:
    out = np.zeros(len(pats))
    for j, on in enumerate(active):
        if not on:
            continue
        col = pats[:, j]
        ok = col >= 0
        out[ok] += np.log(_clip(table[j])[col[ok]])
    return out


def _clip(p: np.ndarray) -> np.ndarray:
    return np.clip(p, EPS, 1 - EPS)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=float)))


def _sigmoid2(w: np.ndarray) -> np.ndarray:
    """Probability from a weight in bits."""
    return _sigmoid(np.asarray(w, dtype=float) * math.log(2))


def estimate_u(levels: np.ndarray, n_levels: int) -> np.ndarray:
    """u per level from random pairs' levels of one comparison (half a pseudo-count per level:
    a level no random pair fell in is rare, not impossible). Not comparable pairs are ignored."""
    lv = np.asarray(levels)
    lv = lv[lv >= 0].astype(np.int64)
    return (np.bincount(lv, minlength=n_levels)[:n_levels] + 0.5) / (len(lv) + 0.5 * n_levels)
