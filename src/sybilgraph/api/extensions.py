"""Schema extensions: the gate and the audit around every operation, and the request budget.

* ``AuditExtension`` runs first. It refuses an operation without a valid key before anything is
  parsed or validated (so validation messages cannot map the schema for strangers), and writes
  one audit record for every operation whatever happens: allowed, denied or failed. If the
  record cannot be written the response is replaced by an error: no data leaves unaudited.
* ``DeadlineExtension`` bounds execution (``query_timeout_s``): resolvers are cancelled and the
  Neo4j transactions get the remaining time as their server-side timeout.
* ``limit_rules`` builds the depth, alias and (in production) introspection rules once, so the
  validation cache sees the same rule classes on every request and can hit.

``error_code`` and ``is_expected`` classify errors for the audit log, for logging and for the
final masking in the HTTP layer (unexpected errors leave as ``Internal server error.``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

from graphql import (
    ASTValidationRule,
    FieldNode,
    GraphQLError,
    NoSchemaIntrospectionCustomRule,
    OperationDefinitionNode,
)
from strawberry.exceptions import MissingQueryError
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as alias_validator
from strawberry.extensions.query_depth_limiter import (
    create_validator as depth_validator,
)
from strawberry.schema.exceptions import (
    CannotGetOperationTypeError,
    InvalidOperationTypeError,
)

from sybilgraph.api.audit import redact_variables
from sybilgraph.settings.api import ApiSection
from sybilgraph.api.context import ApiContext
from sybilgraph.api.errors import (
    ApiError,
    AuditUnavailable,
    QueryTimeout,
    Unauthenticated,
)

__all__ = [
    "DENIED_CODES",
    "MAX_AUDITED_IDS",
    "AuditExtension",
    "DeadlineExtension",
    "error_code",
    "is_expected",
    "limit_rules",
    "schema_extensions",
]

log = logging.getLogger("sybilgraph.api")

DENIED_CODES = frozenset({"UNAUTHENTICATED", "FORBIDDEN"})
MAX_AUDITED_IDS = 1_000
INVALID_KEY_MESSAGE = "Invalid API key."


def _original(error: BaseException) -> BaseException | None:
    return error.original_error if isinstance(error, GraphQLError) else error


def is_expected(error: BaseException) -> bool:
    """Errors meant for clients: ours, and GraphQL syntax/validation errors (no original error)."""
    if isinstance(error, ApiError):
        return True
    if isinstance(error, GraphQLError):
        orig = error.original_error
        return orig is None or isinstance(orig, ApiError) or (isinstance(orig, GraphQLError) and is_expected(orig))
    return False


def error_code(error: BaseException) -> str:
    if isinstance(error, GraphQLError):
        code = (error.extensions or {}).get("code")
        if isinstance(code, str):
            return code
        orig = error.original_error
        if orig is None:
            return "GRAPHQL_PARSE_FAILED" if error.message.startswith("Syntax Error") else "GRAPHQL_VALIDATION_FAILED"
        if isinstance(orig, GraphQLError):
            return error_code(orig)
    if isinstance(error, (MissingQueryError, InvalidOperationTypeError, CannotGetOperationTypeError)):
        return "BAD_REQUEST"
    return "INTERNAL"


def limit_rules(api: ApiSection, production: bool) -> list[type[ASTValidationRule]]:
    rules: list[type[ASTValidationRule]] = [
        depth_validator(api.max_depth, None, None),
        alias_validator(api.max_aliases),
    ]
    if production:
        rules.append(NoSchemaIntrospectionCustomRule)
    return rules


def schema_extensions(api: ApiSection, production: bool) -> list[Callable[[], SchemaExtension]]:
    """The extension factories, in hook order (the audit gate first)."""
    rules = limit_rules(api, production)
    timeout = api.query_timeout_s
    return [
        AuditExtension,
        lambda: MaxTokensLimiter(max_token_count=api.max_tokens),
        lambda: AddValidationRules(rules),
        lambda: ParserCache(maxsize=512),
        lambda: ValidationCache(maxsize=512),
        lambda: DeadlineExtension(timeout),
    ]


class DeadlineExtension(SchemaExtension):
    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s

    async def on_execute(self) -> AsyncIterator[None]:  # type: ignore[override]
        ctx = self.execution_context.context
        loop = asyncio.get_running_loop()
        if isinstance(ctx, ApiContext):
            ctx.db.deadline = loop.time() + self.timeout_s
        try:
            async with asyncio.timeout(self.timeout_s):
                yield
        except TimeoutError:
            raise QueryTimeout(self.timeout_s) from None


class AuditExtension(SchemaExtension):
    async def on_operation(self) -> AsyncIterator[None]:  # type: ignore[override]
        ec = self.execution_context
        ctx = ec.context
        assert isinstance(ctx, ApiContext), "the API's context getter builds an ApiContext"
        started = time.perf_counter()
        failure: BaseException | None = None
        try:
            if ctx.principal is None:
                if ctx.response is not None:
                    ctx.response.status_code = 401
                    ctx.response.headers["WWW-Authenticate"] = 'Bearer realm="sybilgraph"'
                raise Unauthenticated(INVALID_KEY_MESSAGE) if ctx.auth_failure == "invalid" else Unauthenticated()
            yield
        except BaseException as e:
            failure = e
            raise
        finally:
            try:
                self._write(ctx, failure, started)
            except Exception:
                log.exception("audit record could not be written (request %s)", ctx.request_id)
                self._refuse()

    def _refuse(self) -> None:
        result = self.execution_context.result
        if result is not None:
            result.data = None
            result.errors = [AuditUnavailable()]

    def _errors(self, failure: BaseException | None) -> list[BaseException]:
        if failure is not None:
            return [failure]
        ec = self.execution_context
        if ec.result is not None and ec.result.errors:
            return list(ec.result.errors)
        return list(ec.pre_execution_errors or [])

    def _write(self, ctx: ApiContext, failure: BaseException | None, started: float) -> None:
        ec = self.execution_context
        document = ec.graphql_document
        operation = _operation(document, ec.operation_name)
        errors = self._errors(failure)
        codes = [error_code(e) for e in errors]
        if any(c in DENIED_CODES for c in codes):
            outcome = "denied"
        elif errors:
            outcome = "failed"
        else:
            outcome = "allowed"
        accounts = sorted(ctx.touched.accounts)
        operators = sorted(ctx.touched.operators)
        record: dict[str, Any] = {
            "v": 1,
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "request_id": ctx.request_id,
            "user": ctx.principal.user if ctx.principal else None,
            "role": ctx.principal.role.value if ctx.principal else None,
            "key_id": ctx.principal.key_id if ctx.principal else None,
            "origin": ctx.origin,
            "operation": ec.operation_name or (operation.name.value if operation and operation.name else None),
            "operation_type": operation.operation.value if operation else None,
            "fields": _root_fields(operation),
            "query_sha256": hashlib.sha256(ec.query.encode("utf-8")).hexdigest() if ec.query else None,
            "variables": redact_variables(ec.schema._schema, document, ec.operation_name, ec.variables),
            "accounts": accounts[:MAX_AUDITED_IDS],
            "operators": operators[:MAX_AUDITED_IDS],
            "outcome": outcome,
            "errors": [
                {"code": c, **({"message": e.message} if isinstance(e, ApiError) else {})}
                for c, e in zip(codes, errors)
            ],
            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            "db_statements": len(ctx.db.statements),
        }
        if len(accounts) > MAX_AUDITED_IDS or len(operators) > MAX_AUDITED_IDS:
            record["truncated"] = {"accounts": len(accounts), "operators": len(operators)}
        ctx.state.audit.append(record)


def _operation(document: Any, name: str | None) -> OperationDefinitionNode | None:
    if document is None:
        return None
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return ops[0] if len(ops) == 1 else None
    return next((o for o in ops if o.name and o.name.value == name), None)


def _root_fields(operation: OperationDefinitionNode | None) -> list[str]:
    if operation is None:
        return []
    return sorted({s.name.value for s in operation.selection_set.selections if isinstance(s, FieldNode)})
