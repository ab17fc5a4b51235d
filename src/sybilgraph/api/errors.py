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
    "INTERNAL_MESSAGE",
    "ApiError",
    "AuditUnavailable",
    "BadInput",
    "Conflict",
    "DatabaseUnavailableError",
    "Forbidden",
    "NotFound",
    "QueryTimeout",
    "Unauthenticated",
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
