"""From operator to organisation: ranked hypotheses of who runs each operator, with evidence (pure).

A Fellegi-Sunter model (Fellegi & Sunter 1969; ``fellegi_sunter.py``) of (operator,
organisation) pairs. The candidate pairs are those with at least one tie
(``organisation_evidence.py``): a member on the organisation's e-mail domain, on its networks,
sharing a card, device, IP or API key with its open accounts, or labelled with it by
investigators. Each comparison's level is the *popularity* of the organisation's identifiers in
the population (share of all accounts with that tie: term-frequency levels, from the data)
crossed with how many members carry the tie:

* ``m`` = P(level | the organisation runs the operator) is **fitted on generated truth** by
  ``sybilgraph calibrate`` (``fit_m``: level frequencies of the true pairs) and shipped as package
  data (``models/organisation.json``);
* ``u`` = P(level | it does not) is estimated on each bundle by expectation-maximisation over the
  bundle's candidate pairs with ``m`` and the operators' priors fixed (the mirror of the pairwise
  model's EM): at the rare levels nearly every pair is a true one, so ``u`` from all pairs
  (random sampling) would count matches as chance. The training draws' pooled ``u`` is its
  prior, carried to the run as a *rate per operator* (``chance_null``): how many organisations
  an unrelated operator meets at each level;
* a hypothesis's **score** is, in bits, the likelihood ratio of "this organisation runs the
  operator" against the chance rate per operator: ``sum log2(m / u)`` over the kinds of tie the
  pair has, plus its operator status's weight (``status_weight``: shares among all pairs made
  shares within the status, and a share of an operator's candidates made a count per
  operator). A webmail domain, a cloud provider's range or an ISP, which every operator meets
  by chance, scores below zero;
* its **probability** treats an operator as run by at most one organisation:
  ``odds_o = rho / (1 - rho) * 2^score_o`` and ``p_o = odds_o / (1 + sum odds)``. The prior is
  the operator's own: rho = P(its organisation is among its candidates), per status (flagged
  campaign, open group), fitted on generated truth and re-estimated on each run (``fit_run``). It was once
  the share of true pairs among all candidate pairs, which falls as a bigger population gives
  every operator more candidate organisations: one rare leak then counted for less at scale 0.2
  than at 0.02 (issue 15). Held per operator, prior and null do not move with the number of
  organisations in the population.

The best hypothesis is **asserted** when its probability reaches the model's threshold (the
Bayes decision, 0.5, unless calibration says otherwise); below it the operator is
*unattributed* and its hypotheses are kept only as leads. Analysts' decisions win: a confirmed
organisation is asserted with probability 1, a rejected one is never proposed again for that
operator. Operators asserted to one organisation are one case (``cases``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import numpy as np
import pyarrow as pa

from sybilgraph.attribution.comparisons import Comparison
from sybilgraph.attribution.fellegi_sunter import FSModel, em_session, patterns
from sybilgraph.attribution.fellegi_sunter import estimate_u as level_frequencies
from sybilgraph.attribution.organisation_evidence import (
    ACCESS_NETWORK,
    SHARED_KINDS,
    OrgRegistry,
    Ties,
    build_registry,
    find_ties,
)

__all__ = [
    "COMPARISONS",
    "Candidates",
    "Hypothesis",
    "OrganisationModel",
    "OrganisationResult",
    "PopulationCounts",
    "attribute_organisations",
    "candidate_levels",
    "fit_organisation_model",
    "hypotheses",
    "load_organisation_model",
    "Scored",
    "score_candidates",
]

# Popularity buckets (share of all accounts with the tie), most popular first, and how many of
# the operator's members carry it: resolutions, not thresholds; each level's weight is fitted.
POPULARITY_EDGES: tuple[float, ...] = (1e-1, 1e-2, 3e-3, 1e-3)
COUNT_CLASSES: tuple[str, ...] = ("fewer than half the members", "half the members or more")
TIE_COMPARISONS: tuple[str, ...] = ("domain", "office_network", "hosted_network", ACCESS_NETWORK, *SHARED_KINDS.values())
_TIE_TEXT = {
    "domain": "members on its e-mail domain",
    "office_network": "members on its office (corporate or campus) networks",
    "hosted_network": "members on its hosting (datacenter) ranges",
    ACCESS_NETWORK: "members on its access networks (residential, mobile, VPN, proxy)",
    "card": "members sharing a card with its open accounts",
    "device": "members sharing a device with its open accounts",
    "ip": "members sharing an IP with its open accounts",
    "api_key": "members sharing an API key with its open accounts",
}
# Hypotheses kept per operator (the asserted one and the next leads).
MAX_HYPOTHESES = 5
# Accounts and identifiers named per comparison in a hypothesis's evidence.
EVIDENCE_ITEMS = 20


def _popularity_labels() -> list[str]:
    labels = [f"used by > {POPULARITY_EDGES[0]:g} of accounts"]
    labels += [f"used by <= {hi:g} of accounts" for hi in POPULARITY_EDGES]
    return labels


# Whom the operator looks like changes what a tie means: half the members of an open group on an
# organisation's hosting range is a customer's team; half a flagged campaign's is its VM farm at a
# provider. Tie levels are therefore kept apart for open groups and flagged campaigns.
STATUSES: tuple[str, ...] = ("open group", "campaign")


def _tie_comparison(name: str) -> Comparison:
    levels = ["no member"] + [
        f"{status}: {count}; {pop}" for status in STATUSES for pop in _popularity_labels() for count in COUNT_CLASSES
    ]
    return Comparison(name, tuple(levels), _TIE_TEXT[name])


COMPARISONS: tuple[Comparison, ...] = (
    *(_tie_comparison(c) for c in TIE_COMPARISONS),
    Comparison("label", ("no member", "one member", "two or more members"), "members investigators labelled with it"),
)
COMPARISON_NAMES: tuple[str, ...] = tuple(c.name for c in COMPARISONS)


def popularity_bucket(share: float) -> int:
    """0 = most popular (> 10% of accounts) ... 4 = rarest (<= 0.1%)."""
    return sum(1 for e in POPULARITY_EDGES if share <= e)


def count_class(tied: int, size: int) -> int:
    return 1 if 2 * tied >= size and tied >= 2 else 0


def tie_level(share: float, tied: int, size: int, campaign: bool = False) -> int:
    """Level of a tie comparison: 0 none, else status x popularity bucket x count class."""
    if tied <= 0:
        return 0
    per_status = (len(POPULARITY_EDGES) + 1) * len(COUNT_CLASSES)
    return 1 + int(campaign) * per_status + popularity_bucket(share) * len(COUNT_CLASSES) + count_class(tied, size)


def label_level(tied: int) -> int:
    return min(max(tied, 0), 2)


# --------------------------------------------------------------------------- the fitted model


@dataclass(frozen=True)
class OrganisationModel:
    """``m`` per comparison level (fitted on generated truth) and the assertion threshold."""

    m: Mapping[str, Sequence[float]]
    # u over the training bundles' candidates that were not matches: the starting point and
    # prior of each bundle's own u (a level a bundle has few pairs of keeps the pooled value).
    u: Mapping[str, Sequence[float]] = field(default_factory=dict)
    threshold: float = 0.5
    fitted_on: Mapping[str, object] = field(default_factory=dict)
    # The training candidates' population (operators per status, how many had their organisation
    # among their candidates): the per-operator prior and null (``fit_run``,
    # ``chance_null``); None in a model fitted before they were kept (one prior, pooled u as is).
    population: PopulationCounts | None = None

    def m_tables(self) -> list[np.ndarray]:
        return _tables(self.m)

    def u_tables(self) -> list[np.ndarray]:
        return _tables(self.u)

    def to_json(self) -> str:
        return json.dumps(
            {"m": _rounded(self.m), "u": _rounded(self.u), "threshold": self.threshold,
             "population": None if self.population is None else asdict(self.population),
             "levels": {c.name: list(c.levels) for c in COMPARISONS}, "fitted_on": self.fitted_on},
            indent=2, sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> OrganisationModel:
        d = json.loads(text)
        return cls(m={k: [float(x) for x in v] for k, v in d["m"].items()},
                   u={k: [float(x) for x in v] for k, v in d.get("u", {}).items()},
                   threshold=float(d.get("threshold", 0.5)), fitted_on=d.get("fitted_on", {}),
                   population=PopulationCounts.from_dict(d["population"]) if d.get("population") else None)


def _tables(values: Mapping[str, Sequence[float]]) -> list[np.ndarray]:
    out = []
    for c in COMPARISONS:
        v = values.get(c.name)
        out.append(np.asarray(v, dtype=float) if v is not None and len(v) == c.n_levels else np.full(c.n_levels, 1.0 / c.n_levels))
    return out


def _rounded(values: Mapping[str, Sequence[float]]) -> dict[str, list[float]]:
    return {k: [float(f"{float(x):.6g}") for x in vs] for k, vs in values.items()}


@lru_cache(maxsize=8)
def load_organisation_model(models_dir: str = "") -> OrganisationModel:
    """The model shipped with the package, or the one ``sybilgraph calibrate`` wrote to ``models_dir``."""
    if models_dir and (Path(models_dir) / "organisation.json").is_file():
        return OrganisationModel.from_json((Path(models_dir) / "organisation.json").read_text())
    text = resources.files("sybilgraph.attribution").joinpath("models/organisation.json").read_text()
    return OrganisationModel.from_json(text)


def fit_organisation_model(
    levels: np.ndarray,
    is_match: np.ndarray,
    threshold: float = 0.5,
    fitted_on: Mapping[str, object] | None = None,
    operators: Sequence[object] | None = None,
    campaign: np.ndarray | None = None,
) -> OrganisationModel:
    """``u`` from the training candidates that are not matches (``estimate_u``: level frequencies,
    half a pseudo-count per level); ``m`` from the matches, factorised (``tie_m``); with each
    candidate's ``operators`` (unique across bundles) and ``campaign`` status, the population
    counts the per-operator prior and null are measured from (``population_counts``)."""
    levels = np.asarray(levels, dtype=np.int64).reshape(-1, len(COMPARISONS))
    is_match = np.asarray(is_match, dtype=bool)
    u = [level_frequencies(levels[~is_match, j], c.n_levels) for j, c in enumerate(COMPARISONS)]
    tie_cols = [j for j, name in enumerate(COMPARISON_NAMES) if name in TIE_COMPARISONS]
    popularity = popularity_distribution(levels[is_match][:, tie_cols])
    m = [
        monotone_in_members(tie_m(levels[is_match, j], u[j], popularity), u[j]) if name in TIE_COMPARISONS
        else (np.bincount(levels[is_match, j], minlength=len(u[j]))[: len(u[j])] + M_PRIOR_PAIRS * u[j]) / (is_match.sum() + M_PRIOR_PAIRS)
        for j, name in enumerate(COMPARISON_NAMES)
    ]
    return OrganisationModel(
        m={c.name: [float(x) for x in mj] for c, mj in zip(COMPARISONS, m)},
        u={c.name: [float(x) for x in uj] for c, uj in zip(COMPARISONS, u)},
        threshold=threshold,
        fitted_on={**dict(fitted_on or {}), "matches": int(is_match.sum()), "non_matches": int((~is_match).sum())},
        population=population_counts(operators, campaign, is_match) if operators is not None and len(levels) else None,
    )


# Popularity buckets (index into the buckets, 0 = most popular) from which more members on a tie
# never weigh less than fewer: ties used by at most 1% of accounts.
MONOTONE_FROM_BUCKET = 2


def monotone_in_members(m: np.ndarray, u: np.ndarray) -> np.ndarray:
    """More members carrying a rare tie is never weaker evidence: for each status and popularity
    bucket of ties used by at most 1% of accounts, "half the members or more" weighs at least what
    "fewer than half" weighs. Without this a level no true pair of the training draws fell in (a
    campaign with most members on its lab's rare domain, say: a dozen draws may hold none) would
    weigh *against* the organisation, its m being only the prior's share. A raised level takes
    the other's ratio m / u, then m is renormalised; rare levels have a small u, so the raise
    moves little mass. Popular ties (a webmail domain) keep what the data says: there many
    members on the tie is common among unrelated operators."""
    m = np.asarray(m, dtype=float).copy()
    u = np.asarray(u, dtype=float)
    _status, pop, count = _split(np.arange(1, len(m)))
    for few in np.flatnonzero((count == 0) & (pop >= MONOTONE_FROM_BUCKET)) + 1:
        many = few + 1
        m[many] = max(m[many], m[few] / u[few] * u[many])
    return m / m.sum()


def _split(level: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Status, popularity bucket and count class of tie levels >= 1."""
    k = np.asarray(level, dtype=np.int64) - 1
    per_status = (len(POPULARITY_EDGES) + 1) * len(COUNT_CLASSES)
    return k // per_status, (k % per_status) // len(COUNT_CLASSES), k % len(COUNT_CLASSES)


def popularity_distribution(matched_ties: np.ndarray) -> np.ndarray:
    """How popular true organisations are (share of ties per popularity bucket, over every tie
    comparison of the true pairs; one pseudo-count per bucket)."""
    lv = np.asarray(matched_ties, dtype=np.int64).ravel()
    _status, pop, _count = _split(lv[lv > 0])
    counts = np.bincount(pop, minlength=len(POPULARITY_EDGES) + 1).astype(float) + 1.0
    return counts / counts.sum()


def tie_m(matched: np.ndarray, u: np.ndarray, popularity: np.ndarray) -> np.ndarray:
    """``m`` of a tie comparison, factorised as in record linkage's term-frequency adjustment:
    P(status, member count | match), shrunk towards ``u`` with ``M_PRIOR_PAIRS`` pseudo-pairs,
    times how popular true organisations are. A tie's weight then depends on the organisation's
    popularity only through ``u``: a few hundred true pairs cannot fill every level, but they do
    say how often a true organisation shows through one kind of tie."""
    n_levels = len(u)
    lv = np.asarray(matched, dtype=np.int64)
    cells = len(STATUSES) * len(COUNT_CLASSES)
    status, _pop, count = _split(np.arange(1, n_levels))
    cell_of_level = status * len(COUNT_CLASSES) + count
    s, _p, c = _split(lv[lv > 0])
    cell_counts = np.bincount(s * len(COUNT_CLASSES) + c, minlength=cells).astype(float)
    u_cells = np.concatenate([[u[0]], np.bincount(cell_of_level, weights=u[1:], minlength=cells)])
    p_cells = (np.concatenate([[float((lv == 0).sum())], cell_counts]) + M_PRIOR_PAIRS * u_cells) / (len(lv) + M_PRIOR_PAIRS)
    _s, pop_of_level, _c = _split(np.arange(1, n_levels))
    return np.concatenate([[p_cells[0]], p_cells[1:][cell_of_level] * popularity[pop_of_level]])


# --------------------------------------------------------------------------- the operator's prior


@dataclass(frozen=True)
class PopulationCounts:
    """A set of candidate pairs counted per operator status (open group, campaign): the pairs
    and the operators that have any candidate, and (on training truth) the operators whose true
    organisation is among their candidates and the true pairs."""

    pairs: tuple[int, ...]
    operators: tuple[int, ...]
    reachable: tuple[int, ...] = ()
    true_pairs: tuple[int, ...] = ()

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PopulationCounts:
        return cls(*(tuple(int(x) for x in d.get(k, ())) for k in ("pairs", "operators", "reachable", "true_pairs")))

    @property
    def total_pairs(self) -> int:
        return sum(self.pairs)

    def operators_per_pair(self, status: int) -> float:
        """The status's operators per candidate pair of the whole set (the unit ``u`` is a share in)."""
        return self.operators[status] / max(self.total_pairs, 1)

    def candidates_per_operator(self, status: int) -> float:
        return self.pairs[status] / max(self.operators[status], 1)

    def pair_share(self, status: int) -> float:
        """P(status | a candidate pair): nearly every pair is a chance one."""
        return self.pairs[status] / max(self.total_pairs, 1)

    def organisation_among_candidates(self, status: int) -> float:
        """rho: P(the operator's organisation is among its candidates), half a pseudo-count each way."""
        return (self.reachable[status] + 0.5) / (self.operators[status] + 1.0)

    def true_pair_share(self, status: int) -> float:
        """P(status | a true pair), half a pseudo-count each."""
        return (self.true_pairs[status] + 0.5) / (sum(self.true_pairs) + 0.5 * len(STATUSES))


def population_counts(operators: Sequence[object], campaign: np.ndarray | None, is_match: np.ndarray | None = None) -> PopulationCounts:
    """:class:`PopulationCounts` of candidate pairs given each pair's operator, its status and
    (on truth) whether it is the true one."""
    ops = np.asarray([str(o) for o in operators], dtype=object)
    status = np.zeros(len(ops), dtype=np.int64) if campaign is None else np.asarray(campaign, dtype=bool).astype(np.int64)
    statuses = range(len(STATUSES))
    if not len(ops):
        zeros = tuple(0 for _ in statuses)
        return PopulationCounts(zeros, zeros, zeros if is_match is not None else (), zeros if is_match is not None else ())
    names, first, code = np.unique(ops, return_index=True, return_inverse=True)
    op_status = status[first]
    pairs = tuple(int((status == s).sum()) for s in statuses)
    operators = tuple(int((op_status == s).sum()) for s in statuses)
    if is_match is None:
        return PopulationCounts(pairs, operators)
    match = np.asarray(is_match, dtype=bool)
    reached = np.bincount(code[match], minlength=len(names)) > 0
    return PopulationCounts(pairs, operators,
                            reachable=tuple(int((reached & (op_status == s)).sum()) for s in statuses),
                            true_pairs=tuple(int((match & (status == s)).sum()) for s in statuses))


def status_weight(trained: PopulationCounts, run: PopulationCounts) -> np.ndarray:
    """Bits added to every pair's ``sum log2(m / u)`` per operator status, so that the score is
    the likelihood ratio of a candidate against the *chance rate per operator*: P(its ties | it
    is the operator's organisation) over the expected number of organisations an operator of
    that status meets with such ties by chance.

    ``m`` and ``u`` are shares among all true and all candidate pairs, while a pair is one of its
    status's (its tie levels name the status): P(status | candidate pair) / P(status | true pair)
    turns them into shares within the status; and a share of an operator's K candidates times K
    is a count per operator. Together: log2(operators of the status per candidate pair of the
    run / P(status | true pair)). With the operator's prior (``fit_run``) the posterior odds of
    candidate o are ``rho / (1 - rho) * 2^score_o``: the same evidence gives the same decision
    whatever the number of organisations in the population (``chance_null`` keeps the rare
    levels' chance rate per operator), and a tie every operator has (webmail, a big cloud
    provider, an ISP) scores below zero."""
    return np.array([np.log2(max(run.operators_per_pair(s), 1e-12) / trained.true_pair_share(s)) for s in range(len(STATUSES))])


def pair_weights(c: Candidates, trained: PopulationCounts) -> np.ndarray:
    """Each pair's ``status_weight``; a pair tied by investigators' labels alone has no level
    naming a status (label levels are shared), so its count per operator is over all operators:
    log2(operators per candidate pair of the run)."""
    run = c.population()
    by_status = status_weight(trained, run)
    label_only = ~(c.levels[:, [COMPARISON_NAMES.index(n) for n in TIE_COMPARISONS]] > 0).any(axis=1)
    return np.where(label_only, np.log2(max(sum(run.operators), 1) / max(run.total_pairs, 1)), by_status[c.statuses()])


# --------------------------------------------------------------------------- candidates


@dataclass
class Candidates:
    """(operator, organisation) pairs with at least one tie, their levels and evidence.

    ``evidence``: per pair, comparison -> members, accounts, identifiers, popularity; or ``None``
    when it is fetched only for the pairs that become hypotheses (``fetch``: a run has hundreds
    of thousands of candidates at scale 1.0, a few hundred hypotheses)."""

    operator_id: list[str]
    org_id: list[str]
    levels: np.ndarray  # (pairs, comparisons) int
    evidence: list[dict[str, dict[str, Any]]] | None = None
    fetch: Callable[[Sequence[int]], dict[int, dict[str, dict[str, Any]]]] | None = field(default=None, repr=False)
    # Per pair: whether its operator is a flagged campaign (None: no operator is).
    campaign: np.ndarray | None = None
    _population: PopulationCounts | None = field(default=None, repr=False)

    def campaigns(self) -> np.ndarray:
        return np.zeros(len(self), dtype=bool) if self.campaign is None else np.asarray(self.campaign, dtype=bool)

    def population(self) -> PopulationCounts:
        if self._population is None:
            self._population = population_counts(self.operator_id, self.campaigns())
        return self._population

    def statuses(self) -> np.ndarray:
        """Each pair's operator status as an index into ``STATUSES``."""
        return self.campaigns().astype(np.int64)

    def __len__(self) -> int:
        return len(self.operator_id)

    def evidence_of(self, rows: Sequence[int]) -> dict[int, dict[str, dict[str, Any]]]:
        if self.evidence is not None:
            return {i: self.evidence[i] for i in rows}
        found = self.fetch(rows) if self.fetch is not None and len(rows) else {}
        return {i: found.get(i, {}) for i in rows}


# One row per (operator, organisation, comparison) with how many members carry the tie, the
# pair's row in the candidates (pairs in (operator, organisation) order), the organisation's base
# rate for that comparison and the operator's size and status: levels are computed from these
# columns at once (a big ISP's ranges tie thousands of members to their owner).
_PAIR_TIES_SQL = """
WITH g AS (
    SELECT operator_id, org_id, comparison, count(DISTINCT account_id) AS tied
    FROM ties GROUP BY operator_id, org_id, comparison
),
p AS (
    SELECT operator_id, org_id, (row_number() OVER (ORDER BY operator_id, org_id) - 1)::BIGINT AS pair
    FROM (SELECT DISTINCT operator_id, org_id FROM g)
)
SELECT p.pair, g.comparison, g.tied, coalesce(pop.share, 0.0) AS share,
       coalesce(s.size, g.tied) AS size, coalesce(s.campaign, false) AS campaign
FROM g JOIN p USING (operator_id, org_id)
LEFT JOIN popularity pop USING (org_id, comparison)
LEFT JOIN sizes s USING (operator_id)
"""
_PAIRS_SQL = """
SELECT operator_id, org_id FROM (SELECT DISTINCT operator_id, org_id FROM ties) ORDER BY operator_id, org_id
"""

# The evidence of the wanted pairs (row, operator, organisation): per comparison how many members
# carry the tie and the first accounts and identifiers behind it.
_PAIR_EVIDENCE_SQL = f"""
SELECT w."row", t.comparison, count(DISTINCT t.account_id) AS tied,
       list_sort(list_distinct(list(t.account_id)))[1:{EVIDENCE_ITEMS}] AS accounts,
       list_sort(list_distinct(list(t.kind || chr(0) || t.value)))[1:{EVIDENCE_ITEMS}] AS identifiers
FROM ties t JOIN wanted w USING (operator_id, org_id)
GROUP BY w."row", t.comparison
ORDER BY w."row", t.comparison
"""


def levels_of(comparison: np.ndarray, tied: np.ndarray, share: np.ndarray, size: np.ndarray, campaign: np.ndarray) -> np.ndarray:
    """:func:`tie_level` (or :func:`label_level` for labels) of many ties at once."""
    tied = np.asarray(tied, dtype=np.int64)
    bucket = (np.asarray(share, dtype=float)[:, None] <= np.asarray(POPULARITY_EDGES)[None, :]).sum(axis=1)
    count = ((2 * tied >= np.asarray(size, dtype=np.int64)) & (tied >= 2)).astype(np.int64)
    per_status = (len(POPULARITY_EDGES) + 1) * len(COUNT_CLASSES)
    level = 1 + np.asarray(campaign, dtype=np.int64) * per_status + bucket * len(COUNT_CLASSES) + count
    level = np.where(tied <= 0, 0, level)
    return np.where(np.asarray(comparison) == "label", np.clip(tied, 0, 2), level)


def candidate_levels(ties: Ties, sizes: Mapping[str, int], flagged: Iterable[str] = ()) -> Candidates:
    """Levels of every (operator, organisation) pair with a tie, from the ties and base rates;
    evidence is fetched later for the pairs that become hypotheses."""
    campaigns = set(flagged)
    ops = sorted(sizes)
    size_table = pa.table({"operator_id": pa.array(ops, pa.string()), "size": pa.array([int(sizes[o]) for o in ops], pa.int64()),
                           "campaign": pa.array([o in campaigns for o in ops], pa.bool_())})
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        con.register("ties", ties.ties)
        con.register("popularity", ties.popularity)
        con.register("sizes", size_table)
        rows = con.sql(_PAIR_TIES_SQL).to_arrow_table()
        pairs = con.sql(_PAIRS_SQL).to_arrow_table()
    finally:
        con.close()
    cmp_ = rows.column("comparison").to_numpy(zero_copy_only=False).astype(str)
    level = levels_of(cmp_, rows.column("tied").to_numpy(), rows.column("share").to_numpy(),
                      rows.column("size").to_numpy(), rows.column("campaign").to_numpy(zero_copy_only=False))
    index = {name: j for j, name in enumerate(COMPARISON_NAMES)}
    levels = np.zeros((pairs.num_rows, len(COMPARISONS)), dtype=np.int64)
    if rows.num_rows:
        levels[rows.column("pair").to_numpy(), np.vectorize(index.__getitem__, otypes=[np.int64])(cmp_)] = level
    operator_id = pairs.column("operator_id").to_pylist()
    org_id = pairs.column("org_id").to_pylist()
    campaign = np.fromiter((op in campaigns for op in operator_id), dtype=bool, count=len(operator_id))
    share = {(o, c): s for o, c, s in zip(*(ties.popularity.column(k).to_pylist() for k in ("org_id", "comparison", "share")))}

    def fetch(wanted_rows: Sequence[int]) -> dict[int, dict[str, dict[str, Any]]]:
        return pair_evidence(ties, share, [(i, operator_id[i], org_id[i]) for i in wanted_rows])

    return Candidates(operator_id, org_id, levels, None, fetch, campaign)


def pair_evidence(ties: Ties, share: Mapping[tuple[str, str], float], wanted: Sequence[tuple[int, str, str]]) -> dict[int, dict[str, dict[str, Any]]]:
    """Evidence of the wanted (row, operator, organisation) pairs: per comparison the members
    carrying the tie, the first accounts and identifiers behind it, the base rate."""
    org_of = {i: org for i, _, org in wanted}
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        con.register("ties", ties.ties)
        con.register("wanted", pa.table({"row": pa.array([i for i, _, _ in wanted], pa.int64()),
                                         "operator_id": pa.array([op for _, op, _ in wanted], pa.string()),
                                         "org_id": pa.array([org for _, _, org in wanted], pa.string())}))
        found = con.sql(_PAIR_EVIDENCE_SQL).to_arrow_table().to_pylist()
    finally:
        con.close()
    out: dict[int, dict[str, dict[str, Any]]] = defaultdict(dict)
    for r in found:
        i, name = int(r["row"]), r["comparison"]
        out[i][name] = {
            "members": int(r["tied"]),
            "accounts": list(r["accounts"]),
            "identifiers": [dict(zip(("kind", "value"), x.split("\x00", 1))) for x in r["identifiers"]],
            "popularity": None if name == "label" else float(share.get((org_of[i], name), 0.0)),
        }
    return dict(out)


# --------------------------------------------------------------------------- scoring


# How many candidate pairs the shipped (pooled) u counts for in a bundle's estimate (about the
# training pool's size: a bundle's own pairs dominate only at levels it has many of).
U_PRIOR_PAIRS = 30_000.0
# Pseudo-matches spread like u when m is fitted (a level no match fell in weighs against).
M_PRIOR_PAIRS = 5.0


def chance_null(u_pooled: list[np.ndarray], trained: PopulationCounts | None, bundle: PopulationCounts) -> list[np.ndarray]:
    """The pooled ``u`` carried to a run whose candidates hold another number of operators.

    ``u`` of a tie level is a share among candidate pairs, but what chance produces is a rate per
    operator: how many organisations an unrelated operator meets at that level (its ISPs, its
    webmail, once in a while someone's rare office range). A bigger population gives every
    operator more candidates (more providers, more ranges its members pass through), so the same
    rate per operator is a smaller share of them. The training draws saw no chance tie at all at
    the rare levels (their ``u`` is the pseudo-count's floor there); kept as a share, it would
    stay fixed while the prior per candidate falls, and a single rare leak would weigh less in a
    bigger population. So each status's levels are scaled by the run's operators of that status
    per candidate pair against training's (the label comparison's by all operators); the run's
    own pairs then correct it where they are many (popular levels). Level 0 takes the rest."""
    if trained is None or not bundle.total_pairs:
        return [x.copy() for x in u_pooled]

    def factor(status: int | None) -> float:
        if status is None:
            ours, theirs = sum(bundle.operators) / bundle.total_pairs, sum(trained.operators) / max(trained.total_pairs, 1)
        else:
            ours, theirs = bundle.operators_per_pair(status), trained.operators_per_pair(status)
        return ours / theirs if ours > 0 and theirs > 0 else 1.0

    out = []
    for c, x in zip(COMPARISONS, u_pooled):
        lv = np.arange(1, c.n_levels)
        if c.name in TIE_COMPARISONS:
            scale = np.array([factor(0), factor(1)])[_split(lv)[0]]
        else:
            scale = np.full(len(lv), factor(None))
        ties = np.asarray(x[1:], dtype=float) * scale
        ties *= min(1.0, (1.0 - MIN_NO_TIE) / max(float(ties.sum()), 1e-300))
        out.append(np.concatenate([[1.0 - ties.sum()], ties]))
    return out


# The least share of an operator's candidates a comparison's "no tie of this kind" level keeps
# when the pooled u is carried to a bundle with fewer candidates per operator than training had.
MIN_NO_TIE = 0.01


def estimate_u(
    levels: np.ndarray, m: list[np.ndarray], u_prior: list[np.ndarray], iterations: int = 100
) -> tuple[list[np.ndarray], float]:
    """This bundle's ``u`` and prior by EM over its candidates with ``m`` fixed.

    ``em_session`` estimates the ``m`` of its "match" class with the other class's table fixed;
    called with the classes swapped (our non-matches as its matches, our fixed ``m`` as its
    fixed table, prior ``1 - lambda``), it returns our ``u`` and the share of non-matches. The
    pooled ``u`` of the training bundles enters as ``U_PRIOR_PAIRS`` pseudo-pairs: popular levels
    are measured on the bundle, rare ones (a handful of pairs) stay near the pooled rate.
    """
    if len(levels) == 0:
        return [x.copy() for x in u_prior], 1e-3
    pats, counts = patterns(levels)
    pseudo = [U_PRIOR_PAIRS * x for x in u_prior]
    u, non_match_share, _expected = em_session(
        pats, counts, [x.copy() for x in u_prior], m, [True] * len(m), prior=0.9, iterations=iterations, pseudo_counts=pseudo
    )
    return u, float(min(max(1.0 - non_match_share, 1e-6), 0.5))


@dataclass(frozen=True)
class RunFit:
    """What a run estimates on its own candidates: ``u``, each status's rho, the share of true pairs."""

    u: list[np.ndarray]
    rho: np.ndarray  # per status
    match_share: float


def fit_run(
    c: Candidates, m: list[np.ndarray], u_prior: list[np.ndarray], trained: PopulationCounts, weight: np.ndarray,
    iterations: int = 100, tol: float = 1e-7,
) -> RunFit:
    """``u`` and each status's rho by EM over the run's candidates, with ``m`` fixed
    (``weight``: each pair's bits beyond ``sum log2(m / u)``, ``pair_weights``).

    The E-step is the decision's own posterior (``hypotheses``): an operator is run by at most
    one of its candidates, ``odds_o = rho / (1 - rho) * 2^score_o``, ``p_o = odds_o / (1 + sum
    odds)``. The M-step counts every pair at its levels with the weight of it being a chance
    one (``u``; the pooled ``u`` carried to the run by ``chance_null`` enters as
    ``U_PRIOR_PAIRS`` pseudo-pairs) and sums, per status, each operator's posterior that its
    organisation is among its candidates (rho; the training truth's count enters as a prior of
    as many operators as training had: a run's handful of campaigns leaves rho near the fitted
    one, its thousands of open groups say how many of them this population's organisations run)."""
    statuses = c.statuses()
    key = np.zeros(len(c), dtype=np.int64)
    for j in range(c.levels.shape[1]):
        key = key * 32 + c.levels[:, j]
    key = key * len(STATUSES) + statuses
    _keys, first, pattern = np.unique(key, return_index=True, return_inverse=True)
    lv, pattern_weight = c.levels[first], np.asarray(weight, dtype=float)[first]
    _ops, op = np.unique(np.asarray(c.operator_id, dtype=object), return_inverse=True)
    op_status = np.zeros(len(_ops), dtype=np.int64)
    op_status[op] = statuses
    n_ops = np.bincount(op_status, minlength=len(STATUSES)).astype(float)
    log_m = np.zeros(len(lv))
    for j, mj in enumerate(m):
        tied = lv[:, j] > 0
        log_m[tied] += np.log2(np.clip(mj, 1e-300, None))[lv[tied, j]]
    pseudo = [U_PRIOR_PAIRS * x for x in u_prior]
    prior_reached = np.array([trained.reachable[s] + 0.5 for s in range(len(STATUSES))], dtype=float)
    prior_ops = np.array([trained.operators[s] + 1.0 for s in range(len(STATUSES))], dtype=float)
    u = [x.copy() for x in u_prior]
    rho = prior_reached / prior_ops
    post = np.zeros(len(c))
    for _ in range(iterations):
        bits = log_m + pattern_weight
        for j, uj in enumerate(u):
            tied = lv[:, j] > 0
            bits[tied] -= np.log2(np.clip(uj, 1e-300, None))[lv[tied, j]]
        odds = (rho / (1.0 - rho))[statuses] * np.exp2(np.clip(bits, -1000.0, 1000.0))[pattern]
        total = 1.0 + np.bincount(op, weights=odds, minlength=len(_ops))
        post = odds / total[op]
        among = 1.0 - 1.0 / total
        new_rho = np.clip((np.bincount(op_status, weights=among, minlength=len(STATUSES)) + prior_reached) / (n_ops + prior_ops),
                          1e-6, 1 - 1e-6)
        chance = np.bincount(pattern, weights=1.0 - post, minlength=len(lv))
        new_u = [(np.bincount(lv[:, j], weights=chance, minlength=len(uj))[: len(uj)] + pseudo[j]) / (chance.sum() + pseudo[j].sum())
                 for j, uj in enumerate(u)]
        moved = max(max(float(np.abs(a - b).max()) for a, b in zip(new_u, u)), float(np.abs(new_rho - rho).max()))
        u, rho = new_u, new_rho
        if moved < tol:
            break
    return RunFit(u, rho, float(min(max(post.mean(), 1e-6), 0.5)))


class Scored(NamedTuple):
    model: FSModel  # m shipped, u (and the share of true pairs) estimated on the run
    scores: np.ndarray  # per pair, bits (with its status's weight, ``status_weight``)
    prior_odds: np.ndarray | None  # per pair, rho / (1 - rho) of its operator's status; None: the run's share of true pairs


def score_candidates(c: Candidates, model: OrganisationModel) -> Scored:
    """The run's fitted model, each pair's score and each pair's prior odds (``fit_run``; a model
    without its training population falls back to one prior, the share of true pairs)."""
    m = model.m_tables()
    provenance: dict[str, object] = {"m": "fitted on generated truth (sybilgraph calibrate)", "fitted_on": dict(model.fitted_on)}
    if model.population is not None and len(c):
        run = c.population()
        weight = pair_weights(c, model.population)
        fit = fit_run(c, m, chance_null(model.u_tables(), model.population, run), model.population, weight)
        u, prior = fit.u, fit.match_share
        prior_odds: np.ndarray | None = (fit.rho / (1.0 - fit.rho))[c.statuses()]
        provenance |= {"u": "EM over this run's candidates with m fixed",
                       "operator_prior": {st: round(float(r), 4) for st, r in zip(STATUSES, fit.rho)},
                       "operator_prior_fitted": {st: round(float(model.population.organisation_among_candidates(i)), 4)
                                                 for i, st in enumerate(STATUSES)},
                       "status_weight_bits": {st: round(float(w), 3) for st, w in zip(STATUSES, status_weight(model.population, run))}}
    else:
        weight = np.zeros(len(c))
        u, prior = estimate_u(c.levels, m, model.u_tables())
        prior_odds = None
        provenance["u"] = "EM over this run's candidates with m fixed"
    fs = FSModel(
        comparisons=COMPARISON_NAMES,
        level_labels=tuple(cmp_.levels for cmp_ in COMPARISONS),
        m=m,
        u=u,
        prior=prior,
        provenance=provenance,
    )
    # A kind of tie the operator lacks is not compared (-1): a true organisation usually shows
    # through one or two kinds only, so a missing office range or card says nothing against it.
    scored = c.levels.copy()
    scored[scored == 0] = -1
    if not len(c):
        return Scored(fs, np.zeros(0), None)
    return Scored(fs, fs.bayes_factor(scored) + weight, prior_odds)


# --------------------------------------------------------------------------- hypotheses


@dataclass(frozen=True)
class Hypothesis:
    operator_id: str
    org_id: str
    score: float  # bits: log2 likelihood ratio against the chance rate per operator of such ties (their base rate)
    probability: float
    rank: int
    asserted: bool
    decision: str | None  # confirmed | rejected by an analyst
    evidence: list[dict[str, Any]]

    def row(self) -> dict[str, Any]:
        return {
            "operator_id": self.operator_id, "org_id": self.org_id, "score": round(self.score, 4),
            "probability": round(self.probability, 6), "rank": self.rank, "asserted": self.asserted,
            "decision": self.decision, "evidence_json": json.dumps(self.evidence, sort_keys=True),
        }


@dataclass
class OrganisationResult:
    hypotheses: list[Hypothesis]
    organisations: list[dict[str, Any]]  # nodes the hypotheses name: org_id, name, confirmed, kind, source
    model: FSModel | None
    candidates: Candidates | None = None  # kept for calibration
    counts: dict[str, int] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # org_id -> name of every organisation known to the run

    def asserted(self) -> dict[str, str]:
        """operator_id -> org_id of the asserted hypotheses."""
        return {h.operator_id: h.org_id for h in self.hypotheses if h.asserted}

    def cases(self) -> dict[str, list[str]]:
        """org_id -> the operators asserted to it (one organisation running two farms is one case)."""
        out: dict[str, list[str]] = defaultdict(list)
        for op, org in sorted(self.asserted().items()):
            out[org].append(op)
        return dict(out)

    def rows(self) -> list[dict[str, Any]]:
        """One row per hypothesis with the organisation it names (the write's parameters)."""
        orgs = {str(o["org_id"]): o for o in self.organisations}
        out = []
        for h in self.hypotheses:
            o = orgs.get(h.org_id, {})
            out.append({**h.row(), "org_name": o.get("name") or h.org_id, "org_confirmed": bool(o.get("confirmed")),
                        "org_kind": o.get("kind"), "org_domains": list(o.get("domains") or []),
                        "org_source": o.get("source") or "attribution"})
        return out


def _evidence(fs: FSModel, levels: np.ndarray, ev: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    weights = fs.weights()
    out = []
    for j, name in enumerate(fs.comparisons):
        lvl = int(levels[j])
        if lvl == 0:
            continue
        item = ev.get(name, {})
        out.append({
            "comparison": name,
            "level": fs.level_labels[j][lvl],
            "weight": round(float(weights[j][lvl]), 3),
            "m": float(f"{fs.m[j][lvl]:.4g}"),
            "u": float(f"{fs.u[j][lvl]:.4g}"),
            "members": int(item.get("members", 0)),
            "popularity": item.get("popularity"),
            "accounts": list(item.get("accounts", [])),
            "identifiers": list(item.get("identifiers", [])),
        })
    out.sort(key=lambda e: -e["weight"])
    return out


def hypotheses(
    c: Candidates,
    fs: FSModel,
    scores: np.ndarray,
    threshold: float,
    decisions: Mapping[tuple[str, str], str] | None = None,
    prior_odds: np.ndarray | None = None,
) -> list[Hypothesis]:
    """Ranked hypotheses per operator: evidence for (score > 0) or an analyst's confirmation.
    ``prior_odds``: each pair's (``score_candidates``); the run's share of true pairs when None."""
    decisions = decisions or {}
    scores = np.asarray(scores, dtype=float)
    if prior_odds is None:
        prior_odds = np.full(len(c), fs.prior / (1.0 - fs.prior))
    confirmed_of = {op: org for (op, org), d in decisions.items() if d == "confirmed"}
    rejected = np.zeros(len(c), dtype=bool)
    if any(d == "rejected" for d in decisions.values()):
        rejected = np.array([decisions.get((op, org)) == "rejected" for op, org in zip(c.operator_id, c.org_id)], dtype=bool)
    # Every operator's odds over all its candidates (the posterior's denominator), at once: an
    # operator has up to thousands of candidates (each ISP its members used), a handful with evidence.
    odds = np.where(rejected, 0.0, prior_odds * np.array([2.0 ** min(s, 1000.0) for s in scores.tolist()])) if len(c) else np.zeros(0)
    names, code = np.unique(np.asarray(c.operator_id, dtype=object), return_inverse=True)
    total_of = dict(zip(names.tolist(), (1.0 + np.bincount(code, weights=odds, minlength=len(names))).tolist()))
    # Only the candidates that can become hypotheses are walked: evidence for, or confirmed.
    walked = (scores > 0) & ~rejected
    if confirmed_of:
        walked |= np.array([confirmed_of.get(op) == org for op, org in zip(c.operator_id, c.org_id)], dtype=bool) & ~rejected
    by_op: dict[str, list[int]] = defaultdict(list)
    for i in np.flatnonzero(walked).tolist():
        by_op[c.operator_id[i]].append(i)
    chosen: list[tuple[int, Hypothesis]] = []  # (candidate row or -1, hypothesis without its evidence yet)
    for op in sorted(set(by_op) | set(confirmed_of)):
        rows = by_op.get(op, [])
        total = total_of.get(op, 1.0)
        scored = [(c.org_id[i], float(scores[i]), float(odds[i]) / total, i) for i in rows]
        confirmed = confirmed_of.get(op)
        if confirmed is not None and confirmed not in {s[0] for s in scored}:
            scored.append((confirmed, 0.0, 1.0, -1))
        scored.sort(key=lambda s: (s[0] != confirmed, -s[1], s[0]))
        kept = [s for s in scored if s[1] > 0 or s[0] == confirmed][:MAX_HYPOTHESES]
        for rank, (org, score, prob, i) in enumerate(kept, start=1):
            is_confirmed = org == confirmed
            asserted = is_confirmed or (confirmed is None and rank == 1 and prob >= threshold)
            chosen.append((i, Hypothesis(op, org, score, 1.0 if is_confirmed else prob, rank, asserted,
                                         "confirmed" if is_confirmed else None, [])))
    evidence = c.evidence_of([i for i, _ in chosen if i >= 0])
    return [replace(h, evidence=_evidence(fs, c.levels[i], evidence[i])) if i >= 0 else h for i, h in chosen]


def attribute_organisations(
    state: Any,
    membership: Mapping[str, Iterable[str]],
    operator_rows: Iterable[Mapping[str, Any]],
    decisions: Iterable[Mapping[str, Any]] = (),
    model: OrganisationModel | str = "",
    memory_limit: str | None = None,
    keep_candidates: bool = False,
) -> OrganisationResult:
    """The organisation step of a run: ties, levels, the bundle's u, scores, ranked hypotheses.

    ``state``: ingest's state tables (``ingest.state.GraphState`` or a mapping with ``accounts``,
    ``account_identifiers``, ``links``, ``labels``, ``organisations``, ``ip_owners``,
    ``ip_networks``); ``membership``: operator_id -> member account ids; ``operator_rows``:
    operator_id, size, flagged; ``decisions``: operator_id, org_id, decision (the latest analyst
    decision per pair); ``model``: the fitted model, or the ``models_dir`` to load it from ("" for
    the package's).
    """
    tables = state if isinstance(state, Mapping) else {name: getattr(state, name) for name in _STATE_TABLES}
    model = model if isinstance(model, OrganisationModel) else load_organisation_model(model)
    registry = build_registry(tables["organisations"], tables["ip_owners"], tables.get("labels"))
    ops = list(operator_rows)
    flagged = [str(r["operator_id"]) for r in ops if r.get("flagged")]
    sizes = {str(r["operator_id"]): int(r["size"]) for r in ops}
    pairs = [(a, op) for op, ms in membership.items() for a in ms]
    members = pa.table({"account_id": pa.array([a for a, _ in pairs], pa.string()),
                        "operator_id": pa.array([op for _, op in pairs], pa.string())})
    ties = find_ties(tables, registry, members, flagged, memory_limit)
    cands = candidate_levels(ties, sizes, flagged)
    fs, scores, prior_odds = score_candidates(cands, model)
    decided = {(str(d["operator_id"]), str(d["org_id"])): str(d["decision"]) for d in decisions}
    hyps = hypotheses(cands, fs, scores, model.threshold, decided, prior_odds)
    orgs = _named_organisations(registry, ties, {h.org_id for h in hyps})
    counts = {
        "organisation_candidates": len(cands),
        "organisation_hypotheses": len(hyps),
        "operators_attributed_to_organisations": sum(h.asserted for h in hyps),
        "organisations_discovered": sum(1 for r in orgs if not r["confirmed"]),
    }
    return OrganisationResult(hyps, orgs, fs, cands if keep_candidates else None, counts, registry.names())


_STATE_TABLES = ("accounts", "account_identifiers", "links", "labels", "organisations", "ip_owners", "ip_networks")


def _named_organisations(registry: OrgRegistry, ties: Ties, named: set[str]) -> list[dict[str, Any]]:
    """The organisations the hypotheses name, with the domains attached to them from the data;
    one an analyst confirmed that no table lists is unconfirmed with its id as its name."""
    attached = dict(zip(ties.attached_domains.column("domain").to_pylist(), ties.attached_domains.column("org_id").to_pylist()))
    orgs = [r for r in registry.orgs.to_pylist() if r["org_id"] in named]
    for r in orgs:
        r["domains"] = sorted(set(r["domains"] or []) | {d for d, o in attached.items() if o == r["org_id"]})
    known = {r["org_id"] for r in orgs}
    orgs += [{"org_id": o, "name": o, "confirmed": False, "kind": None, "country": None, "domains": [], "source": "analyst"}
             for o in sorted(named - known)]
    return orgs
