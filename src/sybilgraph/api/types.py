"""The GraphQL object types, and the two field rules everything sensitive goes through.

* ``masked_field(kind)``: the field carries an identifier value (card token, IP, device, TLS
  fingerprint, prompt template, e-mail domain). The ``MaskIdentifier`` extension applies
  ``masking.POLICY`` for the caller's role, and the ``@masked`` directive shows it in the SDL.
  A test walks the schema and fails on any identifier-looking field without both.
* ``RequireRole(role)`` (with ``@requiresRole``): the field needs at least that role.

Objects are built from loader rows (``from_row``); every nested field that needs more rows asks
a loader (``info.context.loaders``), never the database, so a response costs a few statements
whatever its size.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, NewType

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.scalars import JSON
from strawberry.schema_directive import Location
from strawberry.types import Info as StrawberryInfo

from sybilgraph.settings.api import Role
from sybilgraph.api.context import ApiContext
from sybilgraph.api.errors import BadInput, Forbidden
from sybilgraph.api.loaders import (
    KIND_OF_REL,
    IdentifierKey,
    MembersKey,
    TimelineKey,
    parse_json_list,
    parse_json_object,
)
from sybilgraph.api.pagination import Connection, Edge, check_first, decode_cursor, encode_cursor, page

if TYPE_CHECKING:
    from sybilgraph.api.organisations import OrganisationDecision, OrganisationHypothesis, OrganisationStatus

log = logging.getLogger("sybilgraph.api")

Info = StrawberryInfo[ApiContext, None]
# What a viewer reads instead of a failed run's exception text (which may name data or paths).
VIEWER_RUN_ERROR = "The run failed; analysts can read why."
Long = NewType("Long", int)

LONG_SCALAR = strawberry.scalar(
    name="Long",
    description="A 64-bit integer (token counts exceed 32 bits), as a JSON number.",
    serialize=int,
    parse_value=int,
)

# -- rules -----------------------------------------------------------------------------------
RoleEnum = strawberry.enum(Role, name="Role", description="What a caller may see and do: viewer < analyst < admin.")


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION],
    name="masked",
    description="The field carries an identifier value, masked per the caller's role (docs/api.md). "
    "kind: the identifier kind, or null when the object's own `kind` field names it.",
)
class MaskedDirective:
    kind: str | None = None


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION],
    name="requiresRole",
    description="Only callers with at least this role may use the field.",
)
class RequiresRoleDirective:
    role: str


class MaskIdentifier(FieldExtension):
    """Masks the resolved value for the caller's role; the kind is fixed or the object's ``kind``."""

    def __init__(self, kind: str | None = None) -> None:
        self.kind = kind

    def _mask(self, value: Any, source: Any, info: Info) -> Any:
        if value is None:
            return None
        kind = self.kind or _kind_name(getattr(source, "kind", None))
        return info.context.mask(
            kind, str(value), bin=getattr(source, "card_bin", None), last4=getattr(source, "card_last4", None)
        )

    def resolve(self, next_: Callable[..., Any], source: Any, info: Info, **kwargs: Any) -> Any:
        return self._mask(next_(source, info, **kwargs), source, info)

    async def resolve_async(self, next_: Callable[..., Awaitable[Any]], source: Any, info: Info, **kwargs: Any) -> Any:
        return self._mask(await next_(source, info, **kwargs), source, info)


class RequireRole(FieldExtension):
    def __init__(self, role: Role) -> None:
        self.role = role

    def _check(self, info: Info) -> None:
        if not info.context.role.at_least(self.role):
            raise Forbidden(
                f"Forbidden: '{info.field_name}' requires the {self.role.value} role "
                f"(you have {info.context.role.value})."
            )

    def resolve(self, next_: Callable[..., Any], source: Any, info: Info, **kwargs: Any) -> Any:
        self._check(info)
        return next_(source, info, **kwargs)

    async def resolve_async(self, next_: Callable[..., Awaitable[Any]], source: Any, info: Info, **kwargs: Any) -> Any:
        self._check(info)
        return await next_(source, info, **kwargs)


def masked_field(kind: str | None = None, description: str | None = None) -> Any:
    return strawberry.field(
        description=description,
        extensions=[MaskIdentifier(kind)],
        directives=[MaskedDirective(kind=kind)],
    )


def _kind_name(kind: Any) -> str:
    return kind.value if isinstance(kind, Enum) else str(kind)


def _json(text: str | None) -> JSON | None:
    value = parse_json_object(text)
    return JSON(value) if value is not None else None


def _dt(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, tz=UTC) if ms is not None else None


# -- enums and inputs ------------------------------------------------------------------------
@strawberry.enum(description="Kinds of identifier an account can share with others.")
class IdentifierKind(Enum):
    CARD = "card"
    IP = "ip"
    SUBNET = "subnet"
    DEVICE = "device"
    TLS = "tls"
    TEMPLATE = "template"
    EMAIL_DOMAIN = "email_domain"


@strawberry.enum(description="An analyst's verdict on an account's attribution to an operator.")
class DecisionKind(Enum):
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


@strawberry.enum
class RunStatus(Enum):
    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"


@strawberry.enum
class OperatorOrderField(Enum):
    SIZE = "size"
    CAMPAIGN_SCORE = "campaign_score"


@strawberry.enum
class OrderDirection(Enum):
    ASC = "asc"
    DESC = "desc"


@strawberry.input(description="An identifier value of one kind, e.g. {kind: IP, value: \"203.0.113.7\"}.")
class IdentifierInput:
    kind: IdentifierKind
    value: str


@strawberry.input
class OperatorFilter:
    flagged: bool | None = None
    min_size: int | None = None
    label: str | None = strawberry.field(default=None, description="Exact label, case-insensitive.")


@strawberry.input
class OperatorOrder:
    field: OperatorOrderField = OperatorOrderField.CAMPAIGN_SCORE
    direction: OrderDirection = OrderDirection.DESC


# -- small value types -----------------------------------------------------------------------
@strawberry.type
class CategoryShare:
    category: str
    count: int
    share: float


@strawberry.type(description="Totals over every ingested interaction of the account.")
class ActivitySummary:
    n_interactions: int
    input_tokens: Long
    output_tokens: Long
    total_tokens: Long
    first_interaction: datetime | None
    last_interaction: datetime | None
    hour_of_week: list[int] = strawberry.field(
        description="168 counts: interactions per hour of the week, Monday 00:00 UTC first."
    )
    category_mix: list[CategoryShare]
    n_sessions: int | None
    n_ips: int | None
    n_devices: int | None
    n_templates: int | None
    n_tls: int | None
    n_cards: int | None


@strawberry.type
class KnownLabel:
    name: str
    source: str | None


@strawberry.type
class CampaignFeature:
    name: str
    value: float


@strawberry.type
class PhaseTiming:
    phase: str
    seconds: float


@strawberry.type
class Me:
    user: str
    role: RoleEnum  # type: ignore[valid-type]


@strawberry.type(description="An identifier value as evidence: how many of the operator's members share it.")
class SharedIdentifier:
    kind: IdentifierKind
    value: str = masked_field(None)
    n_accounts: int | None = strawberry.field(description="Accounts that ever used it (its rarity).")
    members_sharing: int | None
    weight: float | None
    card_bin: strawberry.Private[str | None] = None
    card_last4: strawberry.Private[str | None] = None

    @strawberry.field(description="An opaque reference to this identifier: pivot with `accounts(handle: ...)` "
                      "(viewers cannot look raw values up).")
    def handle(self, info: Info) -> str:
        return info.context.handle(self.kind.value, self.value)


@strawberry.type(description="One hop of an evidence path: an identifier node between two accounts.")
class IdentifierRef:
    kind: IdentifierKind
    value: str = masked_field(None)
    n_accounts: int | None
    card_bin: strawberry.Private[str | None] = None
    card_last4: strawberry.Private[str | None] = None

    @strawberry.field(description="An opaque reference to this identifier: pivot with `accounts(handle: ...)` "
                      "(viewers cannot look raw values up).")
    def handle(self, info: Info) -> str:
        return info.context.handle(self.kind.value, self.value)


# -- accounts --------------------------------------------------------------------------------
@strawberry.type(description="An account of the AI provider: profile, activity, identifiers, attribution.")
class Account:
    id: strawberry.ID
    created_at: datetime | None
    email_domain: str | None = masked_field("email_domain")
    country: str | None
    status: str | None
    signup_ip: str | None = masked_field("ip")
    activity: ActivitySummary

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> Account:
        names = list(r.get("category_names") or [])
        counts = [int(c) for c in (r.get("category_counts") or [])]
        total = sum(counts) or 1
        tin, tout = int(r.get("input_tokens") or 0), int(r.get("output_tokens") or 0)
        hist = [int(x) for x in (r.get("hour_hist") or [])] or [0] * 168
        return cls(
            id=strawberry.ID(r["account_id"]),
            created_at=_dt(r.get("created_at")),
            email_domain=r.get("email_domain"),
            country=r.get("country"),
            status=r.get("status"),
            signup_ip=r.get("signup_ip"),
            activity=ActivitySummary(
                n_interactions=int(r.get("n_interactions") or 0),
                input_tokens=Long(tin),
                output_tokens=Long(tout),
                total_tokens=Long(tin + tout),
                first_interaction=_dt(r.get("first_interaction")),
                last_interaction=_dt(r.get("last_interaction")),
                hour_of_week=hist,
                category_mix=[CategoryShare(category=n, count=c, share=round(c / total, 6)) for n, c in zip(names, counts)],
                n_sessions=r.get("n_sessions"),
                n_ips=r.get("n_ips"),
                n_devices=r.get("n_devices"),
                n_templates=r.get("n_templates"),
                n_tls=r.get("n_tls"),
                n_cards=r.get("n_cards"),
            ),
        )

    @strawberry.field(description="Identifiers this account shares with at least one other account.")
    async def identifiers(self, info: Info, kind: IdentifierKind | None = None) -> list[IdentifierUse]:
        rows = await info.context.loaders.account_identifiers.load(str(self.id))
        out: list[IdentifierUse] = []
        for r in rows:
            k = KIND_OF_REL.get(r["rel"])
            if k is None or (kind is not None and k != kind.value):
                continue
            out.append(
                IdentifierUse(
                    kind=IdentifierKind(k),
                    value=r["value"],
                    n_accounts=r.get("n_accounts"),
                    count=r.get("count"),
                    first_seen=_dt(r.get("first_seen")),
                    last_seen=_dt(r.get("last_seen")),
                    raw_value=r["value"],
                    card_bin=r.get("bin"),
                    card_last4=r.get("last4"),
                )
            )
        return out

    @strawberry.field(description="Its current attribution: the operator the current run placed it with, how "
                      "sure, and the evidence.")
    async def attribution(self, info: Info) -> Attribution | None:
        rows = await info.context.loaders.account_attributions.load(str(self.id))
        current = next((r for r in rows if r["current"]), None)
        return Attribution.from_row(current) if current else None

    @strawberry.field(description="The account's control epochs by the current run: one while a single "
                      "controller held it; two when it changed hands (the owner's life, not attributed, "
                      "then the current controller's, attributed).")
    async def control_epochs(self, info: Info) -> list[ControlEpoch]:
        rows = await info.context.loaders.account_attributions.load(str(self.id))
        current = next((r for r in rows if r["current"]), None)
        change = _dt(current.get("controlled_from")) if current else None
        if change is None:
            return [ControlEpoch(start=self.created_at, end=None, attributed=current is not None)]
        return [ControlEpoch(start=self.created_at, end=change, attributed=False),
                ControlEpoch(start=change, end=None, attributed=True)]

    @strawberry.field(description="Attributions of this account in every run still kept, newest first.")
    async def attribution_history(self, info: Info) -> list[Attribution]:
        rows = await info.context.loaders.account_attributions.load(str(self.id))
        return [Attribution.from_row(r) for r in rows]

    @strawberry.field(description="Analyst decisions about this account, newest first.")
    async def decisions(self, info: Info) -> list[AnalystDecision]:
        rows = await info.context.loaders.account_decisions.load(str(self.id))
        return [AnalystDecision.from_row(r) for r in rows]

    @strawberry.field(description="Operator names investigators gave this account (the labels table).")
    async def known_labels(self, info: Info) -> list[KnownLabel]:
        rows = await info.context.loaders.account_labels.load(str(self.id))
        return [KnownLabel(name=r["name"], source=r.get("source")) for r in rows]


async def load_account(info: Info, account_id: str | None) -> Account | None:
    if account_id is None:
        return None
    row = await info.context.loaders.account.load(account_id)
    return Account.from_row(row) if row else None


async def load_operator(info: Info, operator_id: str | None) -> Operator | None:
    if operator_id is None:
        return None
    row = await info.context.loaders.operator.load(operator_id)
    return Operator.from_row(row) if row else None


async def load_run(info: Info, run_id: str | None) -> AttributionRun | None:
    if run_id is None:
        return None
    row = await info.context.loaders.run.load(run_id)
    return AttributionRun.from_row(row) if row else None


async def evidence_items(info: Info, items: list[dict[str, Any]]) -> list[SharedIdentifier]:
    """Evidence JSON -> SharedIdentifier; cards get BIN/last4 (one batched lookup) for masking."""
    known = [i for i in items if i.get("kind") in IdentifierKind._value2member_map_ and i.get("value") is not None]
    cards: dict[str, dict[str, Any] | None] = {}
    card_values = sorted({str(i["value"]) for i in known if i["kind"] == "card"})
    if card_values and info.context.role is not Role.ADMIN:
        found = await info.context.loaders.card.load_many(card_values)
        cards = dict(zip(card_values, found))
    out: list[SharedIdentifier] = []
    for i in known:
        card = cards.get(str(i["value"])) or {}
        out.append(
            SharedIdentifier(
                kind=IdentifierKind(i["kind"]),
                value=str(i["value"]),
                n_accounts=i.get("n_accounts"),
                members_sharing=i.get("members_sharing"),
                weight=i.get("weight"),
                card_bin=card.get("bin"),
                card_last4=card.get("last4"),
            )
        )
    return out


@strawberry.type(description="An account that used an identifier, and how.")
class IdentifierAccountEdge:
    cursor: str
    uses: int | None = strawberry.field(description="How often the account used the identifier.")
    first_seen: datetime | None
    last_seen: datetime | None
    account_id: strawberry.Private[str]

    @strawberry.field
    async def node(self, info: Info) -> Account | None:
        return await load_account(info, self.account_id)


@strawberry.enum(description="Where an identifier lookup was answered from.")
class LookupSource(Enum):
    GRAPH = "graph"  # the identifier's links in Neo4j (used by two or more accounts)
    COLUMNAR = "columnar"  # every account's identifiers in the columnar store (one account's, hubs)


@strawberry.type(description="Every account that used one identifier.")
class IdentifierAccountConnection(Connection[IdentifierAccountEdge]):
    source: LookupSource = strawberry.field(
        default=LookupSource.GRAPH,
        description="GRAPH for identifiers the graph links (two or more accounts, not a hub); COLUMNAR for the "
        "rest (an identifier of one account, a hub), answered from the columnar store.",
    )


async def identifier_accounts(info: Info, kind: str, value: str, first: int, after: str | None) -> IdentifierAccountConnection:
    check_first(first)
    after_id = decode_cursor("account", after)
    if after_id is not None and not isinstance(after_id, str):
        raise BadInput("Invalid cursor for 'after'.")
    found = await info.context.loaders.identifier_accounts.load(IdentifierKey(kind, value, after_id, first + 1))
    connection = page(IdentifierAccountConnection, found.rows, first, after, lambda r: IdentifierAccountEdge(
        cursor=encode_cursor("account", r["account_id"]),
        uses=r.get("count"),
        first_seen=_dt(r.get("first_seen")),
        last_seen=_dt(r.get("last_seen")),
        account_id=r["account_id"],
    ), found.total)
    connection.source = LookupSource(found.source)
    return connection


@strawberry.type(description="An identifier an account used that at least one other account used too.")
class IdentifierUse:
    kind: IdentifierKind
    value: str = masked_field(None)
    n_accounts: int | None = strawberry.field(description="Accounts that ever used it (its rarity).")
    count: int | None = strawberry.field(description="How often this account used it.")
    first_seen: datetime | None
    last_seen: datetime | None
    raw_value: strawberry.Private[str]
    card_bin: strawberry.Private[str | None] = None
    card_last4: strawberry.Private[str | None] = None

    @strawberry.field(description="Every account that used this identifier (pivot without seeing the value).")
    async def accounts(self, info: Info, first: int = 20, after: str | None = None) -> IdentifierAccountConnection:
        return await identifier_accounts(info, self.kind.value, self.raw_value, first, after)

    @strawberry.field(description="An opaque reference to this identifier: pivot with `accounts(handle: ...)` "
                      "(viewers cannot look raw values up).")
    def handle(self, info: Info) -> str:
        return info.context.handle(self.kind.value, self.raw_value)


# -- attribution -----------------------------------------------------------------------------
@strawberry.type(description="A span of an account's life under one controller.")
class ControlEpoch:
    start: datetime | None = strawberry.field(description="Its start (the account's creation for the first).")
    end: datetime | None = strawberry.field(description="When control changed; null for the current epoch.")
    attributed: bool = strawberry.field(description="Whether attribution weighs this epoch's evidence.")


@strawberry.type(description="An account's place with an operator in one attribution run.")
class Attribution:
    run_id: strawberry.ID
    current: bool = strawberry.field(description="True for the current run's attribution.")
    confidence: float | None
    provisional: bool
    controlled_from: datetime | None = strawberry.field(
        description="When the account changed hands (account takeover, read off its devices, clients and "
        "networks switching at once): it is attributed by what it did from then on, and what it shared "
        "before (its owner's household) ties it to nobody. Null when one controller held it throughout.")
    operator_id: strawberry.Private[str]
    evidence_json: strawberry.Private[str | None]

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> Attribution:
        return cls(
            run_id=strawberry.ID(r["run_id"]),
            current=bool(r["current"]),
            confidence=r.get("confidence"),
            provisional=bool(r.get("provisional")),
            controlled_from=_dt(r.get("controlled_from")),
            operator_id=r["operator_id"],
            evidence_json=r.get("evidence_json"),
        )

    @strawberry.field
    async def operator(self, info: Info) -> Operator | None:
        return await load_operator(info, self.operator_id)

    @strawberry.field
    async def run(self, info: Info) -> AttributionRun | None:
        return await load_run(info, str(self.run_id))

    @strawberry.field(description="Identifiers tying the account to the operator's other members, strongest first.")
    async def evidence(self, info: Info) -> list[SharedIdentifier]:
        return await evidence_items(info, parse_json_list(self.evidence_json))


@strawberry.type(description="An analyst's verdict; the next attribution run honours the latest one per pair.")
class AnalystDecision:
    decision: DecisionKind
    by: str
    at: datetime | None
    reason: str | None
    account_id: strawberry.Private[str]
    operator_id: strawberry.Private[str]

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> AnalystDecision:
        return cls(
            decision=DecisionKind(r["decision"]),
            by=r.get("by") or "",
            at=_dt(r.get("at")),
            reason=r.get("reason"),
            account_id=r["account_id"],
            operator_id=r["operator_id"],
        )

    @strawberry.field
    async def account(self, info: Info) -> Account | None:
        return await load_account(info, self.account_id)

    @strawberry.field
    async def operator(self, info: Info) -> Operator | None:
        return await load_operator(info, self.operator_id)


@strawberry.type(description="A member of an operator in the current run.")
class MemberEdge:
    cursor: str
    confidence: float | None
    provisional: bool
    account_id: strawberry.Private[str]

    @strawberry.field
    async def node(self, info: Info) -> Account | None:
        return await load_account(info, self.account_id)


@strawberry.type
class MemberConnection(Connection[MemberEdge]):
    pass


@strawberry.type
class LineageLink:
    run_id: strawberry.ID
    shared: int | None = strawberry.field(description="Accounts the two operators had in common.")
    operator_id: strawberry.Private[str]

    @strawberry.field
    async def operator(self, info: Info) -> Operator | None:
        return await load_operator(info, self.operator_id)


def _links(rows: list[dict[str, Any]] | None) -> list[LineageLink]:
    return [
        LineageLink(run_id=strawberry.ID(r["run_id"]), shared=r.get("shared"), operator_id=r["operator_id"])
        for r in sorted(rows or [], key=lambda x: (str(x.get("run_id")), str(x.get("operator_id"))))
    ]


@strawberry.type(description="How this operator relates to operators of earlier runs.")
class OperatorLineage:
    split_from: list[LineageLink] = strawberry.field(description="Operators this one took members from.")
    split_into: list[LineageLink] = strawberry.field(description="Operators that took members from this one.")
    merged_into: list[LineageLink] = strawberry.field(description="Operators this one's members now live in.")
    merged_from: list[LineageLink] = strawberry.field(description="Operators whose members now live in this one.")


@strawberry.type(description="Interactions of an operator's current members on one UTC day.")
class DailyActivity:
    day: date
    interactions: Long
    input_tokens: Long
    output_tokens: Long
    active_accounts: int


@strawberry.type
class OperatorRunScore:
    run_id: strawberry.ID
    started_at: datetime | None
    size: int | None
    campaign_score: float | None
    flagged: bool | None
    label: str | None


@strawberry.type(description="The operator behind a group of accounts, as the current run sees it.")
class Operator:
    id: strawberry.ID
    label: str | None
    label_conflict: list[str] = strawberry.field(description="Other labels its members carry.")
    analyst_label: str | None = strawberry.field(description="A label set by an analyst; it wins in later runs.")
    size: int
    campaign_score: float
    flagged: bool = strawberry.field(description="Judged a distillation campaign.")
    retired: bool = strawberry.field(description="Not part of the current run (kept for lineage).")
    first_run_id: str | None
    last_run_id: str | None
    features_json: strawberry.Private[str | None]
    evidence_json: strawberry.Private[str | None]

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> Operator:
        return cls(
            id=strawberry.ID(r["operator_id"]),
            label=r.get("label"),
            label_conflict=list(r.get("label_conflict") or []),
            analyst_label=r.get("analyst_label"),
            size=int(r.get("size") or 0),
            campaign_score=float(r.get("campaign_score") or 0.0),
            flagged=bool(r.get("flagged")),
            retired=not r.get("in_current_run", False),
            first_run_id=r.get("first_run_id"),
            last_run_id=r.get("last_run_id"),
            features_json=r.get("features_json"),
            evidence_json=r.get("evidence_json"),
        )

    @strawberry.field(description="The campaign features behind the score and the flag, each in [0, 1].")
    def features(self) -> list[CampaignFeature]:
        feats = parse_json_object(self.features_json) or {}
        return [
            CampaignFeature(name=str(k), value=float(v))
            for k, v in sorted(feats.items())
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        ]

    @strawberry.field(description="Identifiers most shared among its members, with counts, strongest first.")
    async def top_identifiers(self, info: Info, first: int = 10) -> list[SharedIdentifier]:
        check_first(first)
        return (await evidence_items(info, parse_json_list(self.evidence_json)))[:first]

    @strawberry.field(description="Its accounts in the current run, by account id.")
    async def members(self, info: Info, first: int = 20, after: str | None = None) -> MemberConnection:
        check_first(first)
        after_id = decode_cursor("member", after)
        if after_id is not None and not isinstance(after_id, str):
            raise BadInput("Invalid cursor for 'after'.")
        found = await info.context.loaders.operator_members.load(MembersKey(str(self.id), after_id, first + 1))
        return page(MemberConnection, found.rows, first, after, lambda r: MemberEdge(
            cursor=encode_cursor("member", r["account_id"]),
            confidence=r.get("confidence"),
            provisional=bool(r.get("provisional")),
            account_id=r["account_id"],
        ), found.total)

    @strawberry.field
    async def lineage(self, info: Info) -> OperatorLineage:
        r = await info.context.loaders.operator_lineage.load(str(self.id)) or {}
        return OperatorLineage(
            split_from=_links(r.get("split_from")),
            split_into=_links(r.get("split_into")),
            merged_into=_links(r.get("merged_into")),
            merged_from=_links(r.get("merged_from")),
        )

    @strawberry.field(description="Interactions per UTC day of its current members (columnar store).")
    async def timeline(
        self,
        info: Info,
        from_: Annotated[date | None, strawberry.argument(name="from")] = None,
        to: date | None = None,
    ) -> list[DailyActivity]:
        rows = await info.context.loaders.operator_timeline.load(TimelineKey(str(self.id), from_, to))
        return [
            DailyActivity(
                day=r.day,
                interactions=Long(r.interactions),
                input_tokens=Long(r.input_tokens),
                output_tokens=Long(r.output_tokens),
                active_accounts=r.active_accounts,
            )
            for r in rows
        ]

    @strawberry.field(description="Its size and scores in every run it was part of, newest first.")
    async def history(self, info: Info) -> list[OperatorRunScore]:
        rows = await info.context.loaders.operator_history.load(str(self.id))
        return [
            OperatorRunScore(
                run_id=strawberry.ID(r["run_id"]),
                started_at=_dt(r.get("started_at")),
                size=r.get("size"),
                campaign_score=r.get("campaign_score"),
                flagged=r.get("flagged"),
                label=r.get("label"),
            )
            for r in rows
        ]

    @strawberry.field(description="Analyst decisions about its accounts, newest first.")
    async def decisions(self, info: Info) -> list[AnalystDecision]:
        rows = await info.context.loaders.operator_decisions.load(str(self.id))
        return [AnalystDecision.from_row(r) for r in rows]

    # The organisation step (api/organisations.py).
    @strawberry.field(description="Organisations the current run names as running it (none when UNATTRIBUTED), "
                      "with the evidence; `leads: true` (analysts) adds the weaker hypotheses, ranked.")
    async def organisations(self, info: Info, leads: bool = False) -> list[
        Annotated[OrganisationHypothesis, strawberry.lazy("sybilgraph.api.organisations")]
    ]:
        from sybilgraph.api.organisations import hypotheses_of_operator

        return await hypotheses_of_operator(info, str(self.id), leads)

    @strawberry.field(description="Whether the current run names an organisation for it.")
    async def organisation_status(self, info: Info) -> Annotated[
        OrganisationStatus, strawberry.lazy("sybilgraph.api.organisations")
    ]:
        from sybilgraph.api.organisations import organisation_status

        return await organisation_status(info, str(self.id))

    @strawberry.field(description="Analyst decisions on its organisation hypotheses, newest first.")
    async def organisation_decisions(self, info: Info) -> list[
        Annotated[OrganisationDecision, strawberry.lazy("sybilgraph.api.organisations")]
    ]:
        from sybilgraph.api.organisations import OrganisationDecision

        rows = await info.context.loaders.operator_organisation_decisions.load(str(self.id))
        return [OrganisationDecision.from_row(r) for r in rows]


@strawberry.type(description="Operators matching a filter.")
class OperatorConnection(Connection[Edge[Operator]]):
    pass


# -- runs ------------------------------------------------------------------------------------
@strawberry.type(description="One `sybilgraph attribute` run: parameters, timings, metrics, progress.")
class AttributionRun:
    id: strawberry.ID
    status: RunStatus
    current: bool = strawberry.field(description="The last complete run, the one queries follow.")
    started_at: datetime | None
    finished_at: datetime | None
    seed: int | None
    parameters: JSON | None
    counts: JSON | None
    metrics: JSON | None
    progress: str | None = strawberry.field(description="The phase a running run is in.")
    error_text: strawberry.Private[str | None]
    timings_json: strawberry.Private[str | None]

    @strawberry.field(description="Why a failed run failed (analysts and admins; viewers read that it failed).")
    def error(self, info: Info) -> str | None:
        if self.error_text is None:
            return None
        if not info.context.role.at_least(Role.ANALYST):
            return VIEWER_RUN_ERROR
        return self.error_text

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> AttributionRun:
        try:
            status = RunStatus(r.get("status") or "running")
        except ValueError:
            status = RunStatus.FAILED
        return cls(
            id=strawberry.ID(r["run_id"]),
            status=status,
            current=bool(r.get("current")),
            started_at=_dt(r.get("started_at")),
            finished_at=_dt(r.get("finished_at")),
            seed=r.get("seed"),
            parameters=_json(r.get("params_json")),
            counts=_json(r.get("counts_json")),
            metrics=_json(r.get("metrics_json")),
            progress=r.get("progress"),
            error_text=r.get("error"),
            timings_json=r.get("timings_json"),
        )

    @strawberry.field(description="Seconds per phase, in the order the phases ran.")
    def timings(self) -> list[PhaseTiming]:
        t = parse_json_object(self.timings_json) or {}
        return [PhaseTiming(phase=str(k), seconds=float(v)) for k, v in t.items() if isinstance(v, (int, float))]

    @strawberry.field
    def duration_seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


@strawberry.type
class RunEdge(Edge[AttributionRun]):
    pass


@strawberry.type(description="Attribution runs, newest first.")
class RunConnection(Connection[RunEdge]):
    pass


# -- evidence paths --------------------------------------------------------------------------
@strawberry.type
class EvidenceStep:
    via: IdentifierRef
    from_id: strawberry.Private[str]
    to_id: strawberry.Private[str]

    @strawberry.field(name="from")
    async def from_(self, info: Info) -> Account | None:
        return await load_account(info, self.from_id)

    @strawberry.field
    async def to(self, info: Info) -> Account | None:
        return await load_account(info, self.to_id)


@strawberry.type(description="The shortest chain of shared identifiers between two accounts.")
class EvidencePath:
    hops: int = strawberry.field(description="Identifiers on the path (one per step).")
    steps: list[EvidenceStep]
    account_ids: strawberry.Private[list[str]]

    @strawberry.field(description="The accounts on the path, from `a` to `b`.")
    async def accounts(self, info: Info) -> list[Account | None]:
        rows = await info.context.loaders.account.load_many(self.account_ids)
        return [Account.from_row(r) if r else None for r in rows]


@strawberry.type
class StartedRun:
    run_id: strawberry.ID

    @strawberry.field
    async def run(self, info: Info) -> AttributionRun | None:
        return await load_run(info, str(self.run_id))
