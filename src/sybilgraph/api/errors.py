"""The errors the API shows its clients: one class per ``extensions.code``, each message exact.

Clients (and tests) match on the code; people read the message. Anything that is not one of
these (or a GraphQL syntax/validation error) is unexpected and is masked as
``Internal server error`` before it leaves the process; the log keeps the real one.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError

__all__ = [
    "DB_UNAVAILABLE_MESSAGE",
    "DENIED_CODES",
    "INTERNAL_MESSAGE",
    "ApiError",
    "AuditUnavailable",
    "BadInput",
    "BadRequest",
    "Conflict",
    "CostLimitExceeded",
    "DatabaseUnavailableError",
    "Forbidden",
    "NotFound",
    "QueryTimeout",
    "RateLimited",
    "Unauthenticated",
    "UnknownDocument",
    "error_code",
    "is_expected",
]

INTERNAL_MESSAGE = "Internal server error."
DB_UNAVAILABLE_MESSAGE = "The graph database is unavailable; try again shortly."


class ApiError(GraphQLError):
    """An error meant for the client. ``code`` goes to ``extensions.code``."""

    code = "INTERNAL"

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message, extensions={"code": self.code, **extensions})


class Unauthenticated(ApiError):
    code = "UNAUTHENTICATED"

    def __init__(self, message: str = "Authentication required: send an API key in 'X-API-Key' or 'Authorization: Bearer'.") -> None:
        super().__init__(message)


class Forbidden(ApiError):
    code = "FORBIDDEN"


class BadInput(ApiError):
    code = "BAD_USER_INPUT"


class NotFound(ApiError):
    code = "NOT_FOUND"


class Conflict(ApiError):
    code = "CONFLICT"


class DatabaseUnavailableError(ApiError):
    code = "DATABASE_UNAVAILABLE"

    def __init__(self) -> None:
        super().__init__(DB_UNAVAILABLE_MESSAGE)


class QueryTimeout(ApiError):
    code = "TIMEOUT"

    def __init__(self, seconds: float) -> None:
        super().__init__(f"Query timed out after {seconds:g} s.")


class AuditUnavailable(ApiError):
    code = "AUDIT_UNAVAILABLE"

    def __init__(self) -> None:
        super().__init__("The audit log cannot be written; the request was refused.")


class BadRequest(ApiError):
    """The HTTP request is not a GraphQL request (no query, not JSON, unknown operation)."""

    code = "BAD_REQUEST"


class UnknownDocument(ApiError):
    code = "PERSISTED_QUERY_NOT_FOUND"


class RateLimited(ApiError):
    code = "RATE_LIMITED"

    def __init__(self, what: str, retry_after: str) -> None:
        super().__init__(f"Rate limit exceeded for {what}; retry after {retry_after} s.")


class CostLimitExceeded(ApiError):
    code = "COST_LIMIT_EXCEEDED"

    def __init__(self, cost: int, budget: int, role: str) -> None:
        super().__init__(
            f"Query too expensive: its estimated cost is {cost}, over the {role} budget of {budget} "
            "(each field counts once per object returned; page sizes multiply down the query)."
        )


# Outcomes of the audit log: these codes make an operation "denied" rather than "failed".
DENIED_CODES = frozenset({"UNAUTHENTICATED", "FORBIDDEN", "RATE_LIMITED", "COST_LIMIT_EXCEEDED", "PERSISTED_QUERY_NOT_FOUND"})


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
    return "INTERNAL"
