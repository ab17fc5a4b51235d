"""POST /graphql: one request from bytes to bytes, every check before the work it guards.

1. The body is read (bounded by ``HttpGuard``), the key looked up, the client's address found
   behind the trusted proxies (``origin.py``).
2. The key's token bucket (or, without a key, the address's) is charged: empty, ``429`` with
   ``Retry-After``. No key or a wrong one: ``401``, before anything is parsed, so strangers learn
   nothing about the schema.
3. The document is found by text or trusted hash, parsed and validated once per document
   (``documents.py``); the operation picked; identifier lookups charged to the lookup bucket;
   the static cost (``cost.py``) compared with the role's budget. Each refusal has an exact
   message.
4. A cacheable query is answered from the response cache (``cache.py``) when the data version,
   role, document and variables match; otherwise it runs on graphql-core under the deadline,
   which covers execution and serialization alike, and its answer is stored.
5. One audit record is written for every request, allowed, denied or failed, hit or miss, before
   the answer leaves; a record that cannot be written replaces the answer with
   ``AUDIT_UNAVAILABLE``.

The schema, its types and resolvers are Strawberry's; only the request pipeline is ours, since
it has to reach the cache, the limits and the audit log that Strawberry's router does not know.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import ExecutionResult, GraphQLError, execute
from strawberry.execution import optimized_is_awaitable
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from sybilgraph.api.audit import bounded_text, utc_now
from sybilgraph.api.auth import Principal
from sybilgraph.api.cache import CacheEntry, cache_key
from sybilgraph.settings.api import MAX_PAGE_SIZE, Role
from sybilgraph.api.context import ApiContext, AppState
from sybilgraph.api.cost import estimate_cost
from sybilgraph.api.documents import Document, OperationInfo, parse_document_id, redact_variables
from sybilgraph.api.errors import (
    DENIED_CODES,
    INTERNAL_MESSAGE,
    ApiError,
    AuditUnavailable,
    BadRequest,
    CostLimitExceeded,
    Forbidden,
    QueryTimeout,
    RateLimited,
    Unauthenticated,
    UnknownDocument,
    error_code,
    is_expected,
)
from sybilgraph.api.ratelimit import retry_after_header

__all__ = ["Answer", "Gateway"]

log = logging.getLogger("sybilgraph.api")

MAX_AUDITED_IDS = 1_000
INVALID_KEY_MESSAGE = "Invalid API key."
CACHE_HEADER = "x-sybilgraph-cache"


@dataclass
class Answer:
    status: int
    body: bytes
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)


@dataclass
class Call:
    """One request as the pipeline learns about it (everything the audit record needs)."""

    request_id: str
    started: float  # time.perf_counter()
    deadline: float  # loop.time()
    origin: str
    principal: Principal | None
    auth_failure: str | None
    document: Document | None = None
    operation: OperationInfo | None = None
    operation_name: str | None = None
    variables: dict[str, Any] | None = None
    cache: str | None = None  # hit | coalesced | miss | bypassed
    cost: int | None = None
    touched_accounts: tuple[str, ...] = ()
    touched_operators: tuple[str, ...] = ()
    lookups: tuple[dict[str, str], ...] = ()
    statements: int = 0
    kind: str | None = None  # "rest" for non-GraphQL endpoints


class Gateway:
    def __init__(self, state: AppState, schema: Any) -> None:
        self.state = state
        self.schema = schema
        self.graphql_schema = schema._schema
        api = state.api
        self.timeout_s = api.query_timeout_s
        self.expose_cache = api.cache_status_header

    # -- the pipeline -----------------------------------------------------------------------------
    async def handle(self, body: bytes, headers: Mapping[str, str], peer: str) -> Answer:
        loop = asyncio.get_running_loop()
        state = self.state
        principal, failure = state.authenticator.authenticate(headers)
        call = Call(
            request_id=secrets.token_hex(8), started=time.perf_counter(),
            deadline=loop.time() + self.timeout_s,
            origin=state.proxies.client(peer, headers.get("x-forwarded-for")),
            principal=principal, auth_failure=failure,
        )
        try:
            refusal = self._rate_limit(call)
            if refusal is not None:
                return refusal
            try:
                request: dict[str, Any] | None = _request_json(body)
                bad_request: ApiError | None = None
            except ApiError as e:
                request, bad_request = None, e
            if principal is None:
                name = request.get("operationName") if request else None
                call.operation_name = name if isinstance(name, str) else None
                return self._unauthenticated(call)
            try:
                if bad_request is not None:
                    raise bad_request
                assert request is not None
                self._document(call, request)
            except ApiError as e:
                return self._finish(call, None, [e], status=400 if isinstance(e, BadRequest) else 200)
            assert call.document is not None
            if not call.document.valid:
                return self._finish(call, None, [_coded(e) for e in call.document.errors])
            if call.operation is None:
                name = call.operation_name
                message = f"Unknown operation named '{bounded_text(name, 128)}'." if name else "Must provide operation name if query contains multiple operations."
                return self._finish(call, None, [BadRequest(message)], status=400)
            refusal = self._lookup_limit(call)
            if refusal is not None:
                return refusal
            return await self._answer(call)
        except Exception:  # noqa: BLE001 - a bug must still be audited and masked
            log.exception("request %s failed", call.request_id)
            return self._finish(call, None, [GraphQLError(INTERNAL_MESSAGE, extensions={"code": "INTERNAL"})])

    def _rate_limit(self, call: Call) -> Answer | None:
        limits = self.state.api.rate_limits
        if call.principal is not None:
            limit, name, what = limits[call.principal.role.value], f"key:{call.principal.key_id}", "this API key"
        else:
            limit, name, what = self.state.api.unauthenticated_rate_limit, f"ip:{call.origin}", "unauthenticated requests from this address"
        wait = self.state.limiter.take(name, limit.per_second, limit.burst)
        return self._too_many(call, what, wait) if wait > 0 else None

    def _too_many(self, call: Call, what: str, wait: float) -> Answer:
        retry = retry_after_header(wait)
        return self._finish(call, None, [RateLimited(what, retry)], status=429, headers=[(b"retry-after", retry.encode())])

    def _unauthenticated(self, call: Call) -> Answer:
        error = Unauthenticated(INVALID_KEY_MESSAGE) if call.auth_failure == "invalid" else Unauthenticated()
        return self._finish(call, None, [error], status=401, headers=[(b"www-authenticate", b'Bearer realm="sybilgraph"')])

    def _document(self, call: Call, request: dict[str, Any]) -> None:
        documents = self.state.documents
        query, document_id = request.get("query"), _document_id(request)
        variables = request.get("variables")
        operation_name = request.get("operationName")
        if variables is not None and not isinstance(variables, dict):
            raise BadRequest("'variables' must be a JSON object.")
        if operation_name is not None and not isinstance(operation_name, str):
            raise BadRequest("'operationName' must be a string.")
        call.variables, call.operation_name = variables, operation_name
        if isinstance(query, str) and query:
            doc = documents.by_text(query)
        elif document_id is not None:
            sha = parse_document_id(document_id)
            doc = documents.by_hash(sha) if sha else None
            if doc is None:
                raise UnknownDocument(f"No trusted document has the id '{bounded_text(document_id, 80)}'; send the query text.")
        else:
            raise BadRequest("No GraphQL query found in the request: send 'query' (or a trusted 'documentId').")
        if self.state.api.trusted_documents_only and not doc.trusted:
            call.document = doc
            raise UnknownDocument("This server runs trusted documents only; this document is not one of them.")
        call.document = doc
        call.operation = doc.operation(self.graphql_schema, operation_name)

    def _lookup_limit(self, call: Call) -> Answer | None:
        """Identifier lookups take tokens from their own, smaller bucket (each alias one)."""
        assert call.principal is not None and call.operation is not None
        if not call.operation.lookups:
            return None
        limit = self.state.api.lookup_rate_limits[call.principal.role.value]
        wait = self.state.limiter.take(f"lookup:{call.principal.key_id}", limit.per_second, limit.burst,
                                       call.operation.lookups)
        return self._too_many(call, "identifier lookups with this API key", wait) if wait > 0 else None

    def _over_budget(self, call: Call) -> CostLimitExceeded | None:
        """The static cost estimate against the role's budget (before any execution)."""
        assert call.principal is not None and call.operation is not None and call.document is not None
        assert call.document.ast is not None
        role = call.principal.role.value
        call.cost = estimate_cost(self.graphql_schema, call.document.ast, call.operation.node, call.variables, MAX_PAGE_SIZE)
        budget = self.state.api.cost_budgets[role]
        return CostLimitExceeded(call.cost, budget, role) if call.cost > budget else None

    async def _answer(self, call: Call) -> Answer:
        """Cached when the operation may be, else executed. A cached answer was computed for the
        same role, document and variables, so it passed the same cost check."""
        state = self.state
        assert call.principal is not None and call.operation is not None and call.document is not None
        cache = state.cache
        if not (call.operation.cacheable and cache.enabled):
            return self._respond(call, await self._checked_execute(call))
        version = await state.version.current()
        if version is None:
            cache.stats.bypassed += 1
            call.cache = "bypassed"
            return self._respond(call, await self._checked_execute(call))
        key = cache_key(version, call.principal.role.value, call.document.sha256, call.operation.name, call.variables)

        async def compute() -> tuple[tuple[bytes, list[BaseException]], CacheEntry | None]:
            body, errors = await self._checked_execute(call)
            entry = None
            if not errors:
                entry = CacheEntry(body, call.touched_accounts, call.touched_operators, call.lookups, cache.clock(),
                                   call.cost)
            return (body, errors), entry

        outcome, computed, entry = await cache.get_or_compute(key, compute)
        call.cache = outcome
        if computed is not None:
            return self._respond(call, computed)
        assert entry is not None
        call.touched_accounts, call.touched_operators, call.lookups = entry.accounts, entry.operators, entry.lookups
        call.cost = entry.cost
        return self._respond(call, (entry.body, []))

    async def _checked_execute(self, call: Call) -> tuple[bytes, list[BaseException]]:
        refusal = self._over_budget(call)
        if refusal is not None:
            return self._serialize(ExecutionResult(None, [refusal]))
        return await self._execute(call)

    async def _execute(self, call: Call) -> tuple[bytes, list[BaseException]]:
        """Run the operation under the deadline; (serialized body, errors for the audit log)."""
        assert call.principal is not None and call.document is not None and call.document.ast is not None
        ctx = ApiContext(self.state, call.principal, call.origin, call.request_id, call.deadline)
        try:
            async with asyncio.timeout_at(call.deadline):
                result = execute(
                    self.graphql_schema, call.document.ast, context_value=ctx, variable_values=call.variables,
                    operation_name=call.operation_name, is_awaitable=optimized_is_awaitable,
                    executor_class=StrawberryGraphQLCoreExecutionContext,
                )
                if optimized_is_awaitable(result):
                    result = await result  # type: ignore[misc]
                body, errors = self._serialize(result)  # type: ignore[arg-type]
                await asyncio.sleep(0)  # a deadline that passed while serializing fires here
        except TimeoutError:
            body, errors = self._serialize(ExecutionResult(None, [QueryTimeout(self.timeout_s)]))
        finally:
            call.statements = len(ctx.db.statements)
            call.touched_accounts = tuple(sorted(ctx.touched.accounts))
            call.touched_operators = tuple(sorted(ctx.touched.operators))
            call.lookups = tuple(ctx.lookups)
        return body, errors

    def _serialize(self, result: ExecutionResult) -> tuple[bytes, list[BaseException]]:
        errors = list(result.errors or [])
        out: dict[str, Any] = {"data": result.data}
        if errors:
            for e in errors:
                if not is_expected(e):
                    log.error("unexpected error: %s", e.message, exc_info=e.original_error or e)
            out["errors"] = [_client_error(e) for e in errors]
        elif result.data is None:
            out["data"] = None
        return json.dumps(out, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "backslashreplace"), errors

    # -- other endpoints (reports): the same gate and audit -----------------------------------------
    async def rest(
        self,
        headers: Mapping[str, str],
        peer: str,
        name: str,
        min_role: Role,
        produce: Callable[[ApiContext], Awaitable[tuple[int, bytes, str]]],
        timeout_s: float | None = None,
    ) -> Answer:
        """Serve a non-GraphQL endpoint (``name``, e.g. ``report:operator``) through the same
        authentication, rate limit, role check, deadline and audit record as GraphQL.
        ``produce(ctx)`` returns (status, body, content type); what it reads goes through
        ``ctx.loaders`` (or is added to ``ctx.touched``) so the record names whose data left.
        ``timeout_s`` replaces the query deadline for endpoints that do more than a query."""
        state = self.state
        loop = asyncio.get_running_loop()
        timeout_s = timeout_s or self.timeout_s
        principal, failure = state.authenticator.authenticate(headers)
        call = Call(request_id=secrets.token_hex(8), started=time.perf_counter(), deadline=loop.time() + timeout_s,
                    origin=state.proxies.client(peer, headers.get("x-forwarded-for")), principal=principal,
                    auth_failure=failure, operation_name=name, kind="rest")
        refusal = self._rate_limit(call) or (self._unauthenticated(call) if principal is None else None)
        if refusal is not None:
            return _typed(refusal, "application/json")
        assert principal is not None
        if not principal.role.at_least(min_role):
            error = Forbidden(f"Forbidden: '{name}' requires the {min_role.value} role (you have {principal.role.value}).")
            return _typed(self._finish(call, None, [error], status=403), "application/json")
        ctx = ApiContext(state, principal, call.origin, call.request_id, call.deadline)
        errors: list[BaseException] = []
        try:
            async with asyncio.timeout_at(call.deadline):
                status, body, content_type = await produce(ctx)
        except TimeoutError:
            errors, status = [QueryTimeout(timeout_s)], 504
        except ApiError as e:
            errors, status = [e], 404 if e.code == "NOT_FOUND" else 400
        except Exception as e:  # noqa: BLE001 - logged here, masked for the client
            log.exception("request %s (%s) failed", call.request_id, name)
            errors, status = [e], 500
        finally:
            call.statements = len(ctx.db.statements)
            call.touched_accounts = tuple(sorted(ctx.touched.accounts))
            call.touched_operators = tuple(sorted(ctx.touched.operators))
        if errors:
            return _typed(self._finish(call, None, errors, status=status), "application/json")
        answer = self._finish(call, None, [], status=status, body=body)
        return _typed(answer, content_type if answer.body is body else "application/json")

    # -- answers and their audit records ----------------------------------------------------------
    def _respond(self, call: Call, computed: tuple[bytes, list[BaseException]]) -> Answer:
        body, errors = computed
        headers = [(CACHE_HEADER.encode(), call.cache.encode())] if self.expose_cache and call.cache else []
        return self._finish(call, None, errors, body=body, headers=headers)

    def _finish(
        self,
        call: Call,
        data: Any,
        errors: list[BaseException],
        *,
        status: int = 200,
        headers: list[tuple[bytes, bytes]] | None = None,
        body: bytes | None = None,
    ) -> Answer:
        """Audit the request, then answer it (or refuse it when the record cannot be written)."""
        try:
            self.state.audit.append(self._record(call, errors))
        except Exception:
            log.exception("audit record could not be written (request %s)", call.request_id)
            refused = json.dumps({"data": None, "errors": [_client_error(AuditUnavailable())]}).encode()
            return Answer(200, refused)
        if body is None:
            payload: dict[str, Any] = {"data": data}
            if errors:
                payload["errors"] = [_client_error(e) for e in errors]
            body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "backslashreplace")
        return Answer(status, body, headers or [])

    def _record(self, call: Call, errors: list[BaseException]) -> dict[str, Any]:
        codes = [error_code(e) for e in errors]
        outcome = "denied" if any(c in DENIED_CODES for c in codes) else "failed" if errors else "allowed"
        op, doc, p = call.operation, call.document, call.principal
        accounts, operators = call.touched_accounts, call.touched_operators
        record: dict[str, Any] = {
            "event": "operation",
            "ts": utc_now(),
            "request_id": call.request_id,
            "user": p.user if p else None,
            "role": p.role.value if p else None,
            "key_id": p.key_id if p else None,
            "origin": call.origin,
            "operation": bounded_text(op.name if op and op.name else call.operation_name or "", 128) or None,
            "operation_type": op.type if op else call.kind,
            "fields": [bounded_text(f, 64) for f in op.root_fields[:32]] if op else [],
            "query_sha256": doc.sha256 if doc else None,
            "trusted": doc.trusted if doc else None,
            "variables": redact_variables(op, call.variables) if p else ({"[unauthenticated]": len(call.variables)} if call.variables else {}),
            "accounts": list(accounts[:MAX_AUDITED_IDS]),
            "operators": list(operators[:MAX_AUDITED_IDS]),
            "outcome": outcome,
            "errors": [
                {"code": c, **({"message": bounded_text(e.message, 512)} if isinstance(e, ApiError) else {})}
                for c, e in list(zip(codes, errors))[:20]
            ],
            "duration_ms": round((time.perf_counter() - call.started) * 1000, 3),
            "db_statements": call.statements,
        }
        if call.lookups:
            record["lookups"] = list(call.lookups[:100])
        if call.cache:
            record["cache"] = call.cache
        if call.cost is not None:
            record["cost"] = call.cost
        if len(accounts) > MAX_AUDITED_IDS or len(operators) > MAX_AUDITED_IDS:
            record["truncated"] = {"accounts": len(accounts), "operators": len(operators)}
        return record


def _typed(answer: Answer, content_type: str) -> Answer:
    answer.headers.append((b"content-type", content_type.encode()))
    return answer


def _request_json(body: bytes) -> dict[str, Any]:
    try:
        request = json.loads(body)
    except ValueError:
        raise BadRequest("The request body is not valid JSON.") from None
    if not isinstance(request, dict):
        raise BadRequest("The request body must be a JSON object {query, variables, operationName}.")
    return request


def _document_id(request: dict[str, Any]) -> str | None:
    """``documentId`` (GraphQL over HTTP) or Apollo's ``extensions.persistedQuery.sha256Hash``."""
    document_id = request.get("documentId")
    if isinstance(document_id, str):
        return document_id
    extensions = request.get("extensions")
    if isinstance(extensions, dict):
        persisted = extensions.get("persistedQuery")
        if isinstance(persisted, dict) and isinstance(persisted.get("sha256Hash"), str):
            return str(persisted["sha256Hash"])
    return None


def _coded(error: GraphQLError) -> GraphQLError:
    """Every error carries extensions.code (GraphQL's own syntax/validation errors included)."""
    if not (error.extensions or {}).get("code"):
        error.extensions = {**(error.extensions or {}), "code": error_code(error)}
    return error


def _client_error(error: BaseException) -> dict[str, Any]:
    """The error as the client sees it: ours and GraphQL's own as they are, anything else masked."""
    if isinstance(error, GraphQLError) and is_expected(error):
        formatted = _coded(error).formatted
        if isinstance(error.original_error, ApiError):  # keep the code of our error raised in a resolver
            formatted["extensions"] = {**(error.original_error.extensions or {}), **(formatted.get("extensions") or {})}
        return dict(formatted)
    nodes_error = error if isinstance(error, GraphQLError) else None
    masked = GraphQLError(
        INTERNAL_MESSAGE,
        nodes=nodes_error.nodes if nodes_error else None,
        path=nodes_error.path if nodes_error else None,
        extensions={"code": "INTERNAL"},
    )
    if nodes_error is not None and nodes_error.locations:
        masked.locations = nodes_error.locations
    return dict(masked.formatted)
