"""The case file as typed values: what the page shows, already masked for its reader.

``gather`` fills these from Neo4j and the columnar store; ``render`` turns them into HTML. Nothing
here holds a raw identifier value once masking has run: ``IdentifierRow.shown`` is what the
reader's role may see, and the raw value never leaves ``gather``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

__all__ = [
    "Behaviour",
    "CaseFile",
    "Decision",
    "Delivery",
    "Feature",
    "IdentifierRow",
    "LabelCount",
    "LineageLink",
    "Member",
    "OrganisationEvidence",
    "OrganisationHypothesis",
    "Provenance",
    "Summary",
]


@dataclass(frozen=True)
class Feature:
    name: str
    value: float  # in [0, 1]
    weight: float | None  # its weight in the logistic score (None: a feature the scorer no longer has)


@dataclass(frozen=True)
class OrganisationEvidence:
    """One line of why an organisation is suspected: an identifier and how many accounts touch it."""

    kind: str
    shown: str  # masked for the reader
    accounts: int | None
    strength: float | None


@dataclass(frozen=True)
class OrganisationHypothesis:
    org_id: str
    name: str
    confirmed: bool | None
    score: float | None
    rank: int | None
    evidence: tuple[OrganisationEvidence, ...] = ()
    probability: float | None = None
    asserted: bool | None = None  # False: a candidate below attribution's threshold; None: not stated (asserted)


@dataclass(frozen=True)
class Summary:
    operator_id: str
    label: str | None
    analyst_label: str | None
    label_conflict: tuple[str, ...]
    size: int
    flagged: bool
    campaign_score: float
    flag_threshold: float | None
    in_current_run: bool
    features: tuple[Feature, ...]
    organisations: tuple[OrganisationHypothesis, ...]  # none asserted: unattributed
    confidences: tuple[float, ...]  # of the current members

    @property
    def attributed(self) -> tuple[OrganisationHypothesis, ...]:
        """The hypotheses attribution asserts (an organisation is named only on enough evidence)."""
        return tuple(o for o in self.organisations if o.asserted is not False)

    @property
    def candidates(self) -> tuple[OrganisationHypothesis, ...]:
        """Hypotheses below the threshold: shown as candidates, never as the answer."""
        return tuple(o for o in self.organisations if o.asserted is False)


@dataclass(frozen=True)
class IdentifierRow:
    kind: str
    shown: str  # the value as the reader's role may see it
    n_accounts: int  # accounts that ever used it (its rarity)
    members_sharing: int  # of this operator's current members
    weight: float  # kind weight x ln(N / n): attribution's rule
    first_seen: datetime | None
    last_seen: datetime | None
    members: frozenset[str] = field(default=frozenset(), repr=False)  # for the evidence drawing

    @property
    def evidence(self) -> float:
        """Weight times members sharing: how attribution ranks an operator's evidence (attribution/evidence.py)."""
        return self.weight * self.members_sharing


@dataclass(frozen=True)
class Member:
    account_id: str
    confidence: float | None
    provisional: bool
    created_at: datetime | None
    status: str | None
    country: str | None
    n_interactions: int


@dataclass(frozen=True)
class LineageLink:
    relation: str  # "split from", "split into", "merged into", "merged from"
    operator_id: str
    run_id: str | None
    shared: int | None


@dataclass(frozen=True)
class Decision:
    account_id: str
    decision: str
    by: str | None
    at: datetime | None
    reason: str | None


@dataclass(frozen=True)
class LabelCount:
    name: str
    source: str | None
    accounts: int


@dataclass(frozen=True)
class Behaviour:
    """Aggregates of the interactions (columnar store): the operator against the benign population."""

    daily: tuple[tuple[date, int], ...]  # the operator's interactions per UTC day
    hour_of_week: tuple[int, ...]  # 168 counts, Monday 00:00 UTC first
    benign_hour_of_week: tuple[int, ...]
    categories: dict[str, int]
    benign_categories: dict[str, int]
    output_tokens: dict[int, int]  # log2 bin -> interactions (bin b holds 2^b - 1 .. 2^(b+1) - 2 tokens)
    benign_output_tokens: dict[int, int]
    interactions: int
    benign_interactions: int


@dataclass(frozen=True)
class Delivery:
    ingest_id: str
    bundle: str | None
    seq: int | None
    status: str | None
    finished_at: datetime | None
    rows_loaded: int | None


@dataclass(frozen=True)
class Provenance:
    run_id: str | None
    run_started_at: datetime | None
    run_finished_at: datetime | None
    seed: int | None
    params: dict[str, object]
    params_digest: str | None  # SHA-256 of the run's parameters as canonical JSON
    deliveries: tuple[Delivery, ...]
    report_command: str
    attribute_command: str | None
    generated_at: datetime
    generator: str  # sybilgraph version
    role: str  # whose masking the page carries


@dataclass(frozen=True)
class CaseFile:
    summary: Summary
    identifiers: tuple[IdentifierRow, ...]  # ranked by weight, strongest first
    identifiers_total: int  # shared identifiers of any weight, before the cut to the table
    identifier_kinds: tuple[tuple[str, int, float], ...]  # (kind, shared identifiers, their evidence), strongest kind first
    members: tuple[Member, ...]  # every current member, by account id
    members_shown: int  # how many the members table lists
    lineage: tuple[LineageLink, ...]
    decisions: tuple[Decision, ...]
    labels: tuple[LabelCount, ...]
    behaviour: Behaviour | None  # None: no interactions in the columnar store
    provenance: Provenance

    @property
    def members_total(self) -> int:
        return len(self.members)

    @property
    def members_listed(self) -> tuple[Member, ...]:
        return self.members[: self.members_shown]
