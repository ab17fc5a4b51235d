"""The root Query and Mutation, the schema they make, and the validation rules it is served with.

Root resolvers validate their arguments (ids, page sizes, cursors, handles), then hand the rest
of the tree to the object types and their loaders. Every field needs an authenticated caller
(the gateway refuses anyone else); mutations need the analyst role (``RequireRole``) and go
through ``ApiContext.audited_write``. Looking accounts up by a raw identifier value needs the
analyst role too; viewers pivot by the handles they were shown (``handles.py``).
The SDL is committed as ``schema.graphql``; ``python -m sybilgraph.api.schema_export``
regenerates it, and a test fails while the two differ.
"""

from __future__ import annotations

import logging
from typing import Any

import strawberry
from graphql import ASTValidationRule, NoSchemaIntrospectionCustomRule
from strawberry.extensions.max_aliases import create_validator as alias_validator
from strawberry.extensions.query_depth_limiter import create_validator as depth_validator
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from sybilgraph.api.audit import bounded_text
from sybilgraph.settings.api import ApiSection, Role
from sybilgraph.api.errors import BadInput, Forbidden, NotFound
from sybilgraph.api.loaders import KIND_OF_REL
from sybilgraph.api.masking import looks_masked
from sybilgraph.api.organisations import (
    Organisation,
    OrganisationConnection,
    OrganisationDecision,
    OrganisationFilter,
    load_organisation,
)
from sybilgraph.api.pagination import (
    Edge,
    check_first,
    check_id,
    decode_cursor,
    encode_cursor,
    page,
)
from sybilgraph.api.types import (
    LONG_SCALAR,
    Account,
    AnalystDecision,
    AttributionRun,
    DecisionKind,
    EvidencePath,
    EvidenceStep,
    IdentifierAccountConnection,
    IdentifierInput,
    IdentifierKind,
    IdentifierRef,
    Info,
    Long,
    Me,
    Operator,
    OperatorConnection,
    OperatorFilter,
    OperatorOrder,
    OrderDirection,
    RequireRole,
    RequiresRoleDirective,
    RunConnection,
    RunEdge,
    RunStatus,
    StartedRun,
    identifier_accounts,
    load_account,
    load_operator,
    load_run,
)
from sybilgraph.identifiers import KINDS

__all__ = ["Mutation", "Query", "build_schema", "validation_rules"]

log = logging.getLogger("sybilgraph.api")

MAX_VALUE_LENGTH = 256
MAX_LABEL_LENGTH = 64
MAX_REASON_LENGTH = 2_000
# Tie-break between equally short, equally rare evidence paths: personal identifiers first.
_PATH_KIND_ORDER = ("card", "device", "ip", "template", "tls", "subnet", "email_domain")
PATH_RANK = {KINDS[k].rel: i for i, k in enumerate(_PATH_KIND_ORDER)}


def analyst_field(description: str) -> Any:
    return strawberry.mutation(
        description=description,
        extensions=[RequireRole(Role.ANALYST)],
        directives=[RequiresRoleDirective(role=Role.ANALYST.value)],
    )


@strawberry.type
class Query:
    @strawberry.field(description="The caller, as the server sees them.")
    def me(self, info: Info) -> Me:
        p = info.context.principal
        assert p is not None  # the audit gate refuses unauthenticated operations
        return Me(user=p.user, role=p.role)

    @strawberry.field(description="One account by id; null when there is none.")
    async def account(self, info: Info, id: strawberry.ID) -> Account | None:
        return await load_account(info, check_id(str(id), "id"))

    @strawberry.field(description="Every account that used an identifier: by its value (`identifier`, analysts "
                      "and admins) or by the `handle` shown beside it (any role), by account id.")
    async def accounts(
        self,
        info: Info,
        identifier: IdentifierInput | None = None,
        handle: str | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> IdentifierAccountConnection:
        check_first(first)
        kind, value = lookup_target(info, identifier, handle)
        info.context.note_lookup(kind, value)
        return await identifier_accounts(info, kind, value, first, after)

    @strawberry.field(description="One operator by id (current or retired); null when there is none.")
    async def operator(self, info: Info, id: strawberry.ID) -> Operator | None:
        return await load_operator(info, check_id(str(id), "id"))

    @strawberry.field(description="Operators of the current run, filtered and ordered (default: campaign score, "
                      "highest first).")
    async def operators(
        self,
        info: Info,
        filter: OperatorFilter | None = None,
        order_by: OperatorOrder | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> OperatorConnection:
        check_first(first)
        f = filter or OperatorFilter()
        order = order_by or OperatorOrder()
        if f.min_size is not None and f.min_size < 0:
            raise BadInput("Filter 'minSize' must not be negative.")
        if f.label is not None and not 1 <= len(f.label) <= MAX_LABEL_LENGTH:
            raise BadInput(f"Filter 'label' must be 1 to {MAX_LABEL_LENGTH} characters.")
        tag = f"operator:{order.field.value}:{order.direction.value}"
        key = decode_cursor(tag, after)
        if key is not None and not (
            isinstance(key, list) and len(key) == 2 and isinstance(key[0], (int, float)) and isinstance(key[1], str)
        ):
            raise BadInput("Invalid cursor for 'after'.")
        params: dict[str, Any] = {
            "flagged": f.flagged,
            "min_size": f.min_size,
            "label": f.label,
        }
        db = info.context.db
        rows = await db.read(
            "api/list_operators",
            **params,
            field=order.field.value,
            sign=1.0 if order.direction is OrderDirection.ASC else -1.0,
            after_key=float(key[0]) if key else None,
            after_id=key[1] if key else None,
            limit=first + 1,
        )
        def edge(r: dict[str, Any]) -> Edge[Operator]:
            info.context.loaders.prime_operator(r)
            return Edge(cursor=encode_cursor(tag, [r["sort_key"], r["operator_id"]]), node=Operator.from_row(r))

        async def count() -> int:
            return int((await db.read("api/count_operators", **params))[0]["total"])

        return page(OperatorConnection, rows, first, after, edge, count)

    @strawberry.field(description="One organisation by id; null when there is none.")
    async def organisation(self, info: Info, id: strawberry.ID) -> Organisation | None:
        return await load_organisation(info, check_id(str(id), "id"))

    @strawberry.field(description="Organisations (listed, discovered by attribution, or named by analysts), by name.")
    async def organisations(
        self, info: Info, filter: OrganisationFilter | None = None, first: int = 20, after: str | None = None
    ) -> OrganisationConnection:
        check_first(first)
        f = filter or OrganisationFilter()
        if f.name is not None and not 1 <= len(f.name) <= MAX_LABEL_LENGTH:
            raise BadInput(f"Filter 'name' must be 1 to {MAX_LABEL_LENGTH} characters.")
        key = decode_cursor("organisation", after)
        if key is not None and not (isinstance(key, list) and len(key) == 2 and all(isinstance(k, str) for k in key)):
            raise BadInput("Invalid cursor for 'after'.")
        params: dict[str, Any] = {"name_part": f.name, "confirmed": f.confirmed, "attributed": f.attributed}
        db = info.context.db
        rows = await db.read(
            "api/list_organisations", **params, after_key=key[0] if key else None, after_id=key[1] if key else None,
            limit=first + 1,
        )

        def edge(r: dict[str, Any]) -> Edge[Organisation]:
            info.context.loaders.organisation.prime(r["org_id"], r)
            return Edge(cursor=encode_cursor("organisation", [r["sort_key"], r["org_id"]]), node=Organisation.from_row(r))

        async def count() -> int:
            return int((await db.read("api/count_organisations", **params))[0]["total"])

        return page(OrganisationConnection, rows, first, after, edge, count)

    @strawberry.field(description="The shortest evidence path between two accounts through shared identifiers "
                      "(at most 4 identifiers; hubs are not crossed); null when there is none.")
    async def connection(self, info: Info, a: strawberry.ID, b: strawberry.ID) -> EvidencePath | None:
        a_id, b_id = check_id(str(a), "a"), check_id(str(b), "b")
        if a_id == b_id:
            raise BadInput("Arguments 'a' and 'b' must name two different accounts.")
        ctx = info.context
        rows = await ctx.db.read(
            "api/find_connection", a=a_id, b=b_id,
            max_identifier_accounts=ctx.state.api.connection_max_identifier_accounts, rank=PATH_RANK,
        )
        if not rows:
            return None
        nodes, rels = rows[0]["nodes"], rows[0]["rels"]
        account_ids = [n["account_id"] for n in nodes[0::2]]
        ctx.touched.accounts.update(account_ids)
        steps = []
        for i in range(1, len(nodes), 2):
            n = nodes[i]
            steps.append(
                EvidenceStep(
                    via=IdentifierRef(
                        kind=IdentifierKind(KIND_OF_REL[rels[i - 1]]),
                        value=n["value"],
                        n_accounts=n.get("n_accounts"),
                        card_bin=n.get("bin"),
                        card_last4=n.get("last4"),
                    ),
                    from_id=nodes[i - 1]["account_id"],
                    to_id=nodes[i + 1]["account_id"],
                )
            )
        return EvidencePath(hops=len(steps), steps=steps, account_ids=account_ids)

    @strawberry.field(description="Attribution runs, newest first.")
    async def runs(
        self, info: Info, first: int = 20, after: str | None = None, status: RunStatus | None = None
    ) -> RunConnection:
        check_first(first)
        key = decode_cursor("run", after)
        if key is not None and not (isinstance(key, list) and len(key) == 2 and isinstance(key[0], int) and isinstance(key[1], str)):
            raise BadInput("Invalid cursor for 'after'.")
        db = info.context.db
        status_value = status.value if status else None
        rows = await db.read(
            "api/list_runs", status=status_value, after_key=key[0] if key else None,
            after_id=key[1] if key else None, limit=first + 1,
        )
        def edge(r: dict[str, Any]) -> RunEdge:
            info.context.loaders.run.prime(r["run_id"], r)
            return RunEdge(cursor=encode_cursor("run", [r["sort_key"], r["run_id"]]), node=AttributionRun.from_row(r))

        async def count() -> int:
            return int((await db.read("api/count_runs", status=status_value))[0]["total"])

        return page(RunConnection, rows, first, after, edge, count)

    @strawberry.field(description="One attribution run by id; null when there is none.")
    async def run(self, info: Info, id: strawberry.ID) -> AttributionRun | None:
        return await load_run(info, check_id(str(id), "id"))


@strawberry.type
class Mutation:
    @analyst_field("Name an operator. The label wins over bundle labels in every later run.")
    async def label_operator(self, info: Info, id: strawberry.ID, label: str) -> Operator:
        op_id = check_id(str(id), "id")
        label = label.strip()
        if not 1 <= len(label) <= MAX_LABEL_LENGTH or not label.isprintable():
            raise BadInput(f"Argument 'label' must be 1 to {MAX_LABEL_LENGTH} printable characters.")
        ctx = info.context
        ctx.touched.operators.add(op_id)
        rows = await ctx.audited_write(
            "labelOperator", "api/set_operator_label", {"operators": [op_id], "label": bounded_text(label, 64)},
            operator_id=op_id, label=label, by=ctx.principal.user,
        )
        if not rows:
            raise NotFound(f"Operator '{op_id}' does not exist.")
        ctx.loaders.forget_operator(op_id)
        op = await load_operator(info, op_id)
        assert op is not None
        return op

    @analyst_field("Confirm or reject an account's attribution to an operator; the next run honours it.")
    async def decide_attribution(
        self, info: Info, account_id: strawberry.ID, operator_id: strawberry.ID, decision: DecisionKind, reason: str
    ) -> AnalystDecision:
        a_id, o_id = check_id(str(account_id), "accountId"), check_id(str(operator_id), "operatorId")
        reason = check_reason(reason)
        ctx = info.context
        ctx.touched.accounts.add(a_id)
        ctx.touched.operators.add(o_id)
        rows = await ctx.audited_write(
            "decideAttribution", "api/create_decision",
            {"accounts": [a_id], "operators": [o_id], "decision": decision.value, "reason": bounded_text(reason, 512)},
            account_id=a_id, operator_id=o_id, decision=decision.value, by=ctx.principal.user, reason=reason,
        )
        if not rows:
            exists = (await ctx.db.read("api/read_entity_exists", account_id=a_id, operator_id=o_id))[0]
            if not exists["account"]:
                raise NotFound(f"Account '{a_id}' does not exist.")
            raise NotFound(f"Operator '{o_id}' does not exist.")
        return AnalystDecision.from_row(rows[0])

    @analyst_field("Confirm or reject that an organisation runs an operator; later runs honour the latest decision "
                   "(confirming an organisation no table lists creates it, unconfirmed, under the id given).")
    async def decide_organisation(
        self, info: Info, operator_id: strawberry.ID, organisation_id: strawberry.ID, decision: DecisionKind, reason: str
    ) -> OrganisationDecision:
        o_id, g_id = check_id(str(operator_id), "operatorId"), check_id(str(organisation_id), "organisationId")
        reason = check_reason(reason)
        ctx = info.context
        ctx.touched.operators.add(o_id)
        rows = await ctx.audited_write(
            "decideOrganisation", "api/create_organisation_decision",
            {"operators": [o_id], "organisations": [g_id], "decision": decision.value,
             "reason": bounded_text(reason, 512)},
            operator_id=o_id, org_id=g_id, decision=decision.value, by=ctx.principal.user, reason=reason,
        )
        if not rows:
            exists = (await ctx.db.read("api/read_organisation_decision_targets", operator_id=o_id, org_id=g_id))[0]
            if not exists["operator"]:
                raise NotFound(f"Operator '{o_id}' does not exist.")
            raise NotFound(f"Organisation '{g_id}' does not exist (only a confirmation can name a new one).")
        return OrganisationDecision.from_row(rows[0])

    @analyst_field("Start an attribution run in the background; returns its id at once.")
    async def start_attribution_run(self, info: Info) -> StartedRun:
        ctx = info.context
        run_id = ctx.state.runner.new_run_id()
        ctx.audit_intent("startAttributionRun", {"run_id": run_id})
        await ctx.state.runner.start(run_id)
        ctx.state.version.invalidate()
        return StartedRun(run_id=strawberry.ID(run_id))


def check_reason(reason: str) -> str:
    """An analyst decision's reason, stripped: 1 to MAX_REASON_LENGTH characters."""
    reason = reason.strip()
    if not 1 <= len(reason) <= MAX_REASON_LENGTH:
        raise BadInput(f"Argument 'reason' must be 1 to {MAX_REASON_LENGTH} characters.")
    return reason


def lookup_target(info: Info, identifier: IdentifierInput | None, handle: str | None) -> tuple[str, str]:
    """(kind, value) of an identifier lookup: a handle anyone was shown, or a raw value (analysts)."""
    if (identifier is None) == (handle is None):
        raise BadInput("Give exactly one of 'identifier' and 'handle'.")
    if handle is not None:
        found = info.context.state.handles.decode(handle)
        if found is None or found[0] not in KINDS:
            raise BadInput("Invalid identifier handle: pass the 'handle' of an identifier this server showed you.")
        return found
    assert identifier is not None
    kind, value = identifier.kind.value, identifier.value
    if not value or len(value) > MAX_VALUE_LENGTH:
        raise BadInput(f"Identifier value must be 1 to {MAX_VALUE_LENGTH} characters.")
    if looks_masked(kind, value):
        raise BadInput(
            f"'{bounded_text(value, 64)}' is a masked value, not an identifier: look it up by the handle shown "
            "beside it, accounts(handle: \"...\") (the 'handle' field of the identifier)."
        )
    role = info.context.role
    if not role.at_least(Role.ANALYST):
        raise Forbidden(
            f"Forbidden: looking accounts up by a raw identifier value requires the analyst role (you have "
            f"{role.value}); pivot from an identifier you were shown with accounts(handle: ...)."
        )
    return kind, value


def validation_rules(api: ApiSection, production: bool) -> list[type[ASTValidationRule]]:
    """Depth and alias limits (and, in production, no introspection) beside GraphQL's own rules.
    Built once per server, so documents validated with them can be cached."""
    rules: list[type[ASTValidationRule]] = [
        MaybeNullValidationRule,
        OneOfInputValidationRule,
        depth_validator(api.max_depth, None, None),
        alias_validator(api.max_aliases),
    ]
    if production:
        rules.append(NoSchemaIntrospectionCustomRule)
    return rules


def build_schema() -> strawberry.Schema:
    """The schema; the request pipeline (gateway.py) brings the limits. The SDL is the same everywhere."""
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        config=StrawberryConfig(scalar_map={Long: LONG_SCALAR}),
    )
