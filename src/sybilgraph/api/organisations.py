"""GraphQL types of the organisation step (issue 15): who runs an operator, with the evidence.

Each attribution run writes ranked hypotheses ``(:Operator)-[:LIKELY_RUN_BY]->(:Organisation)``
(``attribution/organisations.py``); the one the evidence supports (or an analyst confirmed) is
*asserted*. The API names an organisation only for asserted hypotheses: an operator whose best
hypothesis is below the threshold is ``UNATTRIBUTED``, and its weak leads are shown only to
analysts who ask for them (``leads: true``), never as the answer.

Evidence items carry identifier values (e-mail domains, IPs, cards, devices, API keys); they are
masked per role by the same policy and field rule as every other identifier
(``types.masked_field``), and an organisation's e-mail domains are masked as e-mail domains so
that a viewer cannot read through them what an evidence item's mask hides.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from sybilgraph.api.errors import BadInput, Forbidden
from sybilgraph.api.loaders import OrganisationAccountsKey, parse_json_list
from sybilgraph.api.pagination import Connection, Edge, check_first, decode_cursor, encode_cursor, page
from sybilgraph.api.types import (
    Account,
    DecisionKind,
    Info,
    MaskedDirective,
    MaskIdentifier,
    Operator,
    _dt,
    load_account,
    load_operator,
    masked_field,
)
from sybilgraph.settings.api import Role

__all__ = [
    "Organisation",
    "OrganisationConnection",
    "OrganisationDecision",
    "OrganisationFilter",
    "OrganisationHypothesis",
    "OrganisationStatus",
    "OrganisationTie",
    "hypotheses_of_operator",
    "load_organisation",
    "organisation_status",
]

@strawberry.enum(description="Identifier kinds an organisation tie can name ('label' ties name the organisation "
                 "itself and show through their accounts only).")
class TieIdentifierKind(Enum):
    EMAIL_DOMAIN = "email_domain"
    IP = "ip"
    CARD = "card"
    DEVICE = "device"
    API_KEY = "api_key"


@strawberry.enum(description="Whether attribution names an organisation for an operator.")
class OrganisationStatus(Enum):
    CONFIRMED = "confirmed"  # an analyst confirmed the organisation
    ATTRIBUTED = "attributed"  # the evidence reached the threshold
    UNATTRIBUTED = "unattributed"  # no hypothesis is strong enough: no organisation is named


@strawberry.input(description="Which organisations to list; every condition given must hold.")
class OrganisationFilter:
    name: str | None = strawberry.field(default=None, description="A fragment of the name or id, case-insensitive.")
    confirmed: bool | None = strawberry.field(
        default=None, description="True: listed by the organisations table; false: discovered by attribution or named "
        "by an analyst.")
    attributed: bool | None = strawberry.field(
        default=None, description="True: the current run names it as running at least one operator.")


class MaskEach(MaskIdentifier):
    """``MaskIdentifier`` for a list of values of one kind."""

    def _mask(self, value: Any, source: Any, info: Info) -> Any:
        if value is None:
            return None
        return [info.context.mask(str(self.kind), str(v)) for v in value]


@strawberry.type(description="An identifier behind an organisation tie (masked per role like every identifier).")
class TieIdentifier:
    kind: TieIdentifierKind
    value: str = masked_field(None)
    card_bin: strawberry.Private[str | None] = None
    card_last4: strawberry.Private[str | None] = None

    @strawberry.field(description="An opaque reference to this identifier: pivot with `accounts(handle: ...)`.")
    def handle(self, info: Info) -> str:
        return info.context.handle(self.kind.value, self.value)


@strawberry.type(description="One comparison behind a hypothesis: which of the operator's accounts tie it to the "
                 "organisation, through which identifiers, and how much that weighs against the organisation's base rate.")
class OrganisationTie:
    comparison: str = strawberry.field(description="domain, office_network, hosted_network, access_network, card, "
                                       "device, ip, api_key or label.")
    level: str = strawberry.field(description="The comparison level: how popular the organisation's identifiers are "
                                  "in the population, and how many members carry the tie.")
    weight: float = strawberry.field(description="log2(m/u) in bits: positive for, negative against.")
    members: int = strawberry.field(description="The operator's accounts with this tie.")
    popularity: float | None = strawberry.field(
        description="Share of all accounts with such a tie to the organisation (its base rate).")
    account_ids: strawberry.Private[list[str]]
    raw_identifiers: strawberry.Private[list[dict[str, Any]]]
    operator_id: strawberry.Private[str]

    @strawberry.field(description="The operator's accounts behind the tie (up to 20).")
    async def accounts(self, info: Info) -> list[Account]:
        rows = await info.context.loaders.account.load_many(self.account_ids)
        return [Account.from_row(r) for r in rows if r]

    @strawberry.field(description="The identifiers behind the tie (up to 20).")
    async def identifiers(self, info: Info) -> list[TieIdentifier]:
        items = [i for i in self.raw_identifiers
                 if i.get("kind") in TieIdentifierKind._value2member_map_ and i.get("value") is not None]
        cards: dict[str, Any] = {}
        card_values = sorted({str(i["value"]) for i in items if i["kind"] == "card"})
        if card_values and info.context.role is not Role.ADMIN:
            cards = dict(zip(card_values, await info.context.loaders.card.load_many(card_values)))
        out = []
        for i in items:
            card = cards.get(str(i["value"])) or {}
            out.append(TieIdentifier(kind=TieIdentifierKind(i["kind"]), value=str(i["value"]), card_bin=card.get("bin"),
                                     card_last4=card.get("last4")))
        return out

    @strawberry.field(description="The operator the tie belongs to.")
    async def operator(self, info: Info) -> Operator | None:
        return await load_operator(info, self.operator_id)

    @classmethod
    def from_item(cls, operator_id: str, e: dict[str, Any]) -> OrganisationTie:
        return cls(
            comparison=str(e.get("comparison", "")),
            level=str(e.get("level", "")),
            weight=float(e.get("weight") or 0.0),
            members=int(e.get("members") or 0),
            popularity=e.get("popularity"),
            account_ids=[str(a) for a in e.get("accounts") or []],
            raw_identifiers=[i for i in e.get("identifiers") or [] if isinstance(i, dict)],
            operator_id=operator_id,
        )


@strawberry.type(description="A hypothesis of the current run that an organisation runs an operator.")
class OrganisationHypothesis:
    score: float = strawberry.field(description="Bits: log2 likelihood ratio of 'this organisation runs the operator' "
                                    "against the organisation's base rate.")
    probability: float = strawberry.field(description="Posterior, an operator being run by at most one organisation.")
    rank: int = strawberry.field(description="1 for the operator's strongest hypothesis.")
    asserted: bool = strawberry.field(description="Attribution names this organisation (above the threshold, or "
                                      "confirmed by an analyst); false for a lead.")
    decision: DecisionKind | None = strawberry.field(description="An analyst's confirmation this run honoured.")
    run_id: strawberry.ID
    operator_id: strawberry.Private[str]
    org_id: strawberry.Private[str]
    evidence_json: strawberry.Private[str | None]

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> OrganisationHypothesis:
        decision = r.get("decision")
        return cls(
            score=float(r.get("score") or 0.0),
            probability=float(r.get("probability") or 0.0),
            rank=int(r.get("rank") or 0),
            asserted=bool(r.get("asserted")),
            decision=DecisionKind(decision) if decision in DecisionKind._value2member_map_ else None,
            run_id=strawberry.ID(str(r.get("run_id") or "")),
            operator_id=str(r["operator_id"]),
            org_id=str(r["org_id"]),
            evidence_json=r.get("evidence_json"),
        )

    @strawberry.field
    async def organisation(self, info: Info) -> Organisation | None:
        return await load_organisation(info, self.org_id)

    @strawberry.field
    async def operator(self, info: Info) -> Operator | None:
        return await load_operator(info, self.operator_id)

    @strawberry.field(description="The ties behind the score, strongest first: accounts, identifiers, weight.")
    def evidence(self) -> list[OrganisationTie]:
        return [OrganisationTie.from_item(self.operator_id, e) for e in parse_json_list(self.evidence_json)]


@strawberry.type(description="An account of an operator an organisation is asserted to run.")
class OrganisationAccountEdge:
    cursor: str
    confidence: float | None
    account_id: strawberry.Private[str]
    operator_id: strawberry.Private[str]

    @strawberry.field
    async def node(self, info: Info) -> Account | None:
        return await load_account(info, self.account_id)

    @strawberry.field(description="The operator the account belongs to.")
    async def operator(self, info: Info) -> Operator | None:
        return await load_operator(info, self.operator_id)


@strawberry.type
class OrganisationAccountConnection(Connection[OrganisationAccountEdge]):
    pass


@strawberry.type(description="An organisation: listed by the organisations table (confirmed), or discovered by "
                 "attribution from network owners, corporate e-mail domains or labels, or named by an analyst.")
class Organisation:
    id: strawberry.ID
    name: str
    confirmed: bool = strawberry.field(description="Listed by the organisations table.")
    kind: str | None
    country: str | None
    source: str | None = strawberry.field(description="Where it comes from: organisations table, network owner, "
                                          "investigators' label, attribution (a corporate domain), analyst.")
    domains: list[str] = strawberry.field(
        description="Its e-mail domains (masked per role as e-mail domains).",
        extensions=[MaskEach("email_domain")],
        directives=[MaskedDirective(kind="email_domain")],
    )
    n_operators: int = strawberry.field(description="Operators the current run attributes to it.")

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> Organisation:
        return cls(
            id=strawberry.ID(r["org_id"]),
            name=str(r.get("name") or r["org_id"]),
            confirmed=bool(r.get("confirmed")),
            kind=r.get("kind"),
            country=r.get("country"),
            source=r.get("source"),
            domains=[str(d) for d in r.get("domains") or []],
            n_operators=int(r.get("n_operators") or 0),
        )

    @strawberry.field(description="Operators the current run attributes to it (one case: one organisation running "
                      "several farms).")
    async def operators(self, info: Info) -> list[Operator]:
        rows = await info.context.loaders.organisation_operators.load(str(self.id))
        found = await info.context.loaders.operator.load_many([r["operator_id"] for r in rows if r.get("asserted")])
        return [Operator.from_row(r) for r in found if r]

    @strawberry.field(description="The current run's hypotheses naming it: asserted ones, and with `leads: true` "
                      "(analysts) the weaker ones too.")
    async def hypotheses(self, info: Info, leads: bool = False) -> list[OrganisationHypothesis]:
        check_leads(info, leads)
        rows = await info.context.loaders.organisation_operators.load(str(self.id))
        return [OrganisationHypothesis.from_row(r) for r in rows if leads or r.get("asserted")]

    @strawberry.field(description="The ties of every operator attributed to it, strongest first.")
    async def evidence(self, info: Info) -> list[OrganisationTie]:
        rows = await info.context.loaders.organisation_operators.load(str(self.id))
        ties = [OrganisationTie.from_item(str(r["operator_id"]), e)
                for r in rows if r.get("asserted") for e in parse_json_list(r.get("evidence_json"))]
        return sorted(ties, key=lambda t: -t.weight)

    @strawberry.field(description="Accounts of the operators attributed to it in the current run, by account id.")
    async def accounts(self, info: Info, first: int = 20, after: str | None = None) -> OrganisationAccountConnection:
        check_first(first)
        after_id = decode_cursor("org-account", after)
        if after_id is not None and not isinstance(after_id, str):
            raise BadInput("Invalid cursor for 'after'.")
        found = await info.context.loaders.organisation_accounts.load(
            OrganisationAccountsKey(str(self.id), after_id, first + 1))
        return page(OrganisationAccountConnection, found.rows, first, after, lambda r: OrganisationAccountEdge(
            cursor=encode_cursor("org-account", r["account_id"]),
            confidence=r.get("confidence"),
            account_id=r["account_id"],
            operator_id=r["operator_id"],
        ), found.total)


@strawberry.type(description="Organisations matching a filter, by name.")
class OrganisationConnection(Connection[Edge[Organisation]]):
    pass


@strawberry.type(description="An analyst's verdict on an organisation hypothesis; later runs honour the latest one "
                 "per operator and organisation (a rejected organisation is not proposed again for that operator).")
class OrganisationDecision:
    decision: DecisionKind
    by: str
    at: datetime | None
    reason: str | None
    operator_id: strawberry.Private[str]
    org_id: strawberry.Private[str]

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> OrganisationDecision:
        return cls(decision=DecisionKind(r["decision"]), by=r.get("by") or "", at=_dt(r.get("at")),
                   reason=r.get("reason"), operator_id=str(r["operator_id"]), org_id=str(r["org_id"]))

    @strawberry.field
    async def operator(self, info: Info) -> Operator | None:
        return await load_operator(info, self.operator_id)

    @strawberry.field
    async def organisation(self, info: Info) -> Organisation | None:
        return await load_organisation(info, self.org_id)


def check_leads(info: Info, leads: bool) -> None:
    """Weak hypotheses are leads for analysts, not answers: viewers see asserted ones only."""
    if leads and not info.context.role.at_least(Role.ANALYST):
        raise Forbidden(f"Forbidden: 'leads' requires the analyst role (you have {info.context.role.value}).")


async def load_organisation(info: Info, org_id: str | None) -> Organisation | None:
    if org_id is None:
        return None
    row = await info.context.loaders.organisation.load(org_id)
    return Organisation.from_row(row) if row else None


async def hypotheses_of_operator(info: Info, operator_id: str, leads: bool) -> list[OrganisationHypothesis]:
    check_leads(info, leads)
    rows = await info.context.loaders.operator_organisations.load(operator_id)
    return [OrganisationHypothesis.from_row(r) for r in rows if leads or r.get("asserted")]


async def organisation_status(info: Info, operator_id: str) -> OrganisationStatus:
    rows = await info.context.loaders.operator_organisations.load(operator_id)
    asserted = [r for r in rows if r.get("asserted")]
    if not asserted:
        return OrganisationStatus.UNATTRIBUTED
    return OrganisationStatus.CONFIRMED if asserted[0].get("decision") == "confirmed" else OrganisationStatus.ATTRIBUTED
